//! Block headers, blocks, votes' sign-bytes and commit certificates.
//!
//! ```text
//! header hash = SHA-256(JCS(header))
//! header = {chain_id, height, log_root, log_size, prev_hash, proposer, time, tx_count, tx_root, version}
//! ```
//!
//! `tx_root` is the RFC 9162 root over the block's transaction ids in order; `log_root` and
//! `log_size` describe the tree over every transaction id since genesis, this block's
//! included. Block 1's `prev_hash` is the genesis hash, binding the chain to its validator set.
//!
//! A validator votes by signing the JCS bytes of
//! `{"block_hash": <hex or null>, "chain_id": ..., "height": ..., "round": ..., "type": "prevote" | "precommit"}`.
//! A commit certificate holds the precommits for one header hash by validators with more than
//! two thirds of the voting power.

use std::{fmt, sync::Arc};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;

use crate::{
    canonical::{to_jcs, to_jcs_of},
    genesis::Genesis,
    hash::{sha256, Hash},
    tx::SealedTx,
};

/// The ledger format version written in every header.
pub const BLOCK_VERSION: u32 = 1;

/// An ed25519 public key, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }
}

impl From<VerifyingKey> for PublicKey {
    fn from(k: VerifyingKey) -> Self {
        PublicKey(k.to_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Hash::deserialize(d).map(|h| PublicKey(h.0))
    }
}

/// What a block commits to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub version: u32,
    pub chain_id: String,
    pub height: u64,
    /// Unix milliseconds, as proposed.
    pub time: u64,
    pub prev_hash: Hash,
    pub tx_root: Hash,
    pub tx_count: u64,
    pub log_root: Hash,
    pub log_size: u64,
    pub proposer: PublicKey,
}

impl BlockHeader {
    /// The canonical bytes that are hashed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        to_jcs_of(self).expect("header fields are strings and integers")
    }

    /// `SHA-256(JCS(header))`.
    pub fn hash(&self) -> Hash {
        sha256(&[&self.canonical_bytes()])
    }
}

/// A header and the transactions it orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Arc<SealedTx>>,
}

impl Block {
    /// The transaction ids in block order: the leaves of `tx_root`.
    pub fn tx_ids(&self) -> Vec<Hash> {
        self.txs.iter().map(|t| t.id()).collect()
    }
}

/// The two kinds of vote of Tendermint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteKind {
    Prevote,
    Precommit,
}

/// The statement a validator signs when it votes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteSignBytes<'a> {
    pub kind: VoteKind,
    pub chain_id: &'a str,
    pub height: u64,
    pub round: u32,
    /// The header hash voted for, or none for a nil vote.
    pub block_hash: Option<Hash>,
}

impl VoteSignBytes<'_> {
    /// The documented bytes: JCS of the vote statement.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = json!({
            "type": self.kind,
            "chain_id": self.chain_id,
            "height": self.height,
            "round": self.round,
            "block_hash": self.block_hash.map(|h| h.to_hex()),
        });
        to_jcs(&v).expect("vote fields are strings and integers")
    }
}

/// One validator's precommit inside a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSignature {
    pub validator: PublicKey,
    #[serde(with = "hex_sig")]
    pub signature: [u8; 64],
}

/// Precommits for one header hash from more than two thirds of the voting power.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash,
    pub signatures: Vec<CommitSignature>,
}

/// Why a certificate does not prove a block.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// It certifies another height or header.
    #[error("certificate is for another block")]
    OtherBlock,
    /// A signer is not in the genesis validator set.
    #[error("signer {0} is not a validator")]
    UnknownSigner(String),
    /// A validator signed twice.
    #[error("validator {0} signed twice")]
    DuplicateSigner(String),
    /// A signature does not verify.
    #[error("signature of {0} does not verify")]
    BadSignature(String),
    /// The signers hold two thirds of the voting power or less.
    #[error("signers hold {signed} of {total} voting power, not more than two thirds")]
    NoQuorum { signed: u64, total: u64 },
}

impl Certificate {
    /// Signs a precommit for `header` and returns the signature entry.
    pub fn sign_precommit(key: &SigningKey, header: &BlockHeader, round: u32) -> CommitSignature {
        let bytes = VoteSignBytes {
            kind: VoteKind::Precommit,
            chain_id: &header.chain_id,
            height: header.height,
            round,
            block_hash: Some(header.hash()),
        }
        .to_bytes();
        CommitSignature {
            validator: key.verifying_key().into(),
            signature: key.sign(&bytes).to_bytes(),
        }
    }

    /// Checks that this certificate commits `header` under the validator set of `genesis`.
    pub fn verify(&self, header: &BlockHeader, genesis: &Genesis) -> Result<(), CertificateError> {
        if self.height != header.height || self.block_hash != header.hash() {
            return Err(CertificateError::OtherBlock);
        }
        let bytes = VoteSignBytes {
            kind: VoteKind::Precommit,
            chain_id: &genesis.chain_id,
            height: self.height,
            round: self.round,
            block_hash: Some(self.block_hash),
        }
        .to_bytes();

        let mut seen = Vec::with_capacity(self.signatures.len());
        let mut signed = 0u64;
        for s in &self.signatures {
            let who = s.validator.to_hex();
            let validator = genesis
                .validator(&s.validator)
                .ok_or_else(|| CertificateError::UnknownSigner(who.clone()))?;
            if seen.contains(&s.validator) {
                return Err(CertificateError::DuplicateSigner(who));
            }
            seen.push(s.validator);
            let key = s
                .validator
                .verifying_key()
                .ok_or_else(|| CertificateError::BadSignature(who.clone()))?;
            key.verify(&bytes, &Signature::from_bytes(&s.signature))
                .map_err(|_| CertificateError::BadSignature(who))?;
            signed += validator.power;
        }

        let total = genesis.total_power();
        if signed * 3 <= total * 2 {
            return Err(CertificateError::NoQuorum { signed, total });
        }
        Ok(())
    }
}

