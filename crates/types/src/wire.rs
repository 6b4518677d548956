//! Bytes that members exchange and must decode from anyone: a whole block (a synced value,
//! an undecided proposal kept across restarts) and a gossiped batch of transactions. Both
//! are borsh framings (length-prefixed, every byte consumed) of canonical bytes; nothing here
//! is hashed or signed, and every decode checks what it yields.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::{merkle, Block, BlockHeader, SealedTx, TxError};

/// A whole block: the header's canonical JSON and each transaction's canonical bytes, in
/// block order.
#[derive(BorshSerialize, BorshDeserialize)]
struct BlockBytes {
    header: Vec<u8>,
    txs: Vec<Vec<u8>>,
}

/// Why bytes are not a block or a gossip batch.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a block encoding: {0}")]
    Encoding(#[from] std::io::Error),
    #[error("header is not a block header: {0}")]
    Header(#[from] serde_json::Error),
    #[error("transaction {index} is invalid: {error}")]
    Tx { index: usize, error: TxError },
    #[error("the transactions are not the ones the header's tx_root and tx_count name")]
    NotTheHeadersTxs,
}

pub fn encode_block(block: &Block) -> Vec<u8> {
    let txs = block.txs.iter().map(|t| t.bytes().to_vec()).collect();
    borsh::to_vec(&BlockBytes { header: block.header.canonical_bytes(), txs })
        .expect("writing to a vector does not fail")
}

pub fn decode_block(bytes: &[u8]) -> Result<Block, WireError> {
    let b: BlockBytes = borsh::from_slice(bytes)?;
    block_from_parts(&b.header, b.txs)
}

/// A block from its header's JSON and its transactions' canonical bytes. The transactions
/// must be the header's, so that a header hash names one block: a header carried with other
/// transactions is refused here, before anything keeps it.
pub fn block_from_parts(header: &[u8], txs: Vec<Vec<u8>>) -> Result<Block, WireError> {
    let header: BlockHeader = serde_json::from_slice(header)?;
    let txs = decode_txs(txs)?;
    let block = Block { header, txs };
    if block.header.tx_count != block.txs.len() as u64
        || merkle::root(&block.tx_ids()) != block.header.tx_root
    {
        return Err(WireError::NotTheHeadersTxs);
    }
    Ok(block)
}

fn decode_txs(txs: Vec<Vec<u8>>) -> Result<Vec<Arc<SealedTx>>, WireError> {
    txs.into_iter()
        .enumerate()
        .map(|(index, bytes)| {
            SealedTx::from_canonical(bytes)
                .map(Arc::new)
                .map_err(|error| WireError::Tx { index, error })
        })
        .collect()
}

/// A batch of transactions as one gossip message.
pub fn encode_gossip(txs: &[Arc<SealedTx>]) -> Vec<u8> {
    let list: Vec<&[u8]> = txs.iter().map(|t| t.bytes()).collect();
    borsh::to_vec(&list).expect("writing to a vector does not fail")
}

/// The transactions of a gossip message, all valid or none.
pub fn decode_gossip(bytes: &[u8]) -> Result<Vec<Arc<SealedTx>>, WireError> {
    decode_txs(borsh::from_slice::<Vec<Vec<u8>>>(bytes)?)
}
