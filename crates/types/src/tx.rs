//! Transactions: what a block orders. Each is a JSON object whose canonical (JCS) bytes are
//! hashed as a Merkle leaf; that leaf hash is the transaction's id.
//!
//! ```text
//! id = SHA-256(0x00 || JCS(tx))
//! ```
//!
//! Enterprise records carry `kind` (`voice.consent`, `voice.call`, `voice.withdraw`,
//! `sms.consent`, `sms.message`, `sms.withdraw`), `client_id` and the record's fields.
//! Operator transactions (`client.register`, `client.suspend`, `client.reinstate`,
//! `client.rotate_key`, `filing.approve`, `filing.change`, `filing.revoke`) carry `issued_at`
//! (Unix ms) and `signature`: the operator's ed25519 signature, in hex, over the JCS bytes of
//! the same object without `signature`.
//!
//! ```
//! use cunzheng_types::{Record, RecordTx, Transaction, Channel};
//! let tx = Transaction::Record(RecordTx {
//!     client_id: "Dv8G4Ngh".into(),
//!     record: Record::Withdraw { channel: Channel::Sms, phone: "C6AAA43716949506D38CF6A1BAA2F576".into(), at: 1552615958 },
//! });
//! assert_eq!(
//!     tx.canonical_bytes(),
//!     br#"{"at":1552615958,"client_id":"Dv8G4Ngh","kind":"sms.withdraw","phone":"C6AAA43716949506D38CF6A1BAA2F576"}"#
//! );
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Map, Value};

use crate::{
    canonical::to_jcs,
    compliance::{FiledNumber, Filing, Hours},
    hash::Hash,
    merkle::leaf_hash,
    record::{parse_unix_seconds, Channel, Endpoint, Record},
};

/// Why bytes or a value are not a transaction.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    /// The bytes are not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The bytes are JSON but not in canonical form.
    #[error("not in canonical (JCS) form")]
    NotCanonical,
    /// `kind` is missing or unknown.
    #[error("unknown transaction kind {0:?}")]
    UnknownKind(String),
    /// A field is missing or malformed.
    #[error("field {field}: {reason}")]
    Field { field: &'static str, reason: &'static str },
    /// An operator transaction's signature does not verify under the operator key.
    #[error("operator signature does not verify")]
    BadSignature,
}

/// An entry of the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transaction {
    /// An enterprise's deposit.
    Record(RecordTx),
    /// An action of the platform operator, signed with the operator key.
    Operator(OperatorTx),
}

/// An enterprise record and the client that deposited it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordTx {
    pub client_id: String,
    pub record: Record,
}

/// A signed operator action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorTx {
    pub action: OperatorAction,
    /// Unix milliseconds when the operator issued it; makes repeated actions distinct.
    pub issued_at: u64,
    /// ed25519 signature over the JCS bytes without `signature`.
    pub signature: [u8; 64],
}

/// What the operator does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorAction {
    /// Approves an enterprise as a client. `key_nonce` and `key_ciphertext` seal the client key
    /// under the operator secret (see [`crate::client_key`]). It deposits nothing until a
    /// filing is approved.
    RegisterClient { client_id: String, key_nonce: [u8; 12], key_ciphertext: Vec<u8> },
    /// Stops a client's deposits until it is reinstated.
    SuspendClient { client_id: String, reason: String },
    /// Lifts a suspension.
    ReinstateClient { client_id: String },
    /// Replaces the client's key with a new sealed one; the old key stops working.
    RotateKey { client_id: String, key_nonce: [u8; 12], key_ciphertext: Vec<u8> },
    /// Approves a filing on channels that no filing of the client covers.
    ApproveFiling { client_id: String, filing: Filing },
    /// Replaces an approved filing (same `filing_id`) from this transaction on.
    ChangeFiling { client_id: String, filing: Filing },
    /// Withdraws an approved filing: its channels take no deposits until another is approved.
    RevokeFiling { client_id: String, filing_id: String, reason: String },
    /// Sets how the client must sign its calls: the documented token alone, or that token and
    /// an HMAC over the request (see [`crate::client_key::request_signature`]).
    SetAuth { client_id: String, scheme: AuthScheme },
}

/// How a client's calls are authenticated.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum AuthScheme {
    /// The documented `client_token`, which covers the client, its key and the timestamp.
    #[default]
    Token,
    /// The token and an HMAC-SHA256 over method, path, timestamp, a nonce and the body's hash.
    Hmac,
}

