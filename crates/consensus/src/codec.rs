//! The wire and write-ahead-log encoding of consensus messages: borsh, the binary encoding
//! Malachite's own message types implement. Its format is specified (fixed-width little-endian
//! integers, length-prefixed sequences) and a decode must consume every byte.
//!
//! Nothing encoded here is hashed or signed: signatures cover the canonical JSON of
//! `signing.rs`, so a change of wire encoding never touches the ledger.

use std::io;

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use malachitebft_app::{
    streaming::StreamMessage,
    types::{
        codec::{Codec, HasEncodedLen},
        sync, ProposedValue, SignedConsensusMsg,
    },
};
use malachitebft_core_consensus::LivenessMsg;
use malachitebft_core_types::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round, ValidatorProof,
};

use crate::{
    context::{Address, BlockId, Ctx, Height, ProposalPart},
    signing::Signature,
};

/// Encodes every message the engine sends, stores or syncs.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireCodec;

fn encode<T: BorshSerialize>(msg: &T) -> Result<Bytes, io::Error> {
    borsh::to_vec(msg).map(Bytes::from)
}

fn decode<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, io::Error> {
    borsh::from_slice(bytes)
}

macro_rules! borsh_codec {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for WireCodec {
            type Error = io::Error;

            fn decode(&self, bytes: Bytes) -> Result<$t, io::Error> {
                decode(&bytes)
            }

            fn encode(&self, msg: &$t) -> Result<Bytes, io::Error> {
                encode(msg)
            }
        }
    )*};
}

borsh_codec!(
    ProposalPart,
    StreamMessage<ProposalPart>,
    SignedConsensusMsg<Ctx>,
    LivenessMsg<Ctx>,
    ProposedValue<Ctx>,
    PolkaCertificate<Ctx>,
    sync::Status<Ctx>,
    sync::Request<Ctx>,
);

/// A sync response as it goes on the wire. Malachite gives its extended commit certificate
/// no borsh form, so the response is written field by field; this chain carries no vote
/// extensions, so none are written.
#[derive(BorshSerialize, BorshDeserialize)]
struct ResponseFields {
    start_height: Height,
    values: Vec<DecidedFields>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct DecidedFields {
    value_bytes: Vec<u8>,
    height: Height,
    round: Round,
    value_id: BlockId,
    signatures: Vec<(Address, Signature)>,
}

fn response_fields(msg: &sync::Response<Ctx>) -> ResponseFields {
    let sync::Response::ValueResponse(r) = msg;
    let values = r
        .values
        .iter()
        .map(|v| DecidedFields {
            value_bytes: v.value_bytes.to_vec(),
            height: v.certificate.height,
            round: v.certificate.round,
            value_id: v.certificate.value_id,
            signatures: v
                .certificate
                .commit_signatures
                .iter()
                .map(|s| (s.address, s.signature))
                .collect(),
        })
        .collect();
    ResponseFields { start_height: r.start_height, values }
}

impl Codec<sync::Response<Ctx>> for WireCodec {
    type Error = io::Error;

    fn decode(&self, bytes: Bytes) -> Result<sync::Response<Ctx>, io::Error> {
        let r: ResponseFields = decode(&bytes)?;
        let values = r
            .values
            .into_iter()
            .map(|v| sync::RawDecidedValue {
                value_bytes: v.value_bytes.into(),
                certificate: ExtendedCommitCertificate {
                    height: v.height,
                    round: v.round,
                    value_id: v.value_id,
                    commit_signatures: v
                        .signatures
                        .into_iter()
                        .map(|(a, s)| ExtendedCommitSignature::new(a, s, None))
                        .collect(),
                },
            })
            .collect();
        Ok(sync::Response::ValueResponse(malachitebft_sync::ValueResponse {
            start_height: r.start_height,
            values,
        }))
    }

