//! Evidence of equivocation: a member that signed two different votes, or two different
//! proposals, for one height and round. Malachite collects such pairs while it runs a height
//! and hands them over when the height finalizes; each pair is kept in the node's store as a
//! JSON statement holding both signed messages, the exact bytes signed and the signatures, so
//! that anyone can check it with the member's key from genesis alone.

use cunzheng_types::Genesis;
use malachitebft_app::types::MisbehaviorEvidence;
use malachitebft_core_types::{NilOrVal, SignedMessage, VoteType};
use serde_json::{json, Value};

use crate::{
    context::{Address, Ctx, Proposal, Vote},
    signing::{proposal_sign_bytes, vote_sign_bytes},
};

/// The statements of `evidence`, one per conflicting pair.
pub fn statements(genesis: &Genesis, evidence: &MisbehaviorEvidence<Ctx>) -> Vec<Value> {
    let chain_id = genesis.chain_id.as_str();
    let member = |a: &Address| {
        let key = a.public_key();
        json!({
            "public_key": key,
            "name": genesis.validator(&key).map(|v| v.name.clone()),
        })
    };
    let mut out = Vec::new();
    for (address, pairs) in &evidence.votes {
        for (a, b) in pairs {
            out.push(json!({
                "kind": "double_vote",
                "member": member(address),
                "height": a.message.height.0,
                "round": a.message.round.as_i64(),
                "vote_type": match a.message.kind {
                    VoteType::Prevote => "prevote",
                    VoteType::Precommit => "precommit",
                },
                "first": vote_statement(chain_id, a),
                "second": vote_statement(chain_id, b),
            }));
        }
    }
    for (address, pairs) in &evidence.proposals {
        for (a, b) in pairs {
            out.push(json!({
                "kind": "double_proposal",
                "member": member(address),
                "height": a.message.height.0,
                "round": a.message.round.as_i64(),
                "first": proposal_statement(chain_id, a),
                "second": proposal_statement(chain_id, b),
            }));
        }
    }
    out
}

fn vote_statement(chain_id: &str, v: &SignedMessage<Ctx, Vote>) -> Value {
    let block = match v.message.block {
        NilOrVal::Nil => None,
        NilOrVal::Val(id) => Some(id.hash()),
    };
    json!({
        "block_hash": block,
        "signed_bytes": vote_sign_bytes(chain_id, &v.message).map(hex::encode),
        "signature": hex::encode(v.signature.0),
    })
}

fn proposal_statement(chain_id: &str, p: &SignedMessage<Ctx, Proposal>) -> Value {
    json!({
        "block_hash": p.message.value.0.hash(),
        "signed_bytes": proposal_sign_bytes(chain_id, &p.message).map(hex::encode),
        "signature": hex::encode(p.signature.0),
    })
}

#[cfg(test)]
mod tests {
    use cunzheng_types::Validator;
    use ed25519_dalek::{Signer, SigningKey, Verifier};
    use malachitebft_core_types::Round;

    use super::*;
    use crate::{
        context::{BlockId, Height},
        signing::Signature,
    };

    #[test]
    fn a_double_vote_becomes_a_statement_anyone_can_check() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let genesis = Genesis {
            chain_id: "evidence-test".into(),
            genesis_time: 0,
            validators: vec![Validator {
                name: "carrier".into(),
                public_key: key.verifying_key().into(),
                power: 1,
            }],
            operator_key: key.verifying_key().into(),
        };
        let address = Address(key.verifying_key().to_bytes());
        let signed = |block: [u8; 32]| {
            let vote = Vote {
                kind: VoteType::Precommit,
                height: Height(7),
                round: Round::new(0),
                block: NilOrVal::Val(BlockId(block)),
                validator: address,
            };
            let bytes = vote_sign_bytes("evidence-test", &vote).unwrap();
            SignedMessage::new(vote, Signature(key.sign(&bytes).to_bytes()))
        };
        let mut evidence =
            MisbehaviorEvidence::<Ctx> { proposals: Default::default(), votes: Default::default() };
        evidence.votes.add(signed([1; 32]), signed([2; 32]));

        let out = statements(&genesis, &evidence);
        assert_eq!(out.len(), 1);
        let s = &out[0];
        assert_eq!((s["kind"].as_str(), s["height"].as_u64()), (Some("double_vote"), Some(7)));
        assert_eq!(s["member"]["name"], "carrier");
        assert_ne!(s["first"]["block_hash"], s["second"]["block_hash"]);
        for side in ["first", "second"] {
            let bytes = hex::decode(s[side]["signed_bytes"].as_str().unwrap()).unwrap();
            let sig: [u8; 64] =
                hex::decode(s[side]["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
            key.verifying_key()
                .verify(&bytes, &ed25519_dalek::Signature::from_bytes(&sig))
                .unwrap();
        }
    }
}
