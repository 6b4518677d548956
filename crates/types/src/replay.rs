//! Replaying a chain from genesis: the checks an auditor makes of every block, in order, with
//! nothing but the genesis document trusted.
//!
//! For block `h` on top of block `h - 1`:
//!
//! - `height` is `h`, `chain_id` is the genesis chain's, `prev_hash` is the hash of block
//!   `h - 1` (the genesis hash for block 1) and `time` is later than block `h - 1`'s;
//! - the certificate commits this header with more than two thirds of the voting power;
//! - `tx_count` and `tx_root` match the block's transaction ids;
//! - appending those ids to the log of every earlier block gives `log_size` and `log_root`;
//! - where the transactions themselves are at hand: each is canonical JCS that decodes as a
//!   transaction, its leaf hash is its id, and an operator transaction carries a valid
//!   signature of the operator key named in genesis.
//!
//! [`Replay::apply`] refuses the first block that breaks one of them and names the rule.

use crate::{
    block::{BlockHeader, Certificate, CertificateError},
    genesis::Genesis,
    hash::Hash,
    merkle::{self, Frontier},
    tx::{Transaction, TxError},
};

/// The first rule a block breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// The header is not the next height, or does not name the previous block.
    #[error("block {height} does not follow block {prev} (height or prev_hash)")]
    Link { height: u64, prev: u64 },
    /// The header names another chain.
    #[error("block {height} is of chain {chain_id}")]
    Chain { height: u64, chain_id: String },
    /// The header's time does not move forward.
    #[error("block {height} time {time} is not after the previous block's {prev_time}")]
    Time { height: u64, time: u64, prev_time: u64 },
    /// The certificate does not commit the header.
    #[error("block {height} certificate: {error}")]
    Certificate { height: u64, error: CertificateError },
    /// `tx_count` or `tx_root` does not match the transaction ids.
    #[error("block {height} tx_root or tx_count does not match its {count} transaction ids")]
    TxRoot { height: u64, count: usize },
    /// `log_size` or `log_root` does not extend the log of the earlier blocks.
    #[error("block {height} log_root or log_size does not extend the log")]
    LogRoot { height: u64 },
    /// A transaction is not a valid transaction of this chain.
    #[error("block {height} transaction {index}: {error}")]
    Tx { height: u64, index: usize, error: TxError },
    /// A transaction's leaf hash is not the id the block lists.
    #[error("block {height} transaction {index}: leaf hash is not the listed id")]
    TxId { height: u64, index: usize },
    /// The block lists a different number of transactions than it carries.
    #[error("block {height} lists {ids} ids but carries {txs} transactions")]
    TxMissing { height: u64, ids: usize, txs: usize },
}

/// The state of a replay: the last block checked and the log so far.
#[derive(Debug)]
pub struct Replay<'g> {
    genesis: &'g Genesis,
    height: u64,
    hash: Hash,
    time: u64,
    log: Frontier,
}

impl<'g> Replay<'g> {
    /// A replay at genesis.
    pub fn new(genesis: &'g Genesis) -> Self {
        Replay { genesis, height: 0, hash: genesis.hash(), time: 0, log: Frontier::default() }
    }

    /// Height of the last block that passed.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Transactions in the blocks that passed.
    pub fn log_size(&self) -> u64 {
        self.log.size
    }

    /// Checks the next block: its header, certificate and transaction ids, and, when given,
    /// the canonical bytes of its transactions in block order.
    pub fn apply(
        &mut self,
        header: &BlockHeader,
        certificate: &Certificate,
        ids: &[Hash],
        txs: Option<&[Vec<u8>]>,
    ) -> Result<(), ChainError> {
        let height = self.height + 1;
        if header.height != height || header.prev_hash != self.hash {
            return Err(ChainError::Link { height, prev: self.height });
        }
        if header.chain_id != self.genesis.chain_id {
            return Err(ChainError::Chain { height, chain_id: header.chain_id.clone() });
        }
        if header.time <= self.time {
            return Err(ChainError::Time { height, time: header.time, prev_time: self.time });
        }
        certificate
            .verify(header, self.genesis)
            .map_err(|error| ChainError::Certificate { height, error })?;
        if ids.len() as u64 != header.tx_count || merkle::root(ids) != header.tx_root {
            return Err(ChainError::TxRoot { height, count: ids.len() });
        }
        if let Some(txs) = txs {
            self.check_txs(height, ids, txs)?;
        }

        let mut log = self.log.clone();
        ids.iter().for_each(|id| log.push(*id));
        if log.size != header.log_size || log.root() != header.log_root {
            return Err(ChainError::LogRoot { height });
        }
        *self =
            Replay { genesis: self.genesis, height, hash: header.hash(), time: header.time, log };
        Ok(())
    }

