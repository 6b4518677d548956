//! A proof bundle as an auditor receives it, checked against a fixed genesis: any input is
//! accepted or refused without a panic.
#![no_main]

use std::sync::OnceLock;

use cunzheng_types::{Genesis, ProofBundle};
use libfuzzer_sys::fuzz_target;

fn genesis() -> &'static Genesis {
    static G: OnceLock<Genesis> = OnceLock::new();
    G.get_or_init(|| serde_json::from_str(include_str!("../seeds/genesis.json")).expect("genesis"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = serde_json::from_slice::<ProofBundle>(data) {
        let _ = bundle.verify(genesis());
    }
});