impl AuthScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Token => "token",
            AuthScheme::Hmac => "hmac",
        }
    }

    pub fn parse(s: &str) -> Option<AuthScheme> {
        match s {
            "token" => Some(AuthScheme::Token),
            "hmac" => Some(AuthScheme::Hmac),
            _ => None,
        }
    }
}

impl OperatorAction {
    pub fn kind(&self) -> &'static str {
        match self {
            OperatorAction::RegisterClient { .. } => "client.register",
            OperatorAction::SuspendClient { .. } => "client.suspend",
            OperatorAction::ReinstateClient { .. } => "client.reinstate",
            OperatorAction::RotateKey { .. } => "client.rotate_key",
            OperatorAction::ApproveFiling { .. } => "filing.approve",
            OperatorAction::ChangeFiling { .. } => "filing.change",
            OperatorAction::RevokeFiling { .. } => "filing.revoke",
            OperatorAction::SetAuth { .. } => "client.set_auth",
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            OperatorAction::RegisterClient { client_id, .. }
            | OperatorAction::SuspendClient { client_id, .. }
            | OperatorAction::ReinstateClient { client_id }
            | OperatorAction::RotateKey { client_id, .. }
            | OperatorAction::ApproveFiling { client_id, .. }
            | OperatorAction::ChangeFiling { client_id, .. }
            | OperatorAction::RevokeFiling { client_id, .. }
            | OperatorAction::SetAuth { client_id, .. } => client_id,
        }
    }

    fn unsigned_value(&self, issued_at: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kind".into(), json!(self.kind()));
        m.insert("client_id".into(), json!(self.client_id()));
        m.insert("issued_at".into(), json!(issued_at));
        match self {
            OperatorAction::RegisterClient { key_nonce, key_ciphertext, .. }
            | OperatorAction::RotateKey { key_nonce, key_ciphertext, .. } => {
                m.insert("key_nonce".into(), json!(hex::encode(key_nonce)));
                m.insert("key_ciphertext".into(), json!(hex::encode(key_ciphertext)));
            }
            OperatorAction::SuspendClient { reason, .. } => {
                m.insert("reason".into(), json!(reason));
            }
            OperatorAction::ReinstateClient { .. } => {}
            OperatorAction::ApproveFiling { filing, .. }
            | OperatorAction::ChangeFiling { filing, .. } => {
                if let Value::Object(f) = filing_value(filing) {
                    m.extend(f);
                }
            }
            OperatorAction::RevokeFiling { filing_id, reason, .. } => {
                m.insert("filing_id".into(), json!(filing_id));
                m.insert("reason".into(), json!(reason));
            }
            OperatorAction::SetAuth { scheme, .. } => {
                m.insert("auth".into(), json!(scheme.as_str()));
            }
        }
        m
    }

    /// Signs the action with the operator key.
    pub fn sign(self, key: &SigningKey, issued_at: u64) -> OperatorTx {
        let bytes = jcs_object(self.unsigned_value(issued_at));
        let signature = key.sign(&bytes).to_bytes();
        OperatorTx { action: self, issued_at, signature }
    }
}

impl OperatorTx {
    /// The bytes the operator signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        jcs_object(self.action.unsigned_value(self.issued_at))
    }

    /// Checks the signature under the operator key named in genesis.
    pub fn verify(&self, operator: &VerifyingKey) -> Result<(), TxError> {
        operator
            .verify(&self.signing_bytes(), &Signature::from_bytes(&self.signature))
            .map_err(|_| TxError::BadSignature)
    }
}

/// A filing as JSON: the fields of a `filing.approve` or `filing.change` transaction and of
/// every answer that shows a filing.
pub fn filing_value(f: &Filing) -> Value {
    let numbers: Vec<Value> = f
        .numbers
        .iter()
        .map(|n| {
            json!({
                "comm_type": n.comm_type,
                "number_type": n.number_type,
                "number": n.number,
                "carrier": n.carrier,
            })
        })
        .collect();
    json!({
        "filing_id": f.filing_id,
        "channels": f.channels,
        "business_type": f.business_type,
        "hours": f.hours.to_string(),
        "daily_limit": f.daily_limit,
        "numbers": numbers,
    })
}

