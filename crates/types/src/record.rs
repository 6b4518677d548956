//! Enterprise records as the documented API carries them, and the rules that admit them.
//!
//! Six endpoints deposit four shapes of record on two channels:
//!
//! | endpoint | record | fields |
//! |---|---|---|
//! | `/voice/add`, `/sms/add` | [`Record::Consent`] | `phone`, `deposit_hash`, `sign_time` |
//! | `/voice/sendAddChain` | [`Record::Call`] | `phone`, `from_num`, `start_time`, `end_time`, `deposit_hash` |
//! | `/sms/sendAddChain` | [`Record::Message`] | `phone`, `channel_num`, `send_time`, `deposit_hash` |
//! | `/voice/cancel`, `/sms/cancel` | [`Record::Withdraw`] | `phone` (and the call's `timestamp` as `at`) |
//!
//! Keys are matched after trimming white space (the original document prints `"sign_time "`),
//! unknown keys are ignored, and a time may be a 10-digit integer or a string of 10 digits.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Seconds a record's time may lie ahead of the server clock.
pub const MAX_FUTURE_SECS: u64 = 86_400;

/// The two communication channels an enterprise can file for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Voice,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "voice" => Some(Channel::Voice),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an endpoint deposits, independent of channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Consent granted (`/add`).
    Consent,
    /// A call placed or an SMS sent (`/sendAddChain`).
    Communication,
    /// Consent withdrawn (`/cancel`).
    Withdraw,
}

/// One of the six documented endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub channel: Channel,
    pub action: Action,
}

impl Endpoint {
    /// All six, in the order of the API document.
    pub const ALL: [Endpoint; 6] = [
        Endpoint { channel: Channel::Voice, action: Action::Consent },
        Endpoint { channel: Channel::Voice, action: Action::Communication },
        Endpoint { channel: Channel::Voice, action: Action::Withdraw },
        Endpoint { channel: Channel::Sms, action: Action::Consent },
        Endpoint { channel: Channel::Sms, action: Action::Communication },
        Endpoint { channel: Channel::Sms, action: Action::Withdraw },
    ];

    /// The URL path, as in the original document.
    pub fn path(self) -> &'static str {
        match (self.channel, self.action) {
            (Channel::Voice, Action::Consent) => "/voice/add",
            (Channel::Voice, Action::Communication) => "/voice/sendAddChain",
            (Channel::Voice, Action::Withdraw) => "/voice/cancel",
            (Channel::Sms, Action::Consent) => "/sms/add",
            (Channel::Sms, Action::Communication) => "/sms/sendAddChain",
            (Channel::Sms, Action::Withdraw) => "/sms/cancel",
        }
    }

    /// Records allowed in one call.
    pub fn max_records(self) -> usize {
        match self.action {
            Action::Communication => 500,
            Action::Consent | Action::Withdraw => 1000,
        }
    }

    /// The transaction kind this endpoint's records become.
    pub fn kind(self) -> &'static str {
        match (self.channel, self.action) {
            (Channel::Voice, Action::Consent) => "voice.consent",
            (Channel::Voice, Action::Communication) => "voice.call",
            (Channel::Voice, Action::Withdraw) => "voice.withdraw",
            (Channel::Sms, Action::Consent) => "sms.consent",
            (Channel::Sms, Action::Communication) => "sms.message",
            (Channel::Sms, Action::Withdraw) => "sms.withdraw",
        }
    }

    /// The endpoint whose records have this transaction kind.
    pub fn from_kind(kind: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.kind() == kind)
    }
}

/// A validated record. Field values are stored exactly as the rules below normalize them:
/// `phone` upper-case, everything else as sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// A subscriber agreed to be called or texted on `channel`.
    Consent { channel: Channel, phone: String, deposit_hash: String, sign_time: u64 },
    /// One call placed.
    Call { phone: String, from_num: String, start_time: u64, end_time: u64, deposit_hash: String },
    /// One SMS sent.
    Message { phone: String, channel_num: String, send_time: u64, deposit_hash: String },
    /// A subscriber withdrew consent on `channel`; `at` is the depositing call's timestamp.
    Withdraw { channel: Channel, phone: String, at: u64 },
}

