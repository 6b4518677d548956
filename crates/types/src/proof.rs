//! The proof bundle: one self-contained JSON document that proves a record is in the chain,
//! checkable offline with nothing but the genesis document an auditor already trusts.
//!
//! ```text
//!  tx ──JCS──> leaf hash = tx_id ──tx_path──> block.header.tx_root
//!                   │                          block.header ──hash──> signed by > 2/3 of genesis
//!                   └──────log_path──────────> checkpoint.header.log_root
//!                                              checkpoint.header ──hash──> signed by > 2/3
//! ```
//!
//! The block proves where the record was first committed; the checkpoint (the newest block
//! when the bundle was made) proves that the record is still in the append-only log that every
//! later block extends, so a bundle can be checked against a checkpoint seen elsewhere.
//!
//! [`ProofBundle::verify`] performs the checks in the order above and names the first that
//! fails.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    block::{BlockHeader, Certificate, CertificateError},
    canonical::to_jcs,
    genesis::Genesis,
    hash::{sha256, Hash},
    merkle::{self, ProofError},
};

/// The bundle format this code writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// A block header with the certificate that commits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedHeader {
    pub header: BlockHeader,
    pub certificate: Certificate,
}

/// Everything needed to check one record offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofBundle {
    pub version: u32,
    /// `SHA-256(JCS(genesis))` of the chain.
    pub genesis_hash: Hash,
    /// The transaction as a JSON object; its JCS bytes are the leaf.
    pub tx: Value,
    /// Its leaf hash.
    pub tx_id: Hash,
    /// The block that holds it.
    pub block: CertifiedHeader,
    /// Its position in the block.
    pub tx_index: u64,
    /// Audit path from the leaf to `block.header.tx_root`, nearest sibling first.
    pub tx_path: Vec<Hash>,
    /// Its position in the log of every transaction since genesis.
    pub log_index: u64,
    /// A later (or the same) block whose `log_root` the record is proven against.
    pub checkpoint: CertifiedHeader,
    /// Audit path from the leaf to `checkpoint.header.log_root`.
    pub log_path: Vec<Hash>,
}

/// The first check a bundle fails.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// The bundle is of a format this code does not read.
    #[error("bundle version {0} is not {BUNDLE_VERSION}")]
    Version(u32),
    /// The bundle names another genesis than the one trusted.
    #[error("genesis hash {bundle} differs from the trusted genesis {trusted}")]
    Genesis { bundle: Hash, trusted: Hash },
    /// The transaction is not JSON that JCS can encode.
    #[error("transaction has no canonical bytes: {0}")]
    Canonical(String),
    /// The transaction's leaf hash is not the claimed id.
    #[error("leaf hash of the transaction is {computed}, not tx_id {claimed}")]
    LeafHash { computed: Hash, claimed: Hash },
    /// The audit path does not lead to the block's `tx_root`.
    #[error("tx_path does not lead to the block's tx_root: {0}")]
    TxPath(ProofError),
    /// A header belongs to another chain.
    #[error("{which} header is of chain {chain_id}, not {trusted}")]
    Chain { which: &'static str, chain_id: String, trusted: String },
    /// A certificate does not commit its header under the trusted validator set.
    #[error("{which} certificate: {error}")]
    Certificate { which: &'static str, error: CertificateError },
    /// The checkpoint is older than the block.
    #[error("checkpoint at height {checkpoint} is older than the block at {block}")]
    CheckpointTooOld { checkpoint: u64, block: u64 },
    /// The log index disagrees with the block's place in the log.
    #[error("log_index {claimed} is not the block's log position {computed}")]
    LogIndex { claimed: u64, computed: u64 },
    /// The audit path does not lead to the checkpoint's `log_root`.
    #[error("log_path does not lead to the checkpoint's log_root: {0}")]
    LogPath(ProofError),
}

impl ProofBundle {
    /// Checks the bundle against `genesis`, returning one line for each check that held.
    pub fn verify(&self, genesis: &Genesis) -> Result<Vec<String>, BundleError> {
        BundleVerifier::new(genesis).verify(self)
    }
}

/// Checks bundles against one trusted genesis. A block header whose certificate held once is
/// not checked again for a later bundle carrying the same header and certificate, so a batch
/// of bundles against one checkpoint costs the checkpoint's signatures once.
#[derive(Debug)]
pub struct BundleVerifier<'g> {
    genesis: &'g Genesis,
    genesis_hash: Hash,
    /// `SHA-256(JCS(header) || JSON(certificate))` of each pair that verified.
    certified: HashSet<Hash>,
}

impl<'g> BundleVerifier<'g> {
    pub fn new(genesis: &'g Genesis) -> Self {
        BundleVerifier { genesis, genesis_hash: genesis.hash(), certified: HashSet::new() }
    }

