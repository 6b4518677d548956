//! The block builder: a bounded transaction pool, block execution, and the three steps a
//! consensus engine drives — propose a block, validate a received one, commit a decided one
//! with its certificate.
//!
//! ```text
//!  gateway ──submit──▶ Pool ──reap──▶ propose ──▶ (consensus) ──▶ commit ──▶ ChainStore
//!                       ▲                                    │
//!                       └────── receipts resolve on commit ◀─┘
//! ```
//!
//! A transaction stays in the pool until a committed block holds it, so a proposal that is
//! not decided loses nothing. Submitting a transaction that is already pooled or committed
//! adds nothing and resolves when (or because) it is committed.

mod chain;
mod checkpoint;
mod execute;
mod pool;

pub use chain::{BlockError, Chain, ChainConfig, ChainError, MAX_CLOCK_AHEAD_MS};
pub use checkpoint::{CheckpointSignature, Checkpoints, CosignError};
pub use execute::{ClientView, ExecError};
pub use pool::{PoolFull, Receipt, Rejected};
