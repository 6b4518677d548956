//! RFC 8785 JSON Canonicalization Scheme (JCS) for the values this ledger hashes and signs.
//!
//! The rules, for the subset of JSON the ledger uses (objects, arrays, strings, integers,
//! booleans, null):
//!
//! - object members sorted by key, compared as UTF-16 code units;
//! - no white space;
//! - integers written in decimal without exponent (non-integral numbers are refused: no
//!   ledger field is fractional, and refusing them keeps every implementation exact);
//! - strings as UTF-8, escaping only `"`, `\` and control characters (`\b \t \n \f \r`,
//!   others as `\u00xx` with lowercase hex).
//!
//! ```
//! use cunzheng_types::canonical::to_jcs;
//! let v = serde_json::json!({"b": 1, "a": "x\n"});
//! assert_eq!(to_jcs(&v).unwrap(), br#"{"a":"x\n","b":1}"#);
//! ```

use serde::Serialize;
use serde_json::Value;

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// A number that is not an integer (JCS would need ECMAScript float formatting).
    #[error("non-integral number {0} has no canonical form here")]
    NonIntegral(String),
    /// The value could not be turned into JSON at all.
    #[error("not representable as JSON: {0}")]
    NotJson(String),
}

/// Canonical bytes of a JSON value.
pub fn to_jcs(v: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, v)?;
    Ok(out)
}

/// Canonical bytes of any serializable value, through its JSON form.
pub fn to_jcs_of<T: Serialize>(v: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(v).map_err(|e| CanonicalError::NotJson(e.to_string()))?;
    to_jcs(&value)
}

fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                write_u64(out, i);
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return Err(CanonicalError::NonIntegral(n.to_string()));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Writes an unsigned integer in decimal.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a JSON string with JCS escaping.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+E000 sorts after U+1F600 in UTF-8 byte order but before it in UTF-16.
        let v = json!({"\u{1F600}": 1, "\u{E000}": 2, "a": 3});
        assert_eq!(
            String::from_utf8(to_jcs(&v).unwrap()).unwrap(),
            "{\"a\":3,\"\u{1F600}\":1,\"\u{E000}\":2}"
        );
    }

    #[test]
    fn control_characters_escape_as_rfc8785_says() {
        let v = json!("a\u{1}b\u{1f}\"\\/\u{7f}é");
        assert_eq!(
            String::from_utf8(to_jcs(&v).unwrap()).unwrap(),
            "\"a\\u0001b\\u001f\\\"\\\\/\u{7f}é\""
        );
    }

    #[test]
    fn nested_values_have_no_white_space() {
        let v = json!({"z": [1, {"b": null, "a": true}], "y": -5});
        assert_eq!(to_jcs(&v).unwrap(), br#"{"y":-5,"z":[1,{"a":true,"b":null}]}"#);
    }

    #[test]
    fn fractions_are_refused() {
        assert!(matches!(to_jcs(&json!({"a": 1.5})), Err(CanonicalError::NonIntegral(_))));
    }

    #[test]
    fn integers_print_in_full() {
        let mut out = Vec::new();
        for n in [0u64, 7, 10, 1_604_339_389, u64::MAX] {
            out.clear();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
