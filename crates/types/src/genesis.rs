//! Genesis: the chain id, the validator set and the operator key every member trusts.
//!
//! The genesis hash, `SHA-256(JCS(genesis))`, is block 1's `prev_hash`.

use serde::{Deserialize, Serialize};

use crate::{
    block::PublicKey,
    canonical::to_jcs_of,
    hash::{sha256, Hash},
};

/// One voting member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// A readable name, such as the member organisation.
    pub name: String,
    pub public_key: PublicKey,
    pub power: u64,
}

/// The document that starts a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: String,
    /// Unix milliseconds.
    pub genesis_time: u64,
    pub validators: Vec<Validator>,
    /// The key that signs operator transactions (client registration, suspension).
    pub operator_key: PublicKey,
}

impl Genesis {
    /// A genesis whose members each hold one vote, in proposer order.
    pub fn of_members(
        chain_id: &str,
        genesis_time: u64,
        members: impl IntoIterator<Item = (String, PublicKey)>,
        operator_key: PublicKey,
    ) -> Genesis {
        let validators =
            members.into_iter().map(|(name, public_key)| Validator { name, public_key, power: 1 });
        Genesis {
            chain_id: chain_id.to_owned(),
            genesis_time,
            validators: validators.collect(),
            operator_key,
        }
    }

    /// `SHA-256(JCS(genesis))`.
    pub fn hash(&self) -> Hash {
        sha256(&[&to_jcs_of(self).expect("genesis fields are strings and integers")])
    }

    pub fn validator(&self, key: &PublicKey) -> Option<&Validator> {
        self.validators.iter().find(|v| v.public_key == *key)
    }

    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).sum()
    }
}
