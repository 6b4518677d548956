//! The members' signatures of the log's checkpoints (see [`cunzheng_types::checkpoint`]).
//!
//! After each commit a member signs the checkpoint of its new log size with its validator
//! key and gossips the signature; it keeps the signatures it receives from the other members,
//! each checked against genesis, for the most recent checkpoints. The newest checkpoint that
//! members holding more than two thirds of the voting power have signed is the one served.
//! Empty blocks leave the log as it was, so they add no new checkpoint.

use std::collections::BTreeMap;

use cunzheng_types::{
    checkpoint::{self, Checkpoint, Cosignature},
    Genesis, Hash, PublicKey,
};
use ed25519_dalek::SigningKey;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::debug;

/// Checkpoints kept with their signatures; older ones are dropped first.
const KEPT: usize = 64;

/// A member's signature of the checkpoint of log size `size` with root `root`, as it travels
/// between members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSignature {
    pub size: u64,
    pub root: Hash,
    pub signer: PublicKey,
    pub signature: [u8; 64],
}

/// Why a received checkpoint signature was not kept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignError {
    /// The signer is not a genesis validator.
    #[error("signer {0} is not a member")]
    NotAMember(String),
    /// The signature does not verify over the checkpoint.
    #[error("signature of {0} does not verify")]
    BadSignature(String),
}

/// The checkpoints this node knows and who signed them.
pub struct Checkpoints {
    genesis: Genesis,
    signer: Mutex<Option<SigningKey>>,
    /// By log size, then root (members that disagree sign different roots).
    signed: Mutex<BTreeMap<(u64, Hash), Vec<Cosignature>>>,
    gossip: Mutex<Option<mpsc::Sender<CheckpointSignature>>>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints").field("kept", &self.signed.lock().len()).finish()
    }
}

impl Checkpoints {
    pub fn new(genesis: Genesis) -> Self {
        Checkpoints {
            genesis,
            signer: Mutex::new(None),
            signed: Mutex::new(BTreeMap::new()),
            gossip: Mutex::new(None),
        }
    }

    /// Makes this node sign every new checkpoint with `key`, a genesis validator's.
    pub fn set_signer(&self, key: SigningKey) {
        *self.signer.lock() = Some(key);
    }

    /// Sends this node's signatures to `gossip`.
    pub fn set_gossip(&self, gossip: mpsc::Sender<CheckpointSignature>) {
        *self.gossip.lock() = Some(gossip);
    }

    fn checkpoint(&self, size: u64, root: Hash) -> Checkpoint {
        Checkpoint { origin: checkpoint::origin(&self.genesis.chain_id), size, root }
    }

    /// Signs the checkpoint of a newly committed log, if this node is a member, and gossips
    /// the signature.
    pub fn sign(&self, size: u64, root: Hash) -> Option<CheckpointSignature> {
        let signer = self.signer.lock().clone()?;
        let public: PublicKey = signer.verifying_key().into();
        let member = self.genesis.validator(&public)?;
        let c = self.checkpoint(size, root);
        let cosignature = c.sign(&self.genesis.chain_id, &member.name, &signer);
        let message =
            CheckpointSignature { size, root, signer: public, signature: cosignature.signature };
        self.keep(size, root, cosignature);
        self.publish(&message);
        Some(message)
    }

    /// This node's signature of the newest checkpoint it signed, sent again so that a member
    /// that restarted learns it.
    pub fn republish(&self) {
        let Some(signer) = self.signer.lock().as_ref().map(|k| PublicKey::from(k.verifying_key()))
        else {
            return;
        };
        let own = self.signed.lock().iter().rev().find_map(|(&(size, root), sigs)| {
            sigs.iter().find(|s| s.key == signer).map(|s| CheckpointSignature {
                size,
                root,
                signer,
                signature: s.signature,
            })
        });
        if let Some(message) = own {
            self.publish(&message);
        }
    }

    fn publish(&self, message: &CheckpointSignature) {
        if let Some(gossip) = self.gossip.lock().as_ref() {
            if gossip.try_send(message.clone()).is_err() {
                debug!(target: "builder", size = message.size, "checkpoint gossip queue full");
            }
        }
    }

    /// Keeps another member's signature after checking it. Returns whether it was new.
    pub fn add(&self, s: &CheckpointSignature) -> Result<bool, CosignError> {
        let member = self
            .genesis
            .validator(&s.signer)
            .ok_or_else(|| CosignError::NotAMember(s.signer.to_hex()))?;
        let c = self.checkpoint(s.size, s.root);
        let cosignature = Cosignature {
            name: checkpoint::key_name(&self.genesis.chain_id, &member.name),
            key: s.signer,
            signature: s.signature,
        };
        if !cosignature.verifies(&c.text()) {
            return Err(CosignError::BadSignature(member.name.clone()));
        }
        Ok(self.keep(s.size, s.root, cosignature))
    }