    /// Checks `bundle`, returning one line for each check that held.
    pub fn verify(&mut self, bundle: &ProofBundle) -> Result<Vec<String>, BundleError> {
        let (genesis, b) = (self.genesis, bundle);
        let mut held = Vec::new();
        if b.version != BUNDLE_VERSION {
            return Err(BundleError::Version(b.version));
        }
        let trusted = self.genesis_hash;
        if b.genesis_hash != trusted {
            return Err(BundleError::Genesis { bundle: b.genesis_hash, trusted });
        }
        held.push(format!("genesis {trusted} ({} validators)", genesis.validators.len()));

        let bytes = to_jcs(&b.tx).map_err(|e| BundleError::Canonical(e.to_string()))?;
        let computed = merkle::leaf_hash(&bytes);
        if computed != b.tx_id {
            return Err(BundleError::LeafHash { computed, claimed: b.tx_id });
        }
        held.push(format!(
            "leaf hash of the transaction's {} canonical bytes is tx_id",
            bytes.len()
        ));

        let block = &b.block.header;
        merkle::verify_inclusion(&b.tx_id, b.tx_index, block.tx_count, &b.tx_path, &block.tx_root)
            .map_err(BundleError::TxPath)?;
        held.push(format!(
            "tx_path places it at {} of {} under tx_root {}",
            b.tx_index, block.tx_count, block.tx_root
        ));
        self.check_certified("block", &b.block)?;
        held.push(format!(
            "block {} ({}) signed by {}",
            block.height,
            block.hash(),
            signers(&b.block, genesis)
        ));

        let checkpoint = &b.checkpoint.header;
        if checkpoint.height < block.height {
            return Err(BundleError::CheckpointTooOld {
                checkpoint: checkpoint.height,
                block: block.height,
            });
        }
        self.check_certified("checkpoint", &b.checkpoint)?;
        held.push(format!(
            "checkpoint block {} ({}) signed by {}",
            checkpoint.height,
            checkpoint.hash(),
            signers(&b.checkpoint, genesis)
        ));
        // The block's leaves are the last `tx_count` of its log.
        let computed = (block.log_size - block.tx_count.min(block.log_size)) + b.tx_index;
        if b.log_index != computed {
            return Err(BundleError::LogIndex { claimed: b.log_index, computed });
        }
        merkle::verify_inclusion(
            &b.tx_id,
            b.log_index,
            checkpoint.log_size,
            &b.log_path,
            &checkpoint.log_root,
        )
        .map_err(BundleError::LogPath)?;
        held.push(format!(
            "log_path places it at {} of {} under log_root {}",
            b.log_index, checkpoint.log_size, checkpoint.log_root
        ));
        Ok(held)
    }

    fn check_certified(
        &mut self,
        which: &'static str,
        c: &CertifiedHeader,
    ) -> Result<(), BundleError> {
        let genesis = self.genesis;
        let pair = sha256(&[
            &c.header.canonical_bytes(),
            &serde_json::to_vec(&c.certificate).expect("a certificate serializes"),
        ]);
        if self.certified.contains(&pair) {
            return Ok(());
        }
        if c.header.chain_id != genesis.chain_id {
            return Err(BundleError::Chain {
                which,
                chain_id: c.header.chain_id.clone(),
                trusted: genesis.chain_id.clone(),
            });
        }
        c.certificate
            .verify(&c.header, genesis)
            .map_err(|error| BundleError::Certificate { which, error })?;
        self.certified.insert(pair);
        Ok(())
    }
}

