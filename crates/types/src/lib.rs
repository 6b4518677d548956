//! The ledger's data model, with no I/O: enterprise records and their validation, transactions
//! and their canonical bytes, block headers, commit certificates, genesis, and RFC 9162 Merkle
//! trees and proofs.
//!
//! Everything an auditor needs to check a record offline lives here, so that a verifier can
//! depend on this crate alone. Every byte that is hashed or signed is RFC 8785 (JCS) JSON,
//! produced by [`canonical`].

pub mod block;
pub mod canonical;
pub mod checkpoint;
pub mod client_key;
pub mod compliance;
pub mod genesis;
pub mod hash;
pub mod merkle;
pub mod proof;
pub mod record;
pub mod replay;
pub mod tx;
pub mod wire;

pub use block::{
    Block, BlockHeader, Certificate, CertificateError, CommitSignature, PublicKey, VoteKind,
    VoteSignBytes,
};
pub use genesis::{Genesis, Validator};
pub use hash::{sha256, Hash};
pub use proof::{BundleError, CertifiedHeader, ProofBundle};
pub use record::{Channel, Record, RecordError};
pub use tx::{AuthScheme, OperatorAction, OperatorTx, RecordTx, SealedTx, Transaction, TxError};

/// Current Unix time in seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Current Unix time in milliseconds.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