impl Record {
    pub fn channel(&self) -> Channel {
        match self {
            Record::Consent { channel, .. } | Record::Withdraw { channel, .. } => *channel,
            Record::Call { .. } => Channel::Voice,
            Record::Message { .. } => Channel::Sms,
        }
    }

    pub fn endpoint(&self) -> Endpoint {
        let action = match self {
            Record::Consent { .. } => Action::Consent,
            Record::Call { .. } | Record::Message { .. } => Action::Communication,
            Record::Withdraw { .. } => Action::Withdraw,
        };
        Endpoint { channel: self.channel(), action }
    }

    pub fn kind(&self) -> &'static str {
        self.endpoint().kind()
    }

    /// The subscriber's MD5 phone hash, upper-case hex.
    pub fn phone(&self) -> &str {
        match self {
            Record::Consent { phone, .. }
            | Record::Call { phone, .. }
            | Record::Message { phone, .. }
            | Record::Withdraw { phone, .. } => phone,
        }
    }

    pub fn deposit_hash(&self) -> Option<&str> {
        match self {
            Record::Consent { deposit_hash, .. }
            | Record::Call { deposit_hash, .. }
            | Record::Message { deposit_hash, .. } => Some(deposit_hash),
            Record::Withdraw { .. } => None,
        }
    }

    /// The moment the record speaks of: signing, call start, sending or withdrawal.
    pub fn time(&self) -> u64 {
        match self {
            Record::Consent { sign_time, .. } => *sign_time,
            Record::Call { start_time, .. } => *start_time,
            Record::Message { send_time, .. } => *send_time,
            Record::Withdraw { at, .. } => *at,
        }
    }

    /// Validates record `index` of a call to `endpoint`. `call_timestamp` is the envelope's
    /// `timestamp` (a withdrawal's time) and `now` the server clock, both Unix seconds.
    pub fn from_json(
        endpoint: Endpoint,
        index: usize,
        value: &Value,
        call_timestamp: u64,
        now: u64,
    ) -> Result<Record, RecordError> {
        let Value::Object(raw) = value else {
            return Err(RecordError::new(index, None, "expected an object"));
        };
        let fields = Fields::trimmed(raw, index)?;
        let latest = now + MAX_FUTURE_SECS;
        let record = match endpoint.action {
            Action::Consent => Record::Consent {
                channel: endpoint.channel,
                phone: fields.phone("phone")?,
                deposit_hash: fields.deposit_hash("deposit_hash")?,
                sign_time: fields.time("sign_time", latest)?,
            },
            Action::Communication if endpoint.channel == Channel::Voice => {
                let phone = fields.phone("phone")?;
                let from_num = fields.number("from_num", true)?;
                let start_time = fields.time("start_time", latest)?;
                let end_time = fields.time("end_time", latest)?;
                if end_time < start_time {
                    return Err(fields.error("end_time", "must not be before start_time"));
                }
                let deposit_hash = fields.deposit_hash("deposit_hash")?;
                Record::Call { phone, from_num, start_time, end_time, deposit_hash }
            }
            Action::Communication => Record::Message {
                phone: fields.phone("phone")?,
                channel_num: fields.number("channel_num", false)?,
                send_time: fields.time("send_time", latest)?,
                deposit_hash: fields.deposit_hash("deposit_hash")?,
            },
            Action::Withdraw => Record::Withdraw {
                channel: endpoint.channel,
                phone: fields.phone("phone")?,
                at: call_timestamp,
            },
        };
        Ok(record)
    }
}

/// The first bad record of a call and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("list[{index}]{}: {reason}", field.as_ref().map(|f| format!(".{f}")).unwrap_or_default())]
pub struct RecordError {
    /// Position in `list`.
    pub index: usize,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// What the rule expects.
    pub reason: String,
}

impl RecordError {
    fn new(index: usize, field: Option<&str>, reason: impl Into<String>) -> Self {
        RecordError { index, field: field.map(str::to_owned), reason: reason.into() }
    }
}

