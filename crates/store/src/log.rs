//! The Merkle log's stored subtrees, kept as tiles so that an inclusion or consistency proof
//! against any log size costs O(log n) reads instead of a rebuild from every leaf.
//!
//! ```text
//!   tile level 1:  [ r0            r1            ... ]   r_i = root of level-0 tile i
//!                     |             |
//!   tile level 0:  [ d0 d1 .. d255 ][ d256 .. d511 ][ d512 .. ]   d_i = leaf i (tx id)
//! ```
//!
//! A tile of level `L` holds up to 256 consecutive hashes of tree level `8L`: the leaves for
//! `L = 0`, the roots of 256-leaf subtrees for `L = 1`, and so on. Any perfect subtree of tree
//! level `h` is then the root of at most 128 consecutive entries of one tile of level `h / 8`.
//! The tiles at the right edge are partial; appending a block rewrites them. The key of a
//! tile is its level (1 byte) then its index (u64 big-endian); the value is its hashes, 32
//! bytes each. This is the layout of the C2SP `tlog-tiles` specification, stored in a column
//! family instead of files.

use std::collections::HashMap;

use cunzheng_types::{
    merkle::{self, Subtrees},
    Hash,
};

use crate::inner::{self, Group, InnerTrees};

/// Tree levels a tile spans.
const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The key of tile `index` of tile level `level`.
pub fn tile_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn encode(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

pub fn decode(bytes: &[u8]) -> Option<Vec<Hash>> {
    if bytes.len() as u64 > 32 * TILE_WIDTH {
        return None;
    }
    decode_any(bytes)
}

/// Hashes of 32 bytes each, as many as there are.
pub fn decode_any(bytes: &[u8]) -> Option<Vec<Hash>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    Some(bytes.chunks_exact(32).map(|c| Hash(c.try_into().expect("32-byte chunks"))).collect())
}

/// The level-0 tile that holds the last of `size` leaves (`size` at least 1), and how many
/// leaves it holds then.
pub fn last_leaf_tile(size: u64) -> (u64, usize) {
    ((size - 1) / TILE_WIDTH, ((size - 1) % TILE_WIDTH + 1) as usize)
}

/// The tiles that change when `leaves` are appended to a log of `size` leaves, as
/// `(level, index, hashes)`. `read` gives a stored tile (empty when absent); only the partial
/// tile at the right edge of each level is read.
pub fn append<E>(
    size: u64,
    leaves: &[Hash],
    mut read: impl FnMut(u8, u64) -> Result<Vec<Hash>, E>,
) -> Result<Vec<(u8, u64, Vec<Hash>)>, E> {
    let mut out = Vec::new();
    let mut entries = leaves.to_vec();
    let mut level = 0u8;
    while !entries.is_empty() {
        // Entries already at this level: the perfect 256^level-leaf subtrees of `size`.
        let before = size >> (TILE_HEIGHT * u32::from(level));
        let mut tile_index = before / TILE_WIDTH;
        let mut tile =
            if before.is_multiple_of(TILE_WIDTH) { Vec::new() } else { read(level, tile_index)? };
        let mut parents = Vec::new();
        for entry in entries {
            tile.push(entry);
            if tile.len() as u64 == TILE_WIDTH {
                parents.push(merkle::root(&tile));
                out.push((level, tile_index, std::mem::take(&mut tile)));
                tile_index += 1;
            }
        }
        if !tile.is_empty() {
            out.push((level, tile_index, tile));
        }
        entries = parents;
        level += 1;
    }
    Ok(out)
}

/// Perfect subtrees of the log, read from tiles through `read` and cached for one proof. With
/// `TileReader::sharing`, the inner nodes of full tiles come from a cache that outlives it.
pub struct TileReader<'a, F> {
    read: F,
    cache: HashMap<(u8, u64), Vec<Hash>>,
    shared: Option<&'a InnerTrees>,
}

impl<F> TileReader<'static, F> {
    pub fn new(read: F) -> Self {
        TileReader { read, cache: HashMap::new(), shared: None }
    }
}

impl<'a, F> TileReader<'a, F> {
    /// A reader that takes the subtrees of full tiles from `shared`, and adds those it hashes.
    pub(crate) fn sharing(read: F, shared: &'a InnerTrees) -> Self {
        TileReader { read, cache: HashMap::new(), shared: Some(shared) }
    }
}

/// Why a subtree could not be read from tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileError<E> {
    /// A tile the log should hold is missing or too short.
    #[error("log tile {level}/{index} lacks the entries of subtree {tree_level}/{tree_index}")]
    Missing { level: u8, index: u64, tree_level: u32, tree_index: u64 },
    /// Reading a tile failed.
    #[error(transparent)]
    Read(E),
}

