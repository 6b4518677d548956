//! Key layouts of the index column families. Integers are big-endian so that keys sort in
//! numeric order; variable-length parts end in a 0 byte (client ids and deposit hashes are
//! ASCII letters, digits, `_` and `-`, never 0).

use cunzheng_types::{Channel, Hash, Record};

/// The 16 bytes of an MD5 phone hash given as 32 hex digits.
pub fn phone_bytes(phone: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    // Phones are validated as 32 hex digits before they reach the store.
    let _ = hex::decode_to_slice(phone, &mut out);
    out
}

/// `client id, 0, kind code`: the start of a client's records of one kind in time order.
pub fn client_kind_prefix(client_id: &str, kind: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 42);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.push(kind);
    k
}

pub fn client_time(client_id: &str, kind: u8, time: u64, id: &Hash) -> Vec<u8> {
    let mut k = client_kind_prefix(client_id, kind);
    k.extend_from_slice(&time.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

pub fn phone_client_prefix(phone: &[u8; 16], client_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 57);
    k.extend_from_slice(phone);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k
}

pub fn phone(phone: &[u8; 16], client_id: &str, time: u64, id: &Hash) -> Vec<u8> {
    let mut k = phone_client_prefix(phone, client_id);
    k.extend_from_slice(&time.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The one-byte code of a record's kind, stored as the phone index's value.
pub fn kind_code(record: &Record) -> u8 {
    match (record, record.channel()) {
        (Record::Consent { .. }, Channel::Voice) => 1,
        (Record::Call { .. }, _) => 2,
        (Record::Withdraw { .. }, Channel::Voice) => 3,
        (Record::Consent { .. }, Channel::Sms) => 4,
        (Record::Message { .. }, _) => 5,
        (Record::Withdraw { .. }, Channel::Sms) => 6,
    }
}

/// The kind named by a code of [`kind_code`].
pub fn kind_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "voice.consent",
        2 => "voice.call",
        3 => "voice.withdraw",
        4 => "sms.consent",
        5 => "sms.message",
        6 => "sms.withdraw",
        _ => return None,
    })
}

/// The code of a record kind's name.
pub fn kind_code_of(kind: &str) -> Option<u8> {
    (1..=6).find(|c| kind_name(*c) == Some(kind))
}

pub fn deposit(deposit_hash: &str, id: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(deposit_hash.len() + 33);
    k.extend_from_slice(deposit_hash.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Splits a `time (8) || id (32)` suffix.
pub fn split_time_id(rest: &[u8]) -> Option<(u64, Hash)> {
    if rest.len() != 40 {
        return None;
    }
    let time = u64::from_be_bytes(rest[..8].try_into().ok()?);
    Some((time, Hash(rest[8..].try_into().ok()?)))
}