/// A record's members keyed by their trimmed names.
struct Fields<'a> {
    index: usize,
    map: Vec<(&'a str, &'a Value)>,
}

impl<'a> Fields<'a> {
    fn trimmed(raw: &'a Map<String, Value>, index: usize) -> Result<Self, RecordError> {
        let mut map: Vec<(&str, &Value)> = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            let key = k.trim();
            if map.iter().any(|(seen, _)| *seen == key) {
                return Err(RecordError::new(index, Some(key), "given twice"));
            }
            map.push((key, v));
        }
        Ok(Fields { index, map })
    }

    fn error(&self, field: &str, reason: &str) -> RecordError {
        RecordError::new(self.index, Some(field), reason)
    }

    fn get(&self, field: &str) -> Result<&'a Value, RecordError> {
        self.map
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| *v)
            .ok_or_else(|| self.error(field, "missing"))
    }

    fn string(&self, field: &str, expected: &str) -> Result<&'a str, RecordError> {
        match self.get(field)? {
            Value::String(s) => Ok(s),
            _ => Err(self.error(field, expected)),
        }
    }

    fn phone(&self, field: &str) -> Result<String, RecordError> {
        const RULE: &str = "expected the MD5 of the phone number, 32 hex digits";
        let s = self.string(field, RULE)?;
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error(field, RULE));
        }
        Ok(s.to_ascii_uppercase())
    }

    fn deposit_hash(&self, field: &str) -> Result<String, RecordError> {
        const RULE: &str = "expected 1 to 64 letters or digits";
        let s = self.string(field, RULE)?;
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(self.error(field, RULE));
        }
        Ok(s.to_owned())
    }

    fn number(&self, field: &str, plus_allowed: bool) -> Result<String, RecordError> {
        let rule = if plus_allowed {
            "expected 3 to 21 decimal digits, optionally after a +"
        } else {
            "expected 3 to 21 decimal digits"
        };
        let s = self.string(field, rule)?;
        let digits = match s.strip_prefix('+') {
            Some(rest) if plus_allowed => rest,
            _ => s,
        };
        if !(3..=21).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(field, rule));
        }
        Ok(s.to_owned())
    }

    fn time(&self, field: &str, latest: u64) -> Result<u64, RecordError> {
        let t = parse_unix_seconds(self.get(field)?)
            .ok_or_else(|| self.error(field, "expected 10-digit Unix seconds"))?;
        if t > latest {
            return Err(self.error(field, "more than one day ahead of the server clock"));
        }
        Ok(t)
    }
}