/// Reads a filing from the fields of `obj`, as [`filing_value`] writes them, and checks it.
pub fn filing_from_value(obj: &Map<String, Value>) -> Result<Filing, TxError> {
    let field = |field: &'static str, reason: &'static str| TxError::Field { field, reason };
    let channels = channels_field(obj)?;
    let hours: Hours = str_field(obj, "hours")?
        .parse()
        .map_err(|_| field("hours", "expected HH:MM-HH:MM, 00:00 to 24:00"))?;
    let daily_limit = obj
        .get("daily_limit")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(field("daily_limit", "expected a positive integer"))?;
    let numbers = obj
        .get("numbers")
        .and_then(Value::as_array)
        .ok_or(field("numbers", "expected an array"))?
        .iter()
        .map(|n| {
            let n = n.as_object().ok_or(field("numbers", "expected objects"))?;
            let comm_type = n
                .get("comm_type")
                .and_then(Value::as_str)
                .and_then(Channel::parse)
                .ok_or(field("numbers", "comm_type: expected voice or sms"))?;
            let text = |name: &'static str| {
                n.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or(field("numbers", "number, number_type, carrier: expected strings"))
            };
            Ok(FiledNumber {
                comm_type,
                number_type: text("number_type")?,
                number: text("number")?,
                carrier: text("carrier")?,
            })
        })
        .collect::<Result<Vec<_>, TxError>>()?;
    let filing = Filing {
        filing_id: str_field(obj, "filing_id")?,
        channels,
        business_type: str_field(obj, "business_type")?,
        hours,
        daily_limit,
        numbers,
    };
    filing.validate().map_err(|e| TxError::Field { field: e.field, reason: e.reason })?;
    Ok(filing)
}

fn channels_field(obj: &Obj) -> Result<Vec<Channel>, TxError> {
    obj.get("channels")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|c| c.as_str().and_then(Channel::parse)).collect())
        .and_then(|c: Option<Vec<Channel>>| c)
        .ok_or(TxError::Field { field: "channels", reason: "expected voice or sms" })
}

fn jcs_object(m: Map<String, Value>) -> Vec<u8> {
    to_jcs(&Value::Object(m)).expect("transaction fields are strings and integers")
}

/// Largest client id, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// Whether `id` is a well-formed client id: 1 to 64 of `[0-9A-Za-z_-]`.
pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Transaction {
    /// The transaction as a JSON object (its canonical bytes are this, in JCS form).
    pub fn to_value(&self) -> Value {
        match self {
            Transaction::Record(r) => record_value(r),
            Transaction::Operator(o) => {
                let mut m = o.action.unsigned_value(o.issued_at);
                m.insert("signature".into(), json!(hex::encode(o.signature)));
                Value::Object(m)
            }
        }
    }

    /// RFC 8785 bytes: what the leaf hash covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        to_jcs(&self.to_value()).expect("transaction fields are strings and integers")
    }

    /// The transaction id: the Merkle leaf hash of the canonical bytes.
    pub fn id(&self) -> Hash {
        leaf_hash(&self.canonical_bytes())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Transaction::Record(r) => r.record.kind(),
            Transaction::Operator(o) => o.action.kind(),
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            Transaction::Record(r) => &r.client_id,
            Transaction::Operator(o) => o.action.client_id(),
        }
    }

    /// Decodes canonical bytes, refusing any other spelling of the same object, so that a
    /// transaction has exactly one id.
    pub fn from_canonical(bytes: &[u8]) -> Result<Transaction, TxError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| TxError::NotJson(e.to_string()))?;
        let tx = Transaction::from_value(&value)?;
        if tx.canonical_bytes() != bytes {
            return Err(TxError::NotCanonical);
        }
        Ok(tx)
    }

    /// Decodes the JSON form.
    pub fn from_value(v: &Value) -> Result<Transaction, TxError> {
        let obj = v.as_object().ok_or(TxError::Field { field: "kind", reason: "not an object" })?;
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        if let Some(endpoint) = Endpoint::from_kind(kind) {
            return decode_record(endpoint, obj).map(Transaction::Record);
        }
        decode_operator(kind, obj).map(Transaction::Operator)
    }
}

/// A transaction with its canonical bytes and id computed once, as it travels from the gateway
/// through the pool into a block and the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedTx {
    id: Hash,
    bytes: Vec<u8>,
    tx: Transaction,
}

impl SealedTx {
    pub fn new(tx: Transaction) -> Self {
        let bytes = tx.canonical_bytes();
        SealedTx { id: leaf_hash(&bytes), bytes, tx }
    }

