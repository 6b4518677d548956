//! What members send each other outside Malachite's own messages: a whole block (sync,
//! undecided proposals) and a gossiped batch of transactions. Decoding never panics, and what
//! decodes encodes back to the same bytes.
#![no_main]

use cunzheng_types::wire::{decode_block, decode_gossip, encode_block, encode_gossip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = decode_block(data) {
        assert_eq!(
            decode_block(&encode_block(&block)).expect("own bytes decode").header,
            block.header
        );
    }
    if let Ok(txs) = decode_gossip(data) {
        assert_eq!(encode_gossip(&txs), data);
    }
});
