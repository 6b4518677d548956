//! The compliance rules: what a filing allows, a subscriber's consent at a moment, and the
//! flags every member gives a call or SMS record when it executes.
//!
//! Everything here is a pure function of chain data, so any member, and any auditor holding
//! the chain, reaches the same verdict for the same record. Times are Unix seconds; days and
//! hours are those of Asia/Shanghai (UTC+8 all year: China has kept no daylight saving time
//! since 1991).
//!
//! | flag | set when |
//! |---|---|
//! | `no_consent` | no grant on the record's channel was signed at or before its time |
//! | `withdrawn` | the latest such grant was withdrawn at or before its time |
//! | `outside_hours` | its time of day is outside the filing's window |
//! | `unfiled_number` | `from_num` / `channel_num` is not in the filing's number list |
//! | `over_daily_limit` | it is past the filing's limit to that phone on that day |
//!
//! ```
//! use cunzheng_types::compliance::{beijing_day, beijing_second_of_day, Hours};
//! // 2020-11-03 01:00:00 UTC is 09:00:00 in Beijing.
//! let t = 1_604_365_200;
//! assert_eq!(beijing_second_of_day(t), 9 * 3600);
//! let hours: Hours = "09:00-20:00".parse().unwrap();
//! assert!(hours.contains(t) && !hours.contains(t - 1));
//! assert_eq!(beijing_day(t), beijing_day(t - 9 * 3600));
//! ```

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{hash::Hash, record::Channel};

/// Asia/Shanghai's offset from UTC, in seconds.
pub const BEIJING_OFFSET_SECS: u64 = 8 * 3600;
const DAY: u64 = 86_400;

/// Most numbers in one filing's list.
pub const MAX_FILING_NUMBERS: usize = 10_000;

/// The Asia/Shanghai calendar day of `t`, counted from 1970-01-01.
pub fn beijing_day(t: u64) -> u32 {
    ((t + BEIJING_OFFSET_SECS) / DAY) as u32
}

/// Seconds since Asia/Shanghai midnight at `t`.
pub fn beijing_second_of_day(t: u64) -> u32 {
    ((t + BEIJING_OFFSET_SECS) % DAY) as u32
}

/// The Unix time of Asia/Shanghai midnight starting `day`.
pub fn beijing_midnight(day: u32) -> u64 {
    (u64::from(day) * DAY).saturating_sub(BEIJING_OFFSET_SECS)
}

/// The Asia/Shanghai date (year, month, day) of calendar day `day` since 1970-01-01.
pub fn civil_date(day: u32) -> (i32, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// The calendar day, since 1970-01-01, of a date; `None` before 1970 or for a date that does
/// not exist.
pub fn day_of_date(year: i32, month: u32, day: u32) -> Option<u32> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u32::try_from(era * 146_097 + doe - 719_468).ok()
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A daily window of allowed hours in Asia/Shanghai time, `HH:MM-HH:MM`: from the first
/// minute inclusive to the second exclusive, so `09:00-20:00` admits 09:00:00 through
/// 19:59:59. `24:00` ends a window at midnight; a window whose start is after its end runs
/// across midnight (`21:00-08:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    /// Seconds after midnight, inclusive.
    pub start: u32,
    /// Seconds after midnight, exclusive; up to 86,400.
    pub end: u32,
}

impl Hours {
    /// The whole day.
    pub const ALL_DAY: Hours = Hours { start: 0, end: 86_400 };

    /// Whether Unix time `t` falls inside the window.
    pub fn contains(&self, t: u64) -> bool {
        let s = beijing_second_of_day(t);
        if self.start < self.end {
            self.start <= s && s < self.end
        } else {
            s >= self.start || s < self.end
        }
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |s: u32| (s / 3600, s % 3600 / 60);
        let ((h1, m1), (h2, m2)) = (hm(self.start), hm(self.end));
        write!(f, "{h1:02}:{m1:02}-{h2:02}:{m2:02}")
    }
}

/// Why a window does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected HH:MM-HH:MM with two different times, 00:00 to 24:00")]
pub struct HoursError;

impl FromStr for Hours {
    type Err = HoursError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let minute = |hm: &str| -> Option<u32> {
            let (h, m) = hm.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            let secs = h * 3600 + m * 60;
            (m < 60 && secs <= 86_400).then_some(secs)
        };
        let (a, b) = s.split_once('-').ok_or(HoursError)?;
        let (start, end) = (minute(a).ok_or(HoursError)?, minute(b).ok_or(HoursError)?);
        if start == end || start == 86_400 {
            return Err(HoursError);
        }
        let hours = Hours { start, end };
        // One spelling per window, so that canonical bytes stay canonical.
        if hours.to_string() != s {
            return Err(HoursError);
        }
        Ok(hours)
    }
}