    /// Decodes canonical bytes (see [`Transaction::from_canonical`]).
    pub fn from_canonical(bytes: Vec<u8>) -> Result<Self, TxError> {
        let tx = Transaction::from_canonical(&bytes)?;
        Ok(SealedTx { id: leaf_hash(&bytes), bytes, tx })
    }

    pub fn id(&self) -> Hash {
        self.id
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
}

fn record_value(r: &RecordTx) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), json!(r.record.kind()));
    m.insert("client_id".into(), json!(r.client_id));
    match &r.record {
        Record::Consent { phone, deposit_hash, sign_time, .. } => {
            m.insert("phone".into(), json!(phone));
            m.insert("deposit_hash".into(), json!(deposit_hash));
            m.insert("sign_time".into(), json!(sign_time));
        }
        Record::Call { phone, from_num, start_time, end_time, deposit_hash } => {
            m.insert("phone".into(), json!(phone));
            m.insert("from_num".into(), json!(from_num));
            m.insert("start_time".into(), json!(start_time));
            m.insert("end_time".into(), json!(end_time));
            m.insert("deposit_hash".into(), json!(deposit_hash));
        }
        Record::Message { phone, channel_num, send_time, deposit_hash } => {
            m.insert("phone".into(), json!(phone));
            m.insert("channel_num".into(), json!(channel_num));
            m.insert("send_time".into(), json!(send_time));
            m.insert("deposit_hash".into(), json!(deposit_hash));
        }
        Record::Withdraw { phone, at, .. } => {
            m.insert("phone".into(), json!(phone));
            m.insert("at".into(), json!(at));
        }
    }
    Value::Object(m)
}

type Obj = Map<String, Value>;

fn str_field(obj: &Obj, field: &'static str) -> Result<String, TxError> {
    obj.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TxError::Field { field, reason: "expected a string" })
}

fn time_field(obj: &Obj, field: &'static str) -> Result<u64, TxError> {
    obj.get(field)
        .filter(|v| v.is_u64())
        .and_then(parse_unix_seconds)
        .ok_or(TxError::Field { field, reason: "expected 10-digit Unix seconds" })
}

fn decode_record(endpoint: Endpoint, obj: &Obj) -> Result<RecordTx, TxError> {
    let client_id = str_field(obj, "client_id")?;
    if !valid_client_id(&client_id) {
        return Err(TxError::Field { field: "client_id", reason: "malformed" });
    }
    let phone = str_field(obj, "phone")?;
    if phone.len() != 32 || !phone.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return Err(TxError::Field { field: "phone", reason: "expected 32 upper-case hex digits" });
    }
    use crate::record::Action;
    let record = match endpoint.action {
        Action::Consent => Record::Consent {
            channel: endpoint.channel,
            phone,
            deposit_hash: str_field(obj, "deposit_hash")?,
            sign_time: time_field(obj, "sign_time")?,
        },
        Action::Communication if endpoint.channel == Channel::Voice => Record::Call {
            phone,
            from_num: str_field(obj, "from_num")?,
            start_time: time_field(obj, "start_time")?,
            end_time: time_field(obj, "end_time")?,
            deposit_hash: str_field(obj, "deposit_hash")?,
        },
        Action::Communication => Record::Message {
            phone,
            channel_num: str_field(obj, "channel_num")?,
            send_time: time_field(obj, "send_time")?,
            deposit_hash: str_field(obj, "deposit_hash")?,
        },
        Action::Withdraw => {
            Record::Withdraw { channel: endpoint.channel, phone, at: time_field(obj, "at")? }
        }
    };
    Ok(RecordTx { client_id, record })
}

