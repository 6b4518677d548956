//! A block's Merkle tree with the roots of its whole 256-leaf subtrees kept beside its
//! transaction ids, so that a transaction's path to `tx_root` hashes one subtree's leaves and
//! a few stored roots instead of every leaf of the block.

use std::convert::Infallible;

use cunzheng_types::{
    merkle::{self, Subtrees},
    Hash,
};

use crate::inner::{Group, InnerTrees};

/// Tree level of the stored roots: subtrees of 256 leaves.
const CHUNK_LEVEL: u32 = 8;
const CHUNK: usize = 1 << CHUNK_LEVEL;

/// The roots of the whole 256-leaf subtrees of a block's tree, left to right.
pub fn chunk_roots(leaves: &[Hash]) -> Vec<Hash> {
    leaves.chunks_exact(CHUNK).map(merkle::root).collect()
}

/// A block's tree: its leaves as stored (32 bytes each, read in place) and the roots of its
/// whole 256-leaf subtrees. A path reads the leaves of at most two subtrees: the leaf's own
/// and the last, partial one. With `shared`, the inner nodes of whole chunks come from (and
/// go to) a cache that other proofs share.
pub struct BlockTree<'a> {
    pub ids: &'a [u8],
    pub chunks: &'a [Hash],
    /// The shared inner trees, and this block's height, which names its chunks there.
    pub shared: Option<(&'a InnerTrees, u64)>,
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks_exact(32).map(|c| Hash(c.try_into().expect("32 bytes"))).collect()
}

impl Subtrees for BlockTree<'_> {
    type Error = Infallible;

    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, Infallible> {
        let index = index as usize;
        Ok(if level < CHUNK_LEVEL {
            let first = index << level;
            let (chunk, offset) = (first / CHUNK, first % CHUNK);
            let whole = 32 * CHUNK * (chunk + 1) <= self.ids.len();
            match self.shared {
                Some((shared, height)) if whole => {
                    let group = Group::Chunk { height, index: chunk as u64 };
                    let inner = shared.get(group).unwrap_or_else(|| {
                        let bytes = &self.ids[32 * CHUNK * chunk..32 * CHUNK * (chunk + 1)];
                        shared.insert(group, &hashes(bytes))
                    });
                    inner.subtree(level, offset >> level)
                }
                _ => merkle::root(&hashes(&self.ids[32 * first..32 * ((index + 1) << level)])),
            }
        } else {
            let up = level - CHUNK_LEVEL;
            merkle::root(&self.chunks[index << up..(index + 1) << up])
        })
    }
}

#[cfg(test)]
mod tests {
    use cunzheng_types::merkle::{inclusion_proof, leaf_hash};

    use super::*;

    #[test]
    fn paths_from_stored_roots_equal_paths_from_every_leaf() {
        for n in [1usize, 255, 256, 257, 1000, 2048, 10_000] {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&(i as u64).to_le_bytes())).collect();
            let chunks = chunk_roots(&leaves);
            let ids: Vec<u8> = leaves.iter().flat_map(|h| h.0).collect();
            let shared = InnerTrees::new(4);
            for shared in [None, Some((&shared, n as u64))] {
                // Twice with the shared trees: once hashing the chunks, once reading them.
                for _ in 0..2 {
                    let mut tree = BlockTree { ids: &ids, chunks: &chunks, shared };
                    for index in [0, n / 2, n - 1] {
                        let Ok(path) =
                            merkle::inclusion_proof_in(&mut tree, n as u64, index as u64);
                        assert_eq!(path, inclusion_proof(&leaves, index), "{n}/{index}");
                    }
                }
            }
        }
    }
}
