//! A deposit body as the gateway reads it: JSON, then every list item as a record of each of
//! the six endpoints. Any input gets a value or an error, never a panic; a record that is
//! accepted has canonical bytes that decode back to the same transaction.
#![no_main]

use cunzheng_types::{record::Endpoint, Record, RecordTx, Transaction};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let list = match body.pointer("/param/list").or_else(|| body.get("list")) {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![body],
    };
    for endpoint in Endpoint::ALL {
        for (i, item) in list.iter().enumerate().take(64) {
            if let Ok(record) = Record::from_json(endpoint, i, item, 1_764_806_400, 1_764_806_460) {
                let tx = Transaction::Record(RecordTx { client_id: "fuzz".into(), record });
                let bytes = tx.canonical_bytes();
                assert_eq!(Transaction::from_canonical(&bytes).expect("own bytes decode"), tx);
            }
        }
    }
});