/// One number of a filing's number list, as the filing form lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FiledNumber {
    /// The channel it calls or texts from.
    pub comm_type: Channel,
    /// The number's type as filed, such as `mobile`, `fixed`, `400` or `106`.
    pub number_type: String,
    /// The number, digits with an optional leading `+`.
    pub number: String,
    /// The carrier that assigned it.
    pub carrier: String,
}

/// An approved filing: what a client may do on some channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    /// The operator's id for this filing.
    pub filing_id: String,
    /// The channels it covers.
    pub channels: Vec<Channel>,
    /// The business filed, such as `marketing` or `notification`.
    pub business_type: String,
    /// When calls may start and messages may be sent.
    pub hours: Hours,
    /// Calls (voice) or messages (SMS) allowed to one phone on one Asia/Shanghai day.
    pub daily_limit: u32,
    /// Sorted by channel, then number, without repeats.
    pub numbers: Vec<FiledNumber>,
}

/// Why a filing is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FilingError {
    pub field: &'static str,
    pub reason: &'static str,
}

fn filing_error(field: &'static str, reason: &'static str) -> FilingError {
    FilingError { field, reason }
}

fn is_phone_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (3..=21).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn short_text(s: &str, max_chars: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max_chars && !s.chars().any(char::is_control)
}

impl Filing {
    /// Checks every field. The number list must be sorted by (channel, number) without
    /// repeats: a filing has one canonical form, and a member can test a number in O(log n).
    pub fn validate(&self) -> Result<(), FilingError> {
        if !crate::tx::valid_client_id(&self.filing_id) {
            return Err(filing_error("filing_id", "expected 1 to 64 of [0-9A-Za-z_-]"));
        }
        let mut channels = self.channels.clone();
        channels.sort();
        channels.dedup();
        if channels.is_empty() || channels != self.channels {
            return Err(filing_error("channels", "expected voice and/or sms, in that order, once"));
        }
        if !short_text(&self.business_type, 64) {
            return Err(filing_error("business_type", "expected 1 to 64 characters"));
        }
        if self.daily_limit == 0 {
            return Err(filing_error("daily_limit", "expected at least 1"));
        }
        if self.numbers.len() > MAX_FILING_NUMBERS {
            return Err(filing_error("numbers", "more than 10000 numbers"));
        }
        for n in &self.numbers {
            if !self.channels.contains(&n.comm_type) {
                return Err(filing_error("numbers", "a number is for a channel not filed"));
            }
            if !is_phone_number(&n.number) {
                return Err(filing_error("numbers", "expected 3 to 21 digits, optionally after +"));
            }
            if !short_text(&n.number_type, 32) || !short_text(&n.carrier, 32) {
                return Err(filing_error("numbers", "number_type and carrier: 1 to 32 characters"));
            }
        }
        if self
            .numbers
            .windows(2)
            .any(|w| (w[0].comm_type, &w[0].number) >= (w[1].comm_type, &w[1].number))
        {
            return Err(filing_error(
                "numbers",
                "expected sorted by comm_type then number, no repeats",
            ));
        }
        Ok(())
    }

    /// Puts the number list in its canonical order, dropping repeated numbers.
    pub fn normalize(&mut self) {
        self.channels.sort();
        self.channels.dedup();
        self.numbers.sort();
        self.numbers.dedup_by(|a, b| (a.comm_type, &a.number) == (b.comm_type, &b.number));
    }

    pub fn covers(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }

    /// Whether `number` is filed for `channel`.
    pub fn has_number(&self, channel: Channel, number: &str) -> bool {
        self.numbers
            .binary_search_by(|n| (n.comm_type, n.number.as_str()).cmp(&(channel, number)))
            .is_ok()
    }
}

/// A grant or withdrawal of consent, as the history of one (client, channel, phone) keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    /// `sign_time` of a grant, `at` of a withdrawal.
    pub time: u64,
    pub granted: bool,
    pub tx_id: Hash,
}

/// A consent history: events in time order, events of the same second in chain order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentHistory(pub Vec<ConsentEvent>);

/// Consent at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentState {
    /// No grant signed at or before the moment.
    None,
    /// Granted at `since` by `tx_id`, and not withdrawn since.
    Granted { since: u64, tx_id: Hash },
    /// Granted at `since`, then withdrawn at `at`.
    Withdrawn { since: u64, at: u64, tx_id: Hash },
}

impl ConsentHistory {
    /// Adds an event after the others of its second.
    pub fn insert(&mut self, event: ConsentEvent) {
        let at = self.0.partition_point(|e| e.time <= event.time);
        self.0.insert(at, event);
    }

