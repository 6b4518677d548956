//! Consensus: the ledger's blocks decided by Malachite, Tendermint BFT in Rust.
//!
//! ```text
//!            GetValue                  parts (p2p)              ReceivedProposalPart
//!  pool ──▶ Chain::propose ──▶ host ───────────────▶ members' hosts ──▶ Chain::validate
//!                                │                                         │
//!                                ▼            prevote / precommit          ▼
//!                             Malachite ◀──────────────────────────────▶ Malachite
//!                                │ Decided(certificate)
//!                                ▼
//!                          Chain::commit (one RocksDB batch: block, certificate, indexes)
//! ```
//!
//! This crate holds what Malachite is generic over ([`context`]), the signing of its messages
//! over documented canonical bytes ([`signing`]), their wire encoding ([`codec`]), and the
//! host loop that answers the engine from the block builder and the chain store ([`host`]).
//! The engine brings rounds, timeouts, locking, the write-ahead log and the sync of decided
//! blocks; nothing here decides anything by itself.

pub mod codec;
pub mod context;
mod engine;
pub mod evidence;
pub mod host;
pub mod signing;

pub use context::{Address, BlockId, BlockValue, Ctx, Height, ValidatorSet};
pub use engine::{Consensus, EngineError, EngineSettings};
pub use host::Fault;
pub use malachitebft_app::net::Multiaddr;
pub use malachitebft_core_types::LinearTimeouts;