impl<E, F: FnMut(u8, u64) -> Result<Vec<Hash>, E>> Subtrees for TileReader<'_, F> {
    type Error = TileError<E>;

    fn subtree(&mut self, tree_level: u32, tree_index: u64) -> Result<Hash, Self::Error> {
        let level = (tree_level / TILE_HEIGHT) as u8;
        let height = tree_level % TILE_HEIGHT;
        let first = tree_index << height;
        let (index, offset) = (first / TILE_WIDTH, (first % TILE_WIDTH) as usize);
        let group = Group::Tile { level, index };
        if let Some(inner) = self.shared.and_then(|s| s.get(group)) {
            return Ok(inner.subtree(height, offset >> height));
        }
        let tile = match self.cache.entry((level, index)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((self.read)(level, index).map_err(TileError::Read)?)
            }
        };
        let entries = tile.get(offset..offset + (1usize << height)).ok_or(TileError::Missing {
            level,
            index,
            tree_level,
            tree_index,
        })?;
        // A full tile never changes: appends start the next one.
        match self.shared {
            Some(shared) if tile.len() == inner::WIDTH => {
                Ok(shared.insert(group, tile).subtree(height, offset >> height))
            }
            _ => Ok(merkle::root(entries)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use cunzheng_types::merkle::{consistency_proof, inclusion_proof, leaf_hash, root};

    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    type Tiles = HashMap<(u8, u64), Vec<Hash>>;

    /// Tiles built by appending `sizes` batches in turn, as blocks do.
    fn tiles(batches: &[usize]) -> (Vec<Hash>, Tiles) {
        let all = leaves(batches.iter().sum());
        let mut store = HashMap::new();
        let mut size = 0;
        for &n in batches {
            let batch = &all[size..size + n];
            let read = |l, i| Ok::<_, Infallible>(store.get(&(l, i)).cloned().unwrap_or_default());
            for (l, i, t) in append(size as u64, batch, read).unwrap() {
                store.insert((l, i), t);
            }
            size += n;
        }
        (all, store)
    }

    #[test]
    fn proofs_from_tiles_equal_proofs_from_every_leaf() {
        // Batches that end inside tiles, on tile edges and across a level-1 tile's end.
        let (all, store) = tiles(&[1, 255, 3, 300, 65_536 - 559, 700]);
        let n = all.len() as u64;
        let mut reader = TileReader::new(|l, i| {
            Ok::<_, Infallible>(store.get(&(l, i)).cloned().unwrap_or_default())
        });
        for size in [1, 2, 255, 256, 257, 1000, 65_536, 65_537, n] {
            let prefix = &all[..size as usize];
            for index in [0, size / 2, size - 1] {
                let from_tiles =
                    merkle::inclusion_proof_in(&mut reader, size, index).map_err(|_| ()).unwrap();
                assert_eq!(from_tiles, inclusion_proof(prefix, index as usize), "{size}/{index}");
            }
            for first in [1, size / 3, size - 1] {
                let from_tiles =
                    merkle::consistency_proof_in(&mut reader, first, size).map_err(|_| ()).unwrap();
                assert_eq!(from_tiles, consistency_proof(prefix, first as usize), "{first}/{size}");
            }
        }
        let top = reader.subtree(16, 0).map_err(|_| ()).unwrap();
        assert_eq!(top, root(&all[..65_536]));
    }

    #[test]
    fn proofs_through_shared_inner_trees_stay_right_as_the_log_grows() {
        let batches = [1, 255, 3, 300, 65_536 - 559, 700];
        let all = leaves(batches.iter().sum());
        // Small enough that its generations turn over during the test.
        let shared = InnerTrees::new(16);
        let mut store: Tiles = HashMap::new();
        let mut size = 0;
        for n in batches {
            let read = |l, i| Ok::<_, Infallible>(store.get(&(l, i)).cloned().unwrap_or_default());
            for (l, i, t) in append(size as u64, &all[size..size + n], read).unwrap() {
                store.insert((l, i), t);
            }
            size += n;
            let read = |l, i| Ok::<_, Infallible>(store.get(&(l, i)).cloned().unwrap_or_default());
            let mut reader = TileReader::sharing(read, &shared);
            // Twice each: the second time full tiles come from the shared trees.
            for _ in 0..2 {
                for s in [1, size / 2 + 1, size] {
                    let prefix = &all[..s];
                    for index in [0, s / 2, s - 1] {
                        let (s, i) = (s as u64, index as u64);
                        let path = merkle::inclusion_proof_in(&mut reader, s, i).map_err(|_| ());
                        assert_eq!(path.unwrap(), inclusion_proof(prefix, index), "{s}/{index}");
                    }
                    let first = (s / 3).max(1);
                    let proof = merkle::consistency_proof_in(&mut reader, first as u64, s as u64);
                    assert_eq!(proof.map_err(|_| ()).unwrap(), consistency_proof(prefix, first));
                }
            }
        }
        assert!(shared.len() <= 16);
    }

    #[test]
    fn a_missing_tile_is_an_error_not_a_wrong_proof() {
        let (_, store) = tiles(&[600]);
        let mut reader = TileReader::new(|l, i| {
            Ok::<_, Infallible>(store.get(&(l, i)).cloned().unwrap_or_default())
        });
        let beyond = merkle::inclusion_proof_in(&mut reader, 1000, 900);
        assert!(matches!(beyond, Err(TileError::Missing { level: 0, index: 3, .. })));
    }

    #[test]
    fn tile_bytes_round_trip_and_refuse_ragged_values() {
        let hashes = leaves(3);
        assert_eq!(decode(&encode(&hashes)).unwrap(), hashes);
        assert!(decode(&[0u8; 33]).is_none());
    }
}