fn decode_operator(kind: &str, obj: &Obj) -> Result<OperatorTx, TxError> {
    let client_id = str_field(obj, "client_id")?;
    let action = match kind {
        "client.register" | "client.rotate_key" => {
            let nonce = hex_field(obj, "key_nonce")?;
            let key_nonce = nonce
                .try_into()
                .map_err(|_| TxError::Field { field: "key_nonce", reason: "expected 12 bytes" })?;
            let key_ciphertext = hex_field(obj, "key_ciphertext")?;
            if kind == "client.register" {
                OperatorAction::RegisterClient { client_id, key_nonce, key_ciphertext }
            } else {
                OperatorAction::RotateKey { client_id, key_nonce, key_ciphertext }
            }
        }
        "client.suspend" => {
            OperatorAction::SuspendClient { client_id, reason: str_field(obj, "reason")? }
        }
        "client.reinstate" => OperatorAction::ReinstateClient { client_id },
        "filing.approve" => {
            OperatorAction::ApproveFiling { client_id, filing: filing_from_value(obj)? }
        }
        "filing.change" => {
            OperatorAction::ChangeFiling { client_id, filing: filing_from_value(obj)? }
        }
        "filing.revoke" => OperatorAction::RevokeFiling {
            client_id,
            filing_id: str_field(obj, "filing_id")?,
            reason: str_field(obj, "reason")?,
        },
        "client.set_auth" => OperatorAction::SetAuth {
            client_id,
            scheme: AuthScheme::parse(&str_field(obj, "auth")?)
                .ok_or(TxError::Field { field: "auth", reason: "expected token or hmac" })?,
        },
        other => return Err(TxError::UnknownKind(other.to_owned())),
    };
    let issued_at = obj
        .get("issued_at")
        .and_then(Value::as_u64)
        .ok_or(TxError::Field { field: "issued_at", reason: "expected Unix milliseconds" })?;
    let signature = hex_field(obj, "signature")?
        .try_into()
        .map_err(|_| TxError::Field { field: "signature", reason: "expected 64 bytes" })?;
    Ok(OperatorTx { action, issued_at, signature })
}

