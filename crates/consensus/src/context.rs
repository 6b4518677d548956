//! The types Malachite is generic over, as this ledger defines them.
//!
//! A height is a block height; a value is a block, named by its header hash; an address is a
//! validator's ed25519 public key. The validator set is the genesis list, in its order, and
//! the proposer of height `h`, round `r` is validator `(h - 1 + r) mod n`, so every member
//! can tell who should have proposed any block.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use cunzheng_types::{Genesis, Hash, PublicKey};
use ed25519_dalek::VerifyingKey;
use malachitebft_core_types::{
    self as mal, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
};

use crate::signing::Ed25519;

/// A block height; the first block is height 1.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mal::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0 + n)
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator, named by its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Address(pub [u8; 32]);

impl Address {
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0)
    }
}

impl From<PublicKey> for Address {
    fn from(k: PublicKey) -> Self {
        Address(k.0)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first eight hex digits name a member in logs well enough.
        f.write_str(&hex::encode(&self.0[..4]))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl mal::Address for Address {}

/// A block's header hash: what validators vote for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct BlockId(pub [u8; 32]);

impl BlockId {
    pub fn hash(&self) -> Hash {
        Hash(self.0)
    }
}

impl From<Hash> for BlockId {
    fn from(h: Hash) -> Self {
        BlockId(h.0)
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..4]))
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The value consensus decides: a block, by its header hash. The block itself travels in
/// proposal parts and in synced values; the hash covers every transaction through `tx_root`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct BlockValue(pub BlockId);

impl mal::Value for BlockValue {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        self.0
    }
}

/// A member with voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: Address,
    pub public_key: VerifyingKey,
    pub power: u64,
}

impl mal::Validator<Ctx> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The genesis validators, in genesis order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

/// Why a genesis validator list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("genesis has no validator with voting power")]
    Empty,
    #[error("validator {0} does not have an ed25519 public key")]
    BadKey(String),
    #[error("validator {0} is listed twice")]
    Duplicate(String),
}

impl ValidatorSet {
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, ValidatorSetError> {
        let mut validators: Vec<Validator> = Vec::with_capacity(genesis.validators.len());
        for v in genesis.validators.iter().filter(|v| v.power > 0) {
            let public_key = v
                .public_key
                .verifying_key()
                .ok_or_else(|| ValidatorSetError::BadKey(v.public_key.to_hex()))?;
            let address = Address::from(v.public_key);
            if validators.iter().any(|o| o.address == address) {
                return Err(ValidatorSetError::Duplicate(v.public_key.to_hex()));
            }
            validators.push(Validator { address, public_key, power: v.power });
        }
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        Ok(ValidatorSet { validators })
    }

    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl mal::ValidatorSet<Ctx> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).sum()
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| v.address == *address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A prevote or precommit. Votes carry no extension: heights are started with extensions
/// disabled, so the engine never asks to extend one.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    pub kind: VoteType,
    pub height: Height,
    pub round: Round,
    pub block: NilOrVal<BlockId>,
    pub validator: Address,
}

impl mal::Vote<Ctx> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.block
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.block
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<Ctx>> {
        None
    }

    fn take_extension(&mut self) -> Option<SignedExtension<Ctx>> {
        None
    }

    fn extend(self, _extension: SignedExtension<Ctx>) -> Self {
        self
    }
}

/// A proposer's signed claim that `value` is its block for `height` and `round`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    pub height: Height,
    pub round: Round,
    pub value: BlockValue,
    pub pol_round: Round,
    pub proposer: Address,
}

impl mal::Proposal<Ctx> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockValue {
        &self.value
    }

    fn take_value(self) -> BlockValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// One message of a proposal's stream: the header first, then the transactions in chunks,
/// then the end. The parts need no signature of their own: a block is taken only if its
/// header hash is the value of the proposer's signed proposal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    /// The block's header as canonical JSON, and the round it is proposed in.
    Init { height: Height, round: Round, pol_round: Round, proposer: Address, header: Vec<u8> },
    /// Canonical bytes of consecutive transactions of the block.
    Txs(Vec<Vec<u8>>),
    /// The stream is complete.
    Fin,
}

impl mal::ProposalPart<Ctx> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin)
    }
}

/// The context of one chain: its id goes into every signed statement.
#[derive(Clone, Debug)]
pub struct Ctx {
    chain_id: String,
}

impl Ctx {
    pub fn new(chain_id: impl Into<String>) -> Self {
        Ctx { chain_id: chain_id.into() }
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }
}

/// The index of the proposer of `height` and `round` among `n` validators.
pub fn proposer_index(n: usize, height: Height, round: Round) -> usize {
    let round = u64::from(round.as_u32().unwrap_or(0));
    (height.0.saturating_sub(1).wrapping_add(round) % n as u64) as usize
}

impl mal::Context for Ctx {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let vs = &validator_set.validators;
        &vs[proposer_index(vs.len(), height, round)]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote { kind: VoteType::Prevote, height, round, block: value_id, validator: address }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote { kind: VoteType::Precommit, height, round, block: value_id, validator: address }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposers_rotate_through_the_genesis_order() {
        let at = |h, r| proposer_index(4, Height(h), Round::new(r));
        assert_eq!([at(1, 0), at(2, 0), at(3, 0), at(4, 0), at(5, 0)], [0, 1, 2, 3, 0]);
        // A failed round hands the same height to the next member.
        assert_eq!([at(1, 1), at(1, 2), at(2, 3)], [1, 2, 0]);
        assert_eq!(proposer_index(1, Height(9), Round::new(7)), 0);
    }
}