/// A 10-digit Unix time given as a JSON integer or as a string of 10 digits.
pub fn parse_unix_seconds(v: &Value) -> Option<u64> {
    const RANGE: std::ops::RangeInclusive<u64> = 1_000_000_000..=9_999_999_999;
    match v {
        Value::Number(n) => n.as_u64().filter(|t| RANGE.contains(t)),
        // The same range as the integer form: "0604339389" is not a 10-digit time.
        Value::String(s) if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok().filter(|t| RANGE.contains(t))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_700_000_000;
    const PHONE: &str = "c6aaa43716949506d38cf6a1baa2f576";

    fn endpoint(path: &str) -> Endpoint {
        Endpoint::ALL.into_iter().find(|e| e.path() == path).unwrap()
    }

    fn parse(path: &str, v: Value) -> Result<Record, RecordError> {
        Record::from_json(endpoint(path), 3, &v, NOW, NOW)
    }

    #[test]
    fn keys_with_stray_spaces_and_string_times_are_accepted() {
        let r = parse(
            "/voice/add",
            json!({" phone": PHONE, " deposit_hash ": "abc", "sign_time ": "1604339389", "x": 1}),
        )
        .unwrap();
        assert_eq!(
            r,
            Record::Consent {
                channel: Channel::Voice,
                phone: PHONE.to_ascii_uppercase(),
                deposit_hash: "abc".into(),
                sign_time: 1_604_339_389,
            }
        );
    }

    #[test]
    fn errors_name_the_record_and_field() {
        let e = parse("/sms/add", json!({"phone": PHONE, "deposit_hash": "a", "sign_time": 160}))
            .unwrap_err();
        assert_eq!(e.to_string(), "list[3].sign_time: expected 10-digit Unix seconds");
        let e = parse("/sms/add", json!([1])).unwrap_err();
        assert_eq!(e.to_string(), "list[3]: expected an object");
        let e = parse("/sms/add", json!({"deposit_hash": "a", "sign_time": NOW})).unwrap_err();
        assert_eq!(e.to_string(), "list[3].phone: missing");
    }

    #[test]
    fn a_time_string_obeys_the_integer_forms_range() {
        let e = parse(
            "/sms/add",
            json!({"phone": PHONE, "deposit_hash": "a", "sign_time": "0604339389"}),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "list[3].sign_time: expected 10-digit Unix seconds");
    }

    #[test]
    fn phone_must_be_32_hex_digits() {
        for bad in [json!("C6AAA437"), json!(PHONE.replace('c', "g")), json!(12)] {
            let e = parse("/voice/cancel", json!({ "phone": bad })).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("phone"));
        }
    }

    #[test]
    fn deposit_hash_is_one_to_64_alphanumerics() {
        let ok = "a".repeat(64);
        assert!(parse("/voice/add", json!({"phone": PHONE, "deposit_hash": ok, "sign_time": NOW}))
            .is_ok());
        for bad in ["", "a-b", &"a".repeat(65)] {
            let e =
                parse("/voice/add", json!({"phone": PHONE, "deposit_hash": bad, "sign_time": NOW}))
                    .unwrap_err();
            assert_eq!(e.field.as_deref(), Some("deposit_hash"), "{bad}");
        }
    }

    #[test]
    fn times_more_than_a_day_ahead_are_refused() {
        let call = |t: u64| {
            parse(
                "/sms/sendAddChain",
                json!({"phone": PHONE, "channel_num": "106909570626",
                "send_time": t, "deposit_hash": "f"}),
            )
        };
        assert!(call(NOW + MAX_FUTURE_SECS).is_ok());
        assert_eq!(
            call(NOW + MAX_FUTURE_SECS + 1).unwrap_err().field.as_deref(),
            Some("send_time")
        );
    }

    #[test]
    fn a_call_cannot_end_before_it_starts() {
        let call = |start: u64, end: u64| {
            parse(
                "/voice/sendAddChain",
                json!({"phone": PHONE, "from_num": "+8675538833883",
                "start_time": start, "end_time": end, "deposit_hash": "f"}),
            )
        };
        assert!(call(NOW, NOW).is_ok());
        assert_eq!(call(NOW, NOW - 1).unwrap_err().field.as_deref(), Some("end_time"));
    }

    #[test]
    fn numbers_are_3_to_21_digits_and_only_from_num_takes_a_plus() {
        let voice = |n: &str| {
            parse(
                "/voice/sendAddChain",
                json!({"phone": PHONE, "from_num": n,
                "start_time": NOW, "end_time": NOW, "deposit_hash": "f"}),
            )
        };
        let sms = |n: &str| {
            parse(
                "/sms/sendAddChain",
                json!({"phone": PHONE, "channel_num": n,
                "send_time": NOW, "deposit_hash": "f"}),
            )
        };
        assert!(voice("+075").is_ok() && voice(&"1".repeat(21)).is_ok());
        assert!(voice("12").is_err() && voice(&"1".repeat(22)).is_err() && voice("12a4").is_err());
        assert!(sms("106").is_ok() && sms("+106909570626").is_err());
    }

    #[test]
    fn a_withdrawal_takes_the_calls_timestamp() {
        let r = Record::from_json(
            endpoint("/sms/cancel"),
            0,
            &json!({"phone": PHONE}),
            1_600_000_001,
            NOW,
        )
        .unwrap();
        assert_eq!(r.time(), 1_600_000_001);
        assert_eq!(r.kind(), "sms.withdraw");
    }
}