    fn check_txs(&self, height: u64, ids: &[Hash], txs: &[Vec<u8>]) -> Result<(), ChainError> {
        if txs.len() != ids.len() {
            return Err(ChainError::TxMissing { height, ids: ids.len(), txs: txs.len() });
        }
        let operator = self.genesis.operator_key.verifying_key();
        for (index, (bytes, id)) in txs.iter().zip(ids).enumerate() {
            let tx = Transaction::from_canonical(bytes).map_err(|error| ChainError::Tx {
                height,
                index,
                error,
            })?;
            if merkle::leaf_hash(bytes) != *id {
                return Err(ChainError::TxId { height, index });
            }
            if let Transaction::Operator(op) = &tx {
                let valid = operator.as_ref().is_some_and(|key| op.verify(key).is_ok());
                if !valid {
                    return Err(ChainError::Tx { height, index, error: TxError::BadSignature });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::{
        block::BLOCK_VERSION,
        genesis::Validator,
        record::{Channel, Record},
        tx::{OperatorAction, RecordTx},
        PublicKey,
    };

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    fn operator() -> SigningKey {
        SigningKey::from_bytes(&[2; 32])
    }

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "replay-test".into(),
            genesis_time: 0,
            validators: vec![Validator {
                name: "v".into(),
                public_key: key().verifying_key().into(),
                power: 1,
            }],
            operator_key: operator().verifying_key().into(),
        }
    }

    fn record(i: u64) -> Vec<u8> {
        Transaction::Record(RecordTx {
            client_id: "c1".into(),
            record: Record::Consent {
                channel: Channel::Voice,
                phone: format!("{i:032X}"),
                deposit_hash: format!("d{i}"),
                sign_time: 1_700_000_000,
            },
        })
        .canonical_bytes()
    }

    struct Block {
        header: BlockHeader,
        certificate: Certificate,
        ids: Vec<Hash>,
        txs: Vec<Vec<u8>>,
    }

    /// Three blocks: an operator registration, then two blocks of records.
    fn chain() -> Vec<Block> {
        let register = Transaction::Operator(
            OperatorAction::RegisterClient {
                client_id: "c1".into(),
                key_nonce: [0; 12],
                key_ciphertext: vec![1, 2, 3],
            }
            .sign(&operator(), 1),
        )
        .canonical_bytes();
        let contents = [vec![register], vec![record(1), record(2)], vec![record(3)]];
        let mut log = Frontier::default();
        let mut prev = genesis().hash();
        let mut blocks = Vec::new();
        for (i, txs) in contents.into_iter().enumerate() {
            let ids: Vec<Hash> = txs.iter().map(|b| merkle::leaf_hash(b)).collect();
            ids.iter().for_each(|id| log.push(*id));
            let header = BlockHeader {
                version: BLOCK_VERSION,
                chain_id: "replay-test".into(),
                height: i as u64 + 1,
                time: 1_700_000_000_000 + i as u64,
                prev_hash: prev,
                tx_root: merkle::root(&ids),
                tx_count: ids.len() as u64,
                log_root: log.root(),
                log_size: log.size,
                proposer: key().verifying_key().into(),
            };
            prev = header.hash();
            let certificate = Certificate {
                height: header.height,
                round: 0,
                block_hash: header.hash(),
                signatures: vec![Certificate::sign_precommit(&key(), &header, 0)],
            };
            blocks.push(Block { header, certificate, ids, txs });
        }
        blocks
    }

    /// Replays `blocks`; the error of the first that fails.
    fn replay(blocks: &[Block]) -> Result<u64, ChainError> {
        let g = genesis();
        let mut r = Replay::new(&g);
        for b in blocks {
            r.apply(&b.header, &b.certificate, &b.ids, Some(&b.txs))?;
        }
        Ok(r.height())
    }

    #[test]
    fn a_good_chain_replays_to_its_head() {
        assert_eq!(replay(&chain()), Ok(3));
    }

    #[test]
    fn a_header_edit_is_named_at_its_height() {
        let mut blocks = chain();
        blocks[1].header.time += 1;
        assert!(matches!(replay(&blocks), Err(ChainError::Certificate { height: 2, .. })));
        let mut blocks = chain();
        blocks.swap(1, 2);
        assert_eq!(replay(&blocks), Err(ChainError::Link { height: 2, prev: 1 }));
    }

    #[test]
    fn a_changed_or_missing_transaction_is_named() {
        let mut blocks = chain();
        blocks[1].txs[1] = record(9);
        assert_eq!(replay(&blocks), Err(ChainError::TxId { height: 2, index: 1 }));
        let mut blocks = chain();
        blocks[2].txs[0].insert(1, b' ');
        assert!(matches!(replay(&blocks), Err(ChainError::Tx { height: 3, index: 0, .. })));
        let mut blocks = chain();
        blocks[2].txs.clear();
        assert!(matches!(replay(&blocks), Err(ChainError::TxMissing { height: 3, .. })));
        let mut blocks = chain();
        blocks[1].ids.pop();
        assert!(matches!(replay(&blocks), Err(ChainError::TxRoot { height: 2, .. })));
    }

    #[test]
    fn an_operator_transaction_needs_the_genesis_operator_key() {
        let b = &chain()[0];
        assert!(Replay::new(&genesis()).check_txs(1, &b.ids, &b.txs).is_ok());
        let other = Genesis { operator_key: PublicKey([5; 32]), ..genesis() };
        let err = Replay::new(&other).check_txs(1, &b.ids, &b.txs).unwrap_err();
        assert_eq!(err, ChainError::Tx { height: 1, index: 0, error: TxError::BadSignature });
    }
}