fn hex_field(obj: &Obj, field: &'static str) -> Result<Vec<u8>, TxError> {
    let s = str_field(obj, field)?;
    hex::decode(s).map_err(|_| TxError::Field { field, reason: "expected hex" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::to_jcs;

    fn consent() -> Transaction {
        Transaction::Record(RecordTx {
            client_id: "Dv8G4Ngh".into(),
            record: Record::Consent {
                channel: Channel::Voice,
                phone: "C6AAA43716949506D38CF6A1BAA2F576".into(),
                deposit_hash: "fbd2c729d11db4fb8e4660c9d1769665".into(),
                sign_time: 1_604_339_389,
            },
        })
    }

    /// Auditors recompute these bytes and this id in other languages: they must never change.
    /// The id is `(printf '\x00'; printf %s "$BYTES") | sha256sum`.
    #[test]
    fn consent_bytes_and_id_are_pinned() {
        let tx = consent();
        assert_eq!(
            String::from_utf8(tx.canonical_bytes()).unwrap(),
            r#"{"client_id":"Dv8G4Ngh","deposit_hash":"fbd2c729d11db4fb8e4660c9d1769665","kind":"voice.consent","phone":"C6AAA43716949506D38CF6A1BAA2F576","sign_time":1604339389}"#
        );
        assert_eq!(
            tx.id().to_hex(),
            "cc75f12c11dcf0b056d71ea348958e8da4975174c45737977434115b4bd5e76e"
        );
    }

    #[test]
    fn call_bytes_are_pinned() {
        let tx = Transaction::Record(RecordTx {
            client_id: "Dv8G4Ngh".into(),
            record: Record::Call {
                phone: "C6AAA43716949506D38CF6A1BAA2F576".into(),
                from_num: "075538833883".into(),
                start_time: 1_604_339_389,
                end_time: 1_604_339_399,
                deposit_hash: "fbd2c729".into(),
            },
        });
        assert_eq!(
            String::from_utf8(tx.canonical_bytes()).unwrap(),
            r#"{"client_id":"Dv8G4Ngh","deposit_hash":"fbd2c729","end_time":1604339399,"from_num":"075538833883","kind":"voice.call","phone":"C6AAA43716949506D38CF6A1BAA2F576","start_time":1604339389}"#
        );
    }

    #[test]
    fn canonical_bytes_round_trip_for_every_kind() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let txs = vec![
            consent(),
            Transaction::Operator(
                OperatorAction::RegisterClient {
                    client_id: "demo".into(),
                    key_nonce: [1; 12],
                    key_ciphertext: vec![9; 48],
                }
                .sign(&key, 1_700_000_000_000),
            ),
            Transaction::Operator(
                OperatorAction::RotateKey {
                    client_id: "demo".into(),
                    key_nonce: [2; 12],
                    key_ciphertext: vec![8; 48],
                }
                .sign(&key, 3),
            ),
            Transaction::Operator(
                OperatorAction::ApproveFiling { client_id: "demo".into(), filing: filing() }
                    .sign(&key, 4),
            ),
            Transaction::Operator(
                OperatorAction::ChangeFiling { client_id: "demo".into(), filing: filing() }
                    .sign(&key, 5),
            ),
            Transaction::Operator(
                OperatorAction::RevokeFiling {
                    client_id: "demo".into(),
                    filing_id: "F-1".into(),
                    reason: "到期".into(),
                }
                .sign(&key, 6),
            ),
            Transaction::Operator(
                OperatorAction::SuspendClient { client_id: "demo".into(), reason: "审核".into() }
                    .sign(&key, 1),
            ),
            Transaction::Operator(
                OperatorAction::ReinstateClient { client_id: "demo".into() }.sign(&key, 2),
            ),
            Transaction::Operator(
                OperatorAction::SetAuth { client_id: "demo".into(), scheme: AuthScheme::Hmac }
                    .sign(&key, 7),
            ),
        ];
        for tx in txs {
            let bytes = tx.canonical_bytes();
            assert_eq!(bytes, to_jcs(&tx.to_value()).unwrap());
            assert_eq!(Transaction::from_canonical(&bytes).unwrap(), tx);
        }
    }

    fn filing() -> Filing {
        Filing {
            filing_id: "F-1".into(),
            channels: vec![Channel::Voice, Channel::Sms],
            business_type: "营销".into(),
            hours: "09:00-20:00".parse().unwrap(),
            daily_limit: 3,
            numbers: vec![
                FiledNumber {
                    comm_type: Channel::Voice,
                    number_type: "fixed".into(),
                    number: "075538833883".into(),
                    carrier: "中国电信".into(),
                },
                FiledNumber {
                    comm_type: Channel::Sms,
                    number_type: "106".into(),
                    number: "1069000".into(),
                    carrier: "中国移动".into(),
                },
            ],
        }
    }

    #[test]
    fn filing_bytes_are_pinned() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let tx = Transaction::Operator(
            OperatorAction::ApproveFiling { client_id: "demo".into(), filing: filing() }
                .sign(&key, 1),
        );
        let bytes = String::from_utf8(tx.canonical_bytes()).unwrap();
        let unsigned = bytes.split(r#","signature""#).next().unwrap();
        assert_eq!(
            unsigned,
            r#"{"business_type":"营销","channels":["voice","sms"],"client_id":"demo","daily_limit":3,"filing_id":"F-1","hours":"09:00-20:00","issued_at":1,"kind":"filing.approve","numbers":[{"carrier":"中国电信","comm_type":"voice","number":"075538833883","number_type":"fixed"},{"carrier":"中国移动","comm_type":"sms","number":"1069000","number_type":"106"}]"#
        );
    }

    #[test]
    fn a_filing_out_of_canonical_order_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut f = filing();
        f.numbers.reverse();
        let tx = Transaction::Operator(
            OperatorAction::ApproveFiling { client_id: "demo".into(), filing: f }.sign(&key, 1),
        );
        let err = Transaction::from_canonical(&tx.canonical_bytes()).unwrap_err();
        assert_eq!(
            err,
            TxError::Field {
                field: "numbers",
                reason: "expected sorted by comm_type then number, no repeats"
            }
        );
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        let spaced = br#"{"client_id": "Dv8G4Ngh","deposit_hash":"fbd2c729d11db4fb8e4660c9d1769665","kind":"voice.consent","phone":"C6AAA43716949506D38CF6A1BAA2F576","sign_time":1604339389}"#;
        assert_eq!(Transaction::from_canonical(spaced), Err(TxError::NotCanonical));
    }

    #[test]
    fn operator_signature_covers_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let tx = OperatorAction::SuspendClient { client_id: "demo".into(), reason: "r".into() }
            .sign(&key, 5);
        tx.verify(&key.verifying_key()).unwrap();

        let mut later = tx.clone();
        later.issued_at = 6;
        assert_eq!(later.verify(&key.verifying_key()), Err(TxError::BadSignature));
        let mut other = tx.clone();
        other.action =
            OperatorAction::SuspendClient { client_id: "demo2".into(), reason: "r".into() };
        assert_eq!(other.verify(&key.verifying_key()), Err(TxError::BadSignature));
        let stranger = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(tx.verify(&stranger.verifying_key()), Err(TxError::BadSignature));
    }
}