/// The names of a certificate's signers, as genesis lists them.
fn signers(c: &CertifiedHeader, genesis: &Genesis) -> String {
    let names: Vec<&str> = c
        .certificate
        .signatures
        .iter()
        .filter_map(|s| genesis.validator(&s.validator).map(|v| v.name.as_str()))
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::{
        block::{CommitSignature, BLOCK_VERSION},
        merkle::Frontier,
        PublicKey,
    };

    fn keys() -> Vec<SigningKey> {
        (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
    }

    fn genesis() -> Genesis {
        Genesis::of_members(
            "proof-test",
            0,
            keys().iter().enumerate().map(|(i, k)| (format!("m{i}"), k.verifying_key().into())),
            PublicKey([9; 32]),
        )
    }

    fn tx(i: u64) -> Value {
        json!({"kind": "voice.consent", "client_id": "c1", "phone": format!("{i:032X}"),
               "deposit_hash": format!("d{i}"), "sign_time": 1_700_000_000 + i})
    }

    fn certify(header: BlockHeader, signers: &[SigningKey]) -> CertifiedHeader {
        let signatures =
            signers.iter().map(|k| Certificate::sign_precommit(k, &header, 0)).collect();
        let certificate =
            Certificate { height: header.height, round: 0, block_hash: header.hash(), signatures };
        CertifiedHeader { header, certificate }
    }

    /// Eight records in two blocks of five and three: their ids and the certified headers.
    fn chain() -> (Vec<Hash>, Vec<CertifiedHeader>) {
        let ids: Vec<Hash> = (0..8).map(|i| merkle::leaf_hash(&to_jcs(&tx(i)).unwrap())).collect();
        let mut log = Frontier::default();
        let mut prev = genesis().hash();
        let mut blocks = Vec::new();
        for (height, range) in [(1u64, 0..5), (2, 5..8)] {
            ids[range.clone()].iter().for_each(|id| log.push(*id));
            let header = BlockHeader {
                version: BLOCK_VERSION,
                chain_id: "proof-test".into(),
                height,
                time: 1_700_000_000_000 + height,
                prev_hash: prev,
                tx_root: merkle::root(&ids[range.clone()]),
                tx_count: range.len() as u64,
                log_root: log.root(),
                log_size: log.size,
                proposer: keys()[0].verifying_key().into(),
            };
            prev = header.hash();
            blocks.push(certify(header, &keys()[..3]));
        }
        (ids, blocks)
    }

    /// A bundle for record `which` (0 to 7) proven against block `checkpoint` (1 or 2).
    fn bundle_at(which: usize, checkpoint: usize) -> ProofBundle {
        let (ids, blocks) = chain();
        let (block, first) = if which < 5 { (0, 0) } else { (1, 5) };
        let log_size = blocks[checkpoint - 1].header.log_size as usize;
        ProofBundle {
            version: BUNDLE_VERSION,
            genesis_hash: genesis().hash(),
            tx: tx(which as u64),
            tx_id: ids[which],
            block: blocks[block].clone(),
            tx_index: (which - first) as u64,
            tx_path: merkle::inclusion_proof(&ids[first..first + 5 - 2 * block], which - first),
            log_index: which as u64,
            checkpoint: blocks[checkpoint - 1].clone(),
            log_path: merkle::inclusion_proof(&ids[..log_size.max(which + 1)], which),
        }
    }

    /// A bundle for record `which` of block 1, proven against block 2 as the checkpoint.
    fn bundle(which: usize) -> ProofBundle {
        bundle_at(which, 2)
    }

    fn refused(b: &ProofBundle) -> BundleError {
        b.verify(&genesis()).expect_err("a tampered bundle is refused")
    }

    #[test]
    fn a_bundle_verifies_and_says_what_it_checked() {
        for which in 0..5 {
            let held = bundle(which).verify(&genesis()).unwrap();
            assert_eq!(held.len(), 6, "{held:?}");
        }
    }

    #[test]
    fn a_bundle_round_trips_through_json() {
        let b = bundle(2);
        let text = serde_json::to_string(&b).unwrap();
        let back: ProofBundle = serde_json::from_str(&text).unwrap();
        assert_eq!(back, b);
        assert!(back.verify(&genesis()).is_ok());
    }

    #[test]
    fn every_transaction_field_is_covered() {
        let fields = ["kind", "client_id", "phone", "deposit_hash", "sign_time"];
        for field in fields {
            let mut b = bundle(1);
            b.tx[field] = match &b.tx[field] {
                Value::Number(n) => json!(n.as_u64().unwrap() + 1),
                _ => json!("tampered"),
            };
            assert!(matches!(refused(&b), BundleError::LeafHash { .. }), "{field}");
        }
        let mut b = bundle(1);
        b.tx["extra"] = json!(1);
        assert!(matches!(refused(&b), BundleError::LeafHash { .. }));
        let mut b = bundle(1);
        b.tx_id = bundle(2).tx_id;
        assert!(matches!(refused(&b), BundleError::LeafHash { .. }));
    }

    #[test]
    fn every_path_element_and_index_is_covered() {
        let b = bundle(3);
        for i in 0..b.tx_path.len() {
            let mut t = b.clone();
            t.tx_path[i].0[0] ^= 1;
            assert!(matches!(refused(&t), BundleError::TxPath(_)), "tx_path[{i}]");
        }
        for i in 0..b.log_path.len() {
            let mut t = b.clone();
            t.log_path[i].0[31] ^= 1;
            assert!(matches!(refused(&t), BundleError::LogPath(_)), "log_path[{i}]");
        }
        let mut t = b.clone();
        t.tx_path.pop();
        assert!(matches!(refused(&t), BundleError::TxPath(_)));
        let mut t = b.clone();
        t.tx_index = 2;
        assert!(matches!(refused(&t), BundleError::TxPath(_)));
        let mut t = b.clone();
        t.log_index = 4;
        assert!(matches!(refused(&t), BundleError::LogIndex { .. }));
        let mut t = b.clone();
        t.log_path.push(Hash([0; 32]));
        assert!(matches!(refused(&t), BundleError::LogPath(_)));
    }

    #[test]
    fn every_header_field_is_covered() {
        type Edit = fn(&mut BlockHeader);
        let edits: [(&str, Edit); 10] = [
            ("version", |h| h.version += 1),
            ("chain_id", |h| h.chain_id.push('x')),
            ("height", |h| h.height += 1),
            ("time", |h| h.time += 1),
            ("prev_hash", |h| h.prev_hash.0[0] ^= 1),
            ("tx_root", |h| h.tx_root.0[0] ^= 1),
            ("tx_count", |h| h.tx_count += 1),
            ("log_root", |h| h.log_root.0[0] ^= 1),
            ("log_size", |h| h.log_size += 1),
            ("proposer", |h| h.proposer.0[0] ^= 1),
        ];
        for (field, edit) in edits {
            for which in ["block", "checkpoint"] {
                let mut b = bundle(0);
                let target = if which == "block" { &mut b.block } else { &mut b.checkpoint };
                edit(&mut target.header);
                // Whichever check notices first, the bundle must not verify.
                assert!(b.verify(&genesis()).is_err(), "{which}.{field}");
            }
        }
    }

    #[test]
    fn every_signature_and_the_signer_set_are_covered() {
        for which in ["block", "checkpoint"] {
            for i in 0..3 {
                let mut b = bundle(4);
                let c = if which == "block" { &mut b.block } else { &mut b.checkpoint };
                c.certificate.signatures[i].signature[5] ^= 1;
                assert!(
                    matches!(
                        refused(&b),
                        BundleError::Certificate { error: CertificateError::BadSignature(_), .. }
                    ),
                    "{which} signature {i}"
                );
            }
            // Two of four signers are not more than two thirds.
            let mut b = bundle(4);
            let c = if which == "block" { &mut b.block } else { &mut b.checkpoint };
            c.certificate.signatures.pop();
            assert!(matches!(
                refused(&b),
                BundleError::Certificate { error: CertificateError::NoQuorum { .. }, .. }
            ));
            // A signer outside genesis, and one member counted twice.
            let mut b = bundle(4);
            let c = if which == "block" { &mut b.block } else { &mut b.checkpoint };
            let stranger = SigningKey::from_bytes(&[7; 32]);
            c.certificate.signatures[2] = Certificate::sign_precommit(&stranger, &c.header, 0);
            assert!(matches!(
                refused(&b),
                BundleError::Certificate { error: CertificateError::UnknownSigner(_), .. }
            ));
            let mut b = bundle(4);
            let c = if which == "block" { &mut b.block } else { &mut b.checkpoint };
            let first: CommitSignature = c.certificate.signatures[0].clone();
            c.certificate.signatures[2] = first;
            assert!(matches!(
                refused(&b),
                BundleError::Certificate { error: CertificateError::DuplicateSigner(_), .. }
            ));
            let mut b = bundle(4);
            let c = if which == "block" { &mut b.block } else { &mut b.checkpoint };
            c.certificate.round += 1;
            assert!(matches!(refused(&b), BundleError::Certificate { .. }));
        }
    }

    #[test]
    fn a_verifier_checks_a_header_once_but_still_refuses_a_tampered_certificate() {
        let g = genesis();
        let mut verifier = BundleVerifier::new(&g);
        for which in 0..5 {
            verifier.verify(&bundle(which)).unwrap();
        }
        assert_eq!(verifier.certified.len(), 2, "block 1 and the checkpoint, once each");
        let mut b = bundle(1);
        b.checkpoint.certificate.signatures[0].signature[3] ^= 1;
        assert!(matches!(
            verifier.verify(&b),
            Err(BundleError::Certificate { which: "checkpoint", .. })
        ));
        let mut b = bundle(2);
        b.block.header.time += 1;
        assert!(matches!(
            verifier.verify(&b),
            Err(BundleError::Certificate { which: "block", .. })
        ));
    }

    #[test]
    fn another_genesis_version_or_an_old_checkpoint_is_refused() {
        let mut other = genesis();
        other.validators.pop();
        assert!(matches!(bundle(0).verify(&other), Err(BundleError::Genesis { .. })));
        let mut b = bundle(0);
        b.version = 2;
        assert_eq!(refused(&b), BundleError::Version(2));
        let mut b = bundle(0);
        b.genesis_hash.0[0] ^= 1;
        assert!(matches!(refused(&b), BundleError::Genesis { .. }));
        // The block itself as checkpoint is fine; an earlier block is not.
        assert!(bundle_at(3, 1).verify(&genesis()).is_ok());
        assert!(bundle_at(6, 2).verify(&genesis()).is_ok());
        assert_eq!(
            refused(&bundle_at(6, 1)),
            BundleError::CheckpointTooOld { checkpoint: 1, block: 2 }
        );
    }
}