mod hex_sig {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(sig))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(s.as_ref(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::empty_root;

    fn header() -> BlockHeader {
        BlockHeader {
            version: BLOCK_VERSION,
            chain_id: "cunzheng-test".into(),
            height: 1,
            time: 1_700_000_000_000,
            prev_hash: Hash([0x11; 32]),
            tx_root: empty_root(),
            tx_count: 0,
            log_root: empty_root(),
            log_size: 0,
            proposer: PublicKey([0x22; 32]),
        }
    }

    /// The header's bytes and hash are part of the ledger format: any change breaks every
    /// verifier. The hash is `printf %s "$BYTES" | sha256sum`.
    #[test]
    fn header_bytes_and_hash_are_pinned() {
        let h = header();
        assert_eq!(
            String::from_utf8(h.canonical_bytes()).unwrap(),
            concat!(
                r#"{"chain_id":"cunzheng-test","height":1,"#,
                r#""log_root":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","log_size":0,"#,
                r#""prev_hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                r#""proposer":"2222222222222222222222222222222222222222222222222222222222222222","#,
                r#""time":1700000000000,"tx_count":0,"#,
                r#""tx_root":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","version":1}"#
            )
        );
        assert_eq!(
            h.hash().to_hex(),
            "ef52136885c1d5f1735b450dd93628050a029f2b96ee0d73747b76734fabe891"
        );
    }

    #[test]
    fn vote_sign_bytes_are_pinned() {
        let v = VoteSignBytes {
            kind: VoteKind::Precommit,
            chain_id: "c",
            height: 3,
            round: 0,
            block_hash: Some(Hash([0xab; 32])),
        };
        assert_eq!(
            String::from_utf8(v.to_bytes()).unwrap(),
            r#"{"block_hash":"abababababababababababababababababababababababababababababababab","chain_id":"c","height":3,"round":0,"type":"precommit"}"#
        );
        let nil = VoteSignBytes { block_hash: None, kind: VoteKind::Prevote, ..v };
        assert_eq!(
            String::from_utf8(nil.to_bytes()).unwrap(),
            r#"{"block_hash":null,"chain_id":"c","height":3,"round":0,"type":"prevote"}"#
        );
    }

    fn genesis(keys: &[SigningKey]) -> Genesis {
        Genesis::of_members(
            "cunzheng-test",
            0,
            keys.iter().enumerate().map(|(i, k)| (format!("m{i}"), k.verifying_key().into())),
            PublicKey([0x33; 32]),
        )
    }

    #[test]
    fn certificate_needs_more_than_two_thirds_of_the_power() {
        let keys: Vec<SigningKey> = (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let g = genesis(&keys);
        let h = header();
        let cert = |n: usize| Certificate {
            height: 1,
            round: 0,
            block_hash: h.hash(),
            signatures: keys[..n].iter().map(|k| Certificate::sign_precommit(k, &h, 0)).collect(),
        };
        assert_eq!(cert(2).verify(&h, &g), Err(CertificateError::NoQuorum { signed: 2, total: 4 }));
        cert(3).verify(&h, &g).unwrap();
        cert(4).verify(&h, &g).unwrap();
    }

    #[test]
    fn tampering_any_certificate_field_fails() {
        let keys: Vec<SigningKey> = (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let g = genesis(&keys);
        let h = header();
        let good = Certificate {
            height: 1,
            round: 2,
            block_hash: h.hash(),
            signatures: keys[..3].iter().map(|k| Certificate::sign_precommit(k, &h, 2)).collect(),
        };
        good.verify(&h, &g).unwrap();

        let mut c = good.clone();
        c.height = 2;
        assert_eq!(c.verify(&h, &g), Err(CertificateError::OtherBlock));
        let mut c = good.clone();
        c.block_hash = Hash([0; 32]);
        assert_eq!(c.verify(&h, &g), Err(CertificateError::OtherBlock));
        let mut c = good.clone();
        c.round = 1;
        assert!(matches!(c.verify(&h, &g), Err(CertificateError::BadSignature(_))));
        let mut c = good.clone();
        c.signatures[1].signature[5] ^= 1;
        assert!(matches!(c.verify(&h, &g), Err(CertificateError::BadSignature(_))));
        let mut c = good.clone();
        c.signatures[2] = c.signatures[0].clone();
        assert!(matches!(c.verify(&h, &g), Err(CertificateError::DuplicateSigner(_))));
        let mut c = good.clone();
        let stranger = SigningKey::from_bytes(&[9; 32]);
        c.signatures[0] = Certificate::sign_precommit(&stranger, &h, 2);
        assert!(matches!(c.verify(&h, &g), Err(CertificateError::UnknownSigner(_))));
        let mut other = h.clone();
        other.tx_count = 1;
        assert_eq!(good.verify(&other, &g), Err(CertificateError::OtherBlock));
    }
}
