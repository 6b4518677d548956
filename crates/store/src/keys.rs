//! Key layouts of the index column families. Integers are big-endian so that keys sort in
//! numeric order; variable-length parts end in a 0 byte (client ids and deposit hashes are
//! ASCII letters, digits, `_` and `-`, never 0).

use cunzheng_types::{Channel, Hash};

/// The 16 bytes of an MD5 phone hash given as 32 hex digits.
pub fn phone_bytes(phone: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    // Phones are validated as 32 hex digits before they reach the store.
    let _ = hex::decode_to_slice(phone, &mut out);
    out
}

pub fn client_time(client_id: &str, time: u64, id: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 41);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&time.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

pub fn phone(phone: &[u8; 16], id: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(48);
    k.extend_from_slice(phone);
    k.extend_from_slice(id.as_bytes());
    k
}

pub fn deposit(deposit_hash: &str, id: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(deposit_hash.len() + 33);
    k.extend_from_slice(deposit_hash.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

pub fn consent_prefix(client_id: &str, channel: Channel, phone: &[u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 58);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.push(match channel {
        Channel::Voice => b'v',
        Channel::Sms => b's',
    });
    k.extend_from_slice(phone);
    k
}

pub fn consent(
    client_id: &str,
    channel: Channel,
    phone: &[u8; 16],
    time: u64,
    id: &Hash,
) -> Vec<u8> {
    let mut k = consent_prefix(client_id, channel, phone);
    k.extend_from_slice(&time.to_be_bytes());
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
