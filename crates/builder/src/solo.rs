//! A chain of one validator: the node proposes, precommits and commits its own blocks.
//!
//! TODO: the consortium issue replaces this loop with the Malachite engine, so that a dev node
//! is a consortium of one on the same path as four members; until then this is how a single
//! node decides blocks, with the same propose, certificate and commit steps.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use cunzheng_types::{unix_now_ms, Certificate};
use ed25519_dalek::SigningKey;
use tracing::{error, info};

use crate::chain::Chain;

/// Runs block production on its own thread until stopped.
pub struct SoloValidator {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    chain: Arc<Chain>,
}

impl SoloValidator {
    /// Starts producing blocks with `key`, which must be the genesis validator's.
    pub fn start(chain: Arc<Chain>, key: SigningKey) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (chain, stop) = (chain.clone(), stop.clone());
            thread::Builder::new()
                .name("block-producer".into())
                .spawn(move || produce(&chain, &key, &stop))
                .expect("spawn block producer")
        };
        SoloValidator { stop, thread: Some(thread), chain }
    }

    /// Finishes the block under way, then stops.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.chain.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SoloValidator {
    fn drop(&mut self) {
        self.halt();
    }
}

fn produce(chain: &Chain, key: &SigningKey, stop: &AtomicBool) {
    let proposer = key.verifying_key().into();
    info!(target: "builder", "single-validator block production started");
    while !stop.load(Ordering::SeqCst) {
        if chain.wait_for_block(Instant::now() + Duration::from_millis(200)) == 0 {
            continue;
        }
        let block = chain.propose(proposer, unix_now_ms());
        if block.txs.is_empty() {
            continue;
        }
        let cert = Certificate {
            height: block.header.height,
            round: 0,
            block_hash: block.header.hash(),
            signatures: vec![Certificate::sign_precommit(key, &block.header, 0)],
        };
        if let Err(e) = chain.commit(&block, &cert) {
            // A failed write (a full disk, say) leaves the pool as it was: retry after a pause.
            error!(target: "builder", height = block.header.height, error = %e, "block commit failed");
            thread::sleep(Duration::from_millis(500));
        }
    }
    info!(target: "builder", "block production stopped");
}
