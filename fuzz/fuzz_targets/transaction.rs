//! Canonical transaction bytes as a member receives them: decoding never panics, and a
//! transaction that decodes re-encodes to exactly the bytes it came from.
#![no_main]

use cunzheng_types::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = Transaction::from_canonical(data) {
        assert_eq!(tx.canonical_bytes(), data, "canonical bytes are the only encoding");
    }
});