    fn encode(&self, msg: &sync::Response<Ctx>) -> Result<Bytes, io::Error> {
        encode(&response_fields(msg))
    }
}

impl HasEncodedLen<sync::Response<Ctx>> for WireCodec {
    fn encoded_len(&self, msg: &sync::Response<Ctx>) -> Result<usize, io::Error> {
        borsh::object_length(&response_fields(msg))
    }
}

/// A validator proof as borsh would write the struct: public key, peer id, signature.
#[derive(BorshSerialize, BorshDeserialize)]
struct ProofFields {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Signature,
}

impl Codec<ValidatorProof<Ctx>> for WireCodec {
    type Error = io::Error;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, io::Error> {
        let p: ProofFields = decode(&bytes)?;
        Ok(ValidatorProof::new(p.public_key, p.peer_id, p.signature))
    }

    fn encode(&self, msg: &ValidatorProof<Ctx>) -> Result<Bytes, io::Error> {
        encode(&ProofFields {
            public_key: msg.public_key.clone(),
            peer_id: msg.peer_id.clone(),
            signature: msg.signature,
        })
    }
}

// Blocks travel in the types crate's wire encoding, which the fuzz targets exercise.
pub use cunzheng_types::wire::{
    block_from_parts, decode_block, encode_block, WireError as BlockDecodeError,
};

/// A proposal kept until its height is decided: who proposed it in which round, and the block.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct Undecided {
    pub round: Round,
    pub pol_round: Round,
    pub proposer: Address,
    pub block: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use malachitebft_core_types::{NilOrVal, Round, SignedMessage, VoteType};

    use super::*;
    use crate::context::Vote;
    use cunzheng_types::{merkle, BlockHeader, SealedTx};

    fn vote() -> SignedConsensusMsg<Ctx> {
        let v = Vote {
            kind: VoteType::Precommit,
            height: Height(2),
            round: Round::new(0),
            block: NilOrVal::Val(BlockId([3; 32])),
            validator: Address([4; 32]),
        };
        SignedConsensusMsg::Vote(SignedMessage::new(v, Signature([5; 64])))
    }

    #[test]
    fn messages_round_trip() {
        let bytes = Codec::<SignedConsensusMsg<Ctx>>::encode(&WireCodec, &vote()).unwrap();
        let back: SignedConsensusMsg<Ctx> = WireCodec.decode(bytes).unwrap();
        assert_eq!(back, vote());

        let part = ProposalPart::Txs(vec![b"{}".to_vec(), b"{\"a\":1}".to_vec()]);
        let bytes = Codec::<ProposalPart>::encode(&WireCodec, &part).unwrap();
        assert_eq!(Codec::<ProposalPart>::decode(&WireCodec, bytes).unwrap(), part);
    }

    #[test]
    fn a_header_with_other_transactions_is_not_a_block() {
        let tx = |n: u64| {
            let t = serde_json::json!({"kind": "voice.withdraw", "client_id": "c", "phone": format!("{n:032X}"), "at": 1_600_000_000 + n});
            cunzheng_types::canonical::to_jcs(&t).unwrap()
        };
        let txs = [SealedTx::from_canonical(tx(1)).unwrap()];
        let header = BlockHeader {
            version: 1,
            chain_id: "c".into(),
            height: 1,
            time: 1,
            prev_hash: cunzheng_types::Hash([0; 32]),
            tx_root: merkle::root(&[txs[0].id()]),
            tx_count: 1,
            log_root: merkle::root(&[txs[0].id()]),
            log_size: 1,
            proposer: cunzheng_types::PublicKey([1; 32]),
        };
        let bytes = header.canonical_bytes();
        assert!(block_from_parts(&bytes, vec![tx(1)]).is_ok());
        for other in [vec![tx(2)], vec![], vec![tx(1), tx(2)]] {
            assert!(matches!(
                block_from_parts(&bytes, other),
                Err(BlockDecodeError::NotTheHeadersTxs)
            ));
        }
    }

    #[test]
    fn truncated_or_padded_bytes_are_refused() {
        let bytes = Codec::<SignedConsensusMsg<Ctx>>::encode(&WireCodec, &vote()).unwrap();
        let short = bytes.slice(..bytes.len() - 1);
        assert!(Codec::<SignedConsensusMsg<Ctx>>::decode(&WireCodec, short).is_err());
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(Codec::<SignedConsensusMsg<Ctx>>::decode(&WireCodec, long.into()).is_err());
    }
}
