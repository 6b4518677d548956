//! Signing of consensus messages with ed25519-dalek, over documented canonical bytes.
//!
//! | message | signed bytes |
//! |---|---|
//! | prevote, precommit | `JCS({"block_hash", "chain_id", "height", "round", "type"})` ([`VoteSignBytes`]) |
//! | proposal | `JCS({"block_hash", "chain_id", "height", "pol_round", "round", "type": "proposal"})` |
//! | validator proof (peer id binding) | Malachite's `"PoV" ‖ len ‖ public key ‖ len ‖ peer id` |
//!
//! A precommit's bytes are exactly those a [`cunzheng_types::Certificate`] is checked
//! against, so the engine's commit certificate becomes the ledger's certificate unchanged.
//! `pol_round` is `-1` when the proposal carries no proof-of-lock round.

use async_trait::async_trait;
use borsh::{BorshDeserialize, BorshSerialize};
use cunzheng_types::{canonical::to_jcs, Hash, VoteKind, VoteSignBytes};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use malachitebft_core_types::{
    NilOrVal, SignedMessage, SigningScheme, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use serde_json::json;

use crate::context::{Ctx, Proposal, Vote};

/// The ed25519 scheme of ed25519-dalek.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519;

/// A 64-byte ed25519 signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// Bytes that are not a key or a signature.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodingError(&'static str);

impl SigningScheme for Ed25519 {
    type DecodingError = DecodingError;
    type Signature = Signature;
    type PublicKey = VerifyingKey;
    type PrivateKey = SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, DecodingError> {
        let bytes = bytes.try_into().map_err(|_| DecodingError("a signature has 64 bytes"))?;
        Ok(Signature(bytes))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<VerifyingKey, DecodingError> {
        let bytes: &[u8; 32] =
            bytes.try_into().map_err(|_| DecodingError("a public key has 32 bytes"))?;
        VerifyingKey::from_bytes(bytes).map_err(|_| DecodingError("not an ed25519 public key"))
    }

    fn encode_public_key(public_key: &VerifyingKey) -> Vec<u8> {
        public_key.to_bytes().to_vec()
    }
}

/// The bytes a validator signs for `vote`, or `None` for a vote without a round, which no
/// honest validator casts.
pub fn vote_sign_bytes(chain_id: &str, vote: &Vote) -> Option<Vec<u8>> {
    let round = vote.round.as_u32()?;
    let kind = match vote.kind {
        VoteType::Prevote => VoteKind::Prevote,
        VoteType::Precommit => VoteKind::Precommit,
    };
    let block_hash = match vote.block {
        NilOrVal::Nil => None,
        NilOrVal::Val(id) => Some(id.hash()),
    };
    Some(VoteSignBytes { kind, chain_id, height: vote.height.0, round, block_hash }.to_bytes())
}

/// The bytes a proposer signs for `proposal`, or `None` without a round.
pub fn proposal_sign_bytes(chain_id: &str, proposal: &Proposal) -> Option<Vec<u8>> {
    let round = proposal.round.as_u32()?;
    let v = json!({
        "type": "proposal",
        "chain_id": chain_id,
        "height": proposal.height.0,
        "round": round,
        "pol_round": proposal.pol_round.as_i64(),
        "block_hash": proposal.value.0.hash().to_hex(),
    });
    Some(to_jcs(&v).expect("proposal fields are strings and integers"))
}

/// Vote extensions are disabled on this chain; should one be signed, it binds the scope.
fn extension_sign_bytes(chain_id: &str, scope: &VoteExtensionScope<Ctx>) -> Vec<u8> {
    let v = json!({
        "type": "vote_extension",
        "chain_id": chain_id,
        "height": scope.height.0,
        "round": scope.round.as_i64(),
        "block_hash": Hash(scope.value_id.0).to_hex(),
        "validator": hex::encode(scope.validator_address.0),
    });
    to_jcs(&v).expect("extension fields are strings and integers")
}

fn check(key: &VerifyingKey, bytes: Option<Vec<u8>>, signature: &Signature) -> VerificationResult {
    let ok = bytes.is_some_and(|b| {
        key.verify(&b, &ed25519_dalek::Signature::from_bytes(&signature.0)).is_ok()
    });
    VerificationResult::from_bool(ok)
}

/// Checks members' signatures; holds no key.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    chain_id: String,
}

impl ChainVerifier {
    pub fn new(chain_id: impl Into<String>) -> Self {
        ChainVerifier { chain_id: chain_id.into() }
    }
}

#[async_trait]
impl Verifier<Ctx> for ChainVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, Error> {
        Ok(check(public_key, vote_sign_bytes(&self.chain_id, vote), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, Error> {
        Ok(check(public_key, proposal_sign_bytes(&self.chain_id, proposal), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<Ctx>,
        _extension: &(),
        signature: &Signature,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, Error> {
        Ok(check(public_key, Some(extension_sign_bytes(&self.chain_id, scope)), signature))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<Ctx>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = Ed25519::decode_public_key(&proof.public_key) else {
            return Ok(VerificationResult::Invalid);
        };
        let bytes = ValidatorProof::<Ctx>::signing_bytes(&proof.public_key, &proof.peer_id);
        Ok(check(&key, Some(bytes), &proof.signature))
    }
}

/// Signs as one member with its validator key.
#[derive(Clone)]
pub struct ChainSigner {
    chain_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for ChainSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSigner")
            .field("validator", &hex::encode(self.key.verifying_key().as_bytes()))
            .finish()
    }
}

impl ChainSigner {
    pub fn new(chain_id: impl Into<String>, key: SigningKey) -> Self {
        ChainSigner { chain_id: chain_id.into(), key }
    }

    fn sign(&self, bytes: Option<Vec<u8>>) -> Result<Signature, Error> {
        let bytes = bytes
            .ok_or_else(|| Error::from_source("refusing to sign a message without a round"))?;
        Ok(Signature(self.key.sign(&bytes).to_bytes()))
    }
}

#[async_trait]
impl Signer<Ctx> for ChainSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<Ctx, Vote>, Error> {
        let signature = self.sign(vote_sign_bytes(&self.chain_id, &vote))?;
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<Ctx, Proposal>, Error> {
        let signature = self.sign(proposal_sign_bytes(&self.chain_id, &proposal))?;
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<Ctx>,
        extension: (),
    ) -> Result<SignedMessage<Ctx, ()>, Error> {
        let signature = self.sign(Some(extension_sign_bytes(&self.chain_id, &scope)))?;
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<Ctx>, Error> {
        let signature =
            self.sign(Some(ValidatorProof::<Ctx>::signing_bytes(&public_key, &peer_id)))?;
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

#[cfg(test)]
mod tests {
    use malachitebft_core_types::Round;

    use super::*;
    use crate::context::{Address, BlockId, BlockValue, Height};

    fn vote(kind: VoteType, block: NilOrVal<BlockId>) -> Vote {
        Vote { kind, height: Height(3), round: Round::new(0), block, validator: Address([7; 32]) }
    }

    #[test]
    fn a_precommit_signs_the_certificate_bytes() {
        let v = vote(VoteType::Precommit, NilOrVal::Val(BlockId([0xab; 32])));
        assert_eq!(
            String::from_utf8(vote_sign_bytes("c", &v).unwrap()).unwrap(),
            r#"{"block_hash":"abababababababababababababababababababababababababababababababab","chain_id":"c","height":3,"round":0,"type":"precommit"}"#
        );
        let nil = vote(VoteType::Prevote, NilOrVal::Nil);
        assert_eq!(
            String::from_utf8(vote_sign_bytes("c", &nil).unwrap()).unwrap(),
            r#"{"block_hash":null,"chain_id":"c","height":3,"round":0,"type":"prevote"}"#
        );
    }

    #[test]
    fn proposal_sign_bytes_are_pinned() {
        let p = Proposal {
            height: Height(5),
            round: Round::new(1),
            value: BlockValue(BlockId([0x01; 32])),
            pol_round: Round::Nil,
            proposer: Address([2; 32]),
        };
        assert_eq!(
            String::from_utf8(proposal_sign_bytes("c", &p).unwrap()).unwrap(),
            r#"{"block_hash":"0101010101010101010101010101010101010101010101010101010101010101","chain_id":"c","height":5,"pol_round":-1,"round":1,"type":"proposal"}"#
        );
    }

    #[tokio::test]
    async fn signatures_verify_only_for_the_signed_statement() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let signer = ChainSigner::new("c", key.clone());
        let verifier = ChainVerifier::new("c");
        let pk = key.verifying_key();

        let v = vote(VoteType::Precommit, NilOrVal::Val(BlockId([1; 32])));
        let signed = signer.sign_vote(v.clone()).await.unwrap();
        let ok = |r: VerificationResult| r.is_valid();
        assert!(ok(verifier.verify_signed_vote(&v, &signed.signature, &pk).await.unwrap()));

        let other_block = vote(VoteType::Precommit, NilOrVal::Val(BlockId([2; 32])));
        let prevote = vote(VoteType::Prevote, NilOrVal::Val(BlockId([1; 32])));
        let other_round = Vote { round: Round::new(1), ..v.clone() };
        for tampered in [other_block, prevote, other_round] {
            let r = verifier.verify_signed_vote(&tampered, &signed.signature, &pk).await.unwrap();
            assert!(!ok(r), "{tampered:?}");
        }
        let other_chain = ChainVerifier::new("d");
        let r = other_chain.verify_signed_vote(&v, &signed.signature, &pk).await.unwrap();
        assert!(!ok(r));
        let stranger = SigningKey::from_bytes(&[5; 32]).verifying_key();
        let r = verifier.verify_signed_vote(&v, &signed.signature, &stranger).await.unwrap();
        assert!(!ok(r));
    }

    #[tokio::test]
    async fn a_validator_proof_binds_the_peer_id() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let signer = ChainSigner::new("c", key.clone());
        let verifier = ChainVerifier::new("c");
        let mut proof = signer
            .sign_validator_proof(key.verifying_key().to_bytes().to_vec(), vec![9; 38])
            .await
            .unwrap();
        assert!(verifier.verify_validator_proof(&proof).await.unwrap().is_valid());
        proof.peer_id[0] ^= 1;
        assert!(verifier.verify_validator_proof(&proof).await.unwrap().is_invalid());
    }
}