    /// Consent at Unix time `t`. The latest grant at or before `t` decides; a withdrawal at or
    /// after that grant's second and at or before `t` ends it (a withdrawal in the same second
    /// as the grant wins).
    pub fn at(&self, t: u64) -> ConsentState {
        let upto = &self.0[..self.0.partition_point(|e| e.time <= t)];
        let Some(g) = upto.iter().rposition(|e| e.granted) else {
            return ConsentState::None;
        };
        let grant = upto[g];
        let since_grant = &upto[upto.partition_point(|e| e.time < grant.time)..];
        match since_grant.iter().rfind(|e| !e.granted) {
            Some(w) => ConsentState::Withdrawn { since: grant.time, at: w.time, tx_id: w.tx_id },
            None => ConsentState::Granted { since: grant.time, tx_id: grant.tx_id },
        }
    }
}

/// The flags of a call or SMS record, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags(pub u8);

/// One compliance flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    NoConsent,
    Withdrawn,
    OutsideHours,
    UnfiledNumber,
    OverDailyLimit,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Flag::NoConsent,
        Flag::Withdrawn,
        Flag::OutsideHours,
        Flag::UnfiledNumber,
        Flag::OverDailyLimit,
    ];

    /// The flag's bit in [`Flags`].
    pub fn bit(self) -> u8 {
        1 << self.index()
    }

    /// Position 0 to 4.
    pub fn index(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Flag::NoConsent => "no_consent",
            Flag::Withdrawn => "withdrawn",
            Flag::OutsideHours => "outside_hours",
            Flag::UnfiledNumber => "unfiled_number",
            Flag::OverDailyLimit => "over_daily_limit",
        }
    }

    pub fn parse(s: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl Flags {
    pub const CLEAN: Flags = Flags(0);

    pub fn with(self, flag: Flag, on: bool) -> Flags {
        if on {
            Flags(self.0 | flag.bit())
        } else {
            self
        }
    }

    pub fn has(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }

    pub fn is_clean(self) -> bool {
        self.0 == 0
    }

    /// The flags set, in the table's order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.has(*f))
    }

    /// The names of the flags set.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Flag::as_str).collect()
    }
}

/// A call or SMS record as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Communication<'a> {
    pub channel: Channel,
    /// `start_time` of a call, `send_time` of an SMS.
    pub time: u64,
    /// `from_num` of a call, `channel_num` of an SMS.
    pub number: &'a str,
}

