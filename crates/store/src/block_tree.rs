//! A block's Merkle tree with the roots of its whole 256-leaf subtrees kept beside its
//! transaction ids, so that a transaction's path to `tx_root` hashes one subtree's leaves and
//! a few stored roots instead of every leaf of the block.

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

/// A block's tree of `count` leaves: the roots of its whole 256-leaf subtrees, and its leaves
/// as stored (32 bytes each, read in place) once they are read. A path reads the leaves of at
/// most two chunks: the leaf's own and the last, partial one. With `shared`, a committed block
/// never changes, so each chunk's inner nodes come from (and go to) a cache that other proofs
/// share, and a path whose chunks are all there needs no leaves at all.
pub struct BlockTree<'a> {
    pub count: u64,
    pub ids: Option<&'a [u8]>,
    pub chunks: &'a [Hash],
    /// The shared inner trees, and this block's height, which names its chunks there.
    pub shared: Option<(&'a InnerTrees, u64)>,
}

/// A path needs leaves of the block that were not read (and are not in the shared trees).
#[derive(Debug)]
pub struct NeedsLeaves;

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    crate::log::decode_any(bytes).expect("slices of whole 32-byte ids")
}

impl Subtrees for BlockTree<'_> {
    type Error = NeedsLeaves;

    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, NeedsLeaves> {
        let index = index as usize;
        if level >= CHUNK_LEVEL {
            let up = level - CHUNK_LEVEL;
            return Ok(merkle::root(&self.chunks[index << up..(index + 1) << up]));
        }
        let first = index << level;
        let (chunk, offset) = (first / CHUNK, first % CHUNK);
        let Some((shared, height)) = self.shared else {
            let ids = self.ids.ok_or(NeedsLeaves)?;
            return Ok(merkle::root(&hashes(&ids[32 * first..32 * ((index + 1) << level)])));
        };
        let group = Group::Chunk { height, index: chunk as u64 };
        let inner = match shared.get(group) {
            Some(inner) => inner,
            None => {
                let ids = self.ids.ok_or(NeedsLeaves)?;
                let start = CHUNK * chunk;
                let end = (start + CHUNK).min(self.count as usize);
                shared.insert(group, &hashes(&ids[32 * start..32 * end]))
            }
        };
        Ok(inner.subtree(level, offset >> level))
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
            let count = n as u64;
            let cache = InnerTrees::new(4);
            for shared in [None, Some((&cache, count))] {
                // Twice with the shared trees: once hashing the chunks, once reading them.
                for _ in 0..2 {
                    let mut tree = BlockTree { count, ids: Some(&ids), chunks: &chunks, shared };
                    for index in [0, n / 2, n - 1] {
                        let path = merkle::inclusion_proof_in(&mut tree, count, index as u64);
                        assert_eq!(path.unwrap(), inclusion_proof(&leaves, index), "{n}/{index}");
                    }
                }
            }
            // The chunks on the last leaf's path are shared now: its path needs no leaves.
            let shared = Some((&cache, count));
            let mut tree = BlockTree { count, ids: None, chunks: &chunks, shared };
            let path = merkle::inclusion_proof_in(&mut tree, count, count - 1);
            assert_eq!(path.unwrap(), inclusion_proof(&leaves, n - 1), "{n}, without leaves");
            // Without leaves, a path through a chunk not yet shared asks for them.
            let empty = InnerTrees::new(4);
            let shared = Some((&empty, count));
            let mut tree = BlockTree { count, ids: None, chunks: &chunks, shared };
            assert!(merkle::inclusion_proof_in(&mut tree, count, 0).is_err() || n == 1);
        }
    }
}