    fn keep(&self, size: u64, root: Hash, cosignature: Cosignature) -> bool {
        let mut signed = self.signed.lock();
        let sigs = signed.entry((size, root)).or_default();
        if sigs.iter().any(|s| s.key == cosignature.key) {
            return false;
        }
        sigs.push(cosignature);
        while signed.len() > KEPT {
            signed.pop_first();
        }
        true
    }

    /// The newest checkpoint signed by more than two thirds of the voting power, as a signed
    /// note with the members' lines in genesis order.
    pub fn latest(&self) -> Option<String> {
        let total = self.genesis.total_power();
        let signed = self.signed.lock();
        signed.iter().rev().find_map(|(&(size, root), sigs)| {
            let mut ordered: Vec<(usize, &Cosignature)> = sigs
                .iter()
                .filter_map(|s| {
                    self.genesis
                        .validators
                        .iter()
                        .position(|v| v.public_key == s.key)
                        .map(|i| (i, s))
                })
                .collect();
            ordered.sort_by_key(|(i, _)| *i);
            let power: u64 = ordered.iter().map(|(i, _)| self.genesis.validators[*i].power).sum();
            (power * 3 > total * 2).then(|| {
                let lines: Vec<Cosignature> = ordered.into_iter().map(|(_, s)| s.clone()).collect();
                checkpoint::signed_note(&self.checkpoint(size, root), &lines)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use cunzheng_types::{sha256, Validator};

    use super::*;

    fn keys() -> Vec<SigningKey> {
        (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
    }

    fn genesis() -> Genesis {
        Genesis::of_members(
            "cosign-test",
            0,
            keys().iter().enumerate().map(|(i, k)| (format!("m{i}"), k.verifying_key().into())),
            PublicKey([9; 32]),
        )
    }

    /// Member `i`'s node, signing for itself.
    fn node(i: usize) -> Checkpoints {
        let c = Checkpoints::new(genesis());
        c.set_signer(keys()[i].clone());
        c
    }

    #[test]
    fn a_checkpoint_is_served_once_three_of_four_signed_it() {
        let root = sha256(&[b"r"]);
        let me = node(0);
        me.sign(10, root).unwrap();
        assert_eq!(me.latest(), None);
        assert!(me.add(&node(3).sign(10, root).unwrap()).unwrap());
        assert_eq!(me.latest(), None);
        assert!(me.add(&node(1).sign(10, root).unwrap()).unwrap());
        let note = me.latest().expect("three of four signed");
        let (c, signers) = checkpoint::open(&note, &genesis()).unwrap();
        assert_eq!((c.size, c.root), (10, root));
        assert_eq!(signers, ["m0", "m1", "m3"], "lines in genesis order");
        // The same signature again adds nothing.
        assert!(!me.add(&node(1).sign(10, root).unwrap()).unwrap());
    }

    #[test]
    fn the_newest_quorum_wins_and_a_lone_newer_signature_waits() {
        let (old, new) = (sha256(&[b"old"]), sha256(&[b"new"]));
        let me = node(0);
        for i in 1..3 {
            me.add(&node(i).sign(5, old).unwrap()).unwrap();
        }
        me.sign(5, old);
        me.sign(9, new);
        let (c, _) = checkpoint::open(&me.latest().unwrap(), &genesis()).unwrap();
        assert_eq!(c.size, 5);
    }

    #[test]
    fn strangers_and_bad_signatures_are_refused() {
        let root = sha256(&[b"r"]);
        let me = node(0);
        let stranger = Checkpoints::new(Genesis {
            validators: vec![Validator {
                name: "x".into(),
                public_key: SigningKey::from_bytes(&[7; 32]).verifying_key().into(),
                power: 1,
            }],
            ..genesis()
        });
        stranger.set_signer(SigningKey::from_bytes(&[7; 32]));
        let forged = stranger.sign(10, root).unwrap();
        assert!(matches!(me.add(&forged), Err(CosignError::NotAMember(_))));
        let mut wrong = node(2).sign(10, root).unwrap();
        wrong.size = 11;
        assert!(matches!(me.add(&wrong), Err(CosignError::BadSignature(_))));
    }

    #[test]
    fn a_node_without_a_validator_key_signs_nothing() {
        let full = Checkpoints::new(genesis());
        assert_eq!(full.sign(3, sha256(&[b"r"])), None);
    }
}