/// The flags of `record` under `filing`, given the client's consent history with the phone on
/// the record's channel and `sent_that_day`: how many of the client's records on that channel
/// to that phone on the record's Asia/Shanghai day the chain holds before this one.
pub fn verdict(
    record: Communication<'_>,
    filing: &Filing,
    consent: &ConsentHistory,
    sent_that_day: u32,
) -> Flags {
    let state = consent.at(record.time);
    Flags::CLEAN
        .with(Flag::NoConsent, state == ConsentState::None)
        .with(Flag::Withdrawn, matches!(state, ConsentState::Withdrawn { .. }))
        .with(Flag::OutsideHours, !filing.hours.contains(record.time))
        .with(Flag::UnfiledNumber, !filing.has_number(record.channel, record.number))
        .with(Flag::OverDailyLimit, sent_that_day >= filing.daily_limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04 00:00:00 in Beijing.
    const MIDNIGHT: u64 = 1_796_313_600;

    fn at(h: u64, m: u64, s: u64) -> u64 {
        MIDNIGHT + h * 3600 + m * 60 + s
    }

    fn filing() -> Filing {
        let mut f = Filing {
            filing_id: "F1".into(),
            channels: vec![Channel::Voice],
            business_type: "marketing".into(),
            hours: "09:00-20:00".parse().unwrap(),
            daily_limit: 2,
            numbers: vec![FiledNumber {
                comm_type: Channel::Voice,
                number_type: "fixed".into(),
                number: "075538833883".into(),
                carrier: "China Telecom".into(),
            }],
        };
        f.normalize();
        f.validate().unwrap();
        f
    }

    fn id(n: u8) -> Hash {
        Hash([n; 32])
    }

    fn history(events: &[(u64, bool)]) -> ConsentHistory {
        let mut h = ConsentHistory::default();
        for (i, (time, granted)) in events.iter().enumerate() {
            h.insert(ConsentEvent { time: *time, granted: *granted, tx_id: id(i as u8) });
        }
        h
    }

    #[test]
    fn the_midnight_constant_is_beijing_midnight() {
        assert_eq!(beijing_second_of_day(MIDNIGHT), 0);
        assert_eq!(civil_date(beijing_day(MIDNIGHT)), (2026, 12, 4));
        assert_eq!(day_of_date(2026, 12, 4), Some(beijing_day(MIDNIGHT)));
        assert_eq!(beijing_midnight(beijing_day(MIDNIGHT)), MIDNIGHT);
        assert_eq!(beijing_day(MIDNIGHT - 1) + 1, beijing_day(MIDNIGHT));
    }

    #[test]
    fn dates_round_trip_through_day_numbers() {
        for day in (0..40_000).step_by(7) {
            let (y, m, d) = civil_date(day);
            assert_eq!(day_of_date(y, m, d), Some(day));
        }
        assert_eq!(day_of_date(2024, 2, 29).map(civil_date), Some((2024, 2, 29)));
        assert_eq!(day_of_date(2026, 2, 29), None);
        assert_eq!(day_of_date(1969, 12, 31), None);
    }

    #[test]
    fn a_window_admits_its_start_and_not_its_end() {
        let h: Hours = "09:00-20:00".parse().unwrap();
        assert!(!h.contains(at(8, 59, 59)));
        assert!(h.contains(at(9, 0, 0)));
        assert!(h.contains(at(19, 59, 59)));
        assert!(!h.contains(at(20, 0, 0)));
    }

    #[test]
    fn windows_may_run_across_midnight_or_all_day() {
        let night: Hours = "21:00-08:00".parse().unwrap();
        assert!(night.contains(at(23, 0, 0)) && night.contains(at(7, 59, 59)));
        assert!(!night.contains(at(8, 0, 0)) && !night.contains(at(20, 59, 59)));
        let all: Hours = "00:00-24:00".parse().unwrap();
        assert_eq!(all, Hours::ALL_DAY);
        assert!(all.contains(at(0, 0, 0)) && all.contains(at(23, 59, 59)));
    }

    #[test]
    fn malformed_windows_are_refused() {
        for bad in [
            "9:00-20:00",
            "09:00-20:00 ",
            "09:60-20:00",
            "24:01-01:00",
            "10:00-10:00",
            "24:00-08:00",
            "09:00",
        ] {
            assert_eq!(bad.parse::<Hours>(), Err(HoursError), "{bad}");
        }
    }

    #[test]
    fn a_grant_counts_from_its_second() {
        let start = at(10, 0, 0);
        let comm = Communication { channel: Channel::Voice, time: start, number: "075538833883" };
        let f = filing();
        let later = verdict(comm, &f, &history(&[(start + 1, true)]), 0);
        assert_eq!(later.names(), ["no_consent"]);
        let same = verdict(comm, &f, &history(&[(start, true)]), 0);
        assert!(same.is_clean());
    }

    #[test]
    fn a_withdrawal_at_or_before_the_start_withdraws() {
        let start = at(10, 0, 0);
        let grant = (start - 100, true);
        let state = |w: u64| history(&[grant, (w, false)]).at(start);
        assert!(matches!(state(start - 1), ConsentState::Withdrawn { .. }));
        assert!(matches!(state(start), ConsentState::Withdrawn { .. }));
        assert!(matches!(state(start + 1), ConsentState::Granted { .. }));
        // A new grant after the withdrawal restores consent; one in the same second does not.
        let regranted = history(&[grant, (start - 50, false), (start - 10, true)]);
        assert!(
            matches!(regranted.at(start), ConsentState::Granted { since, .. } if since == start - 10)
        );
        let same_second = history(&[(start - 10, true), (start - 10, false)]);
        assert!(matches!(same_second.at(start), ConsentState::Withdrawn { .. }));
        // A withdrawal with no grant before it leaves no consent, not a withdrawn one.
        assert_eq!(history(&[(start - 5, false)]).at(start), ConsentState::None);
    }

    #[test]
    fn the_daily_limit_flags_only_past_it() {
        let comm =
            Communication { channel: Channel::Voice, time: at(10, 0, 0), number: "075538833883" };
        let h = history(&[(at(9, 0, 0), true)]);
        assert!(verdict(comm, &filing(), &h, 1).is_clean());
        assert_eq!(verdict(comm, &filing(), &h, 2).names(), ["over_daily_limit"]);
    }

    #[test]
    fn numbers_are_matched_per_channel() {
        let f = filing();
        assert!(f.has_number(Channel::Voice, "075538833883"));
        assert!(!f.has_number(Channel::Sms, "075538833883"));
        assert!(!f.has_number(Channel::Voice, "075538833884"));
    }

    #[test]
    fn a_filing_has_one_canonical_form() {
        let mut f = filing();
        f.numbers.push(f.numbers[0].clone());
        assert_eq!(f.validate().unwrap_err().field, "numbers");
        f.normalize();
        f.validate().unwrap();
        f.channels = vec![Channel::Sms, Channel::Voice];
        assert_eq!(f.validate().unwrap_err().field, "channels");
        let mut zero = filing();
        zero.daily_limit = 0;
        assert_eq!(zero.validate().unwrap_err().field, "daily_limit");
    }
}
