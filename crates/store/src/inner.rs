//! The inner nodes of whole groups of 256 hashes: full log tiles and whole 256-leaf chunks of
//! a block's tree. Neither changes once whole, so a proof takes the root of a perfect subtree
//! inside one from here instead of hashing up to 255 nodes for each group on its path.
//!
//! The cache is bounded by two generations of at most half its capacity each. A hit in the
//! older generation moves the entry to the newer one; when the newer one is full, it becomes
//! the older and the previous older one is dropped. So what proofs keep asking for stays, and
//! the memory held is at most `capacity` groups of 511 hashes (about 16 KiB each).

use std::{collections::HashMap, sync::Arc};

use cunzheng_types::{merkle, Hash};
use parking_lot::Mutex;

/// Hashes in a whole group: a full tile, or a whole chunk of a block's leaves.
pub const WIDTH: usize = 256;
/// Tree levels above a group's hashes, up to its root.
const LEVELS: u32 = 8;

/// Which group of 256 hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// Log tile `index` of tile level `level`.
    Tile { level: u8, index: u64 },
    /// Chunk `index` (leaves `256 * index ..`) of the block at `height`.
    Chunk { height: u64, index: u64 },
}

/// Every level of the perfect tree over one group: the 256 hashes, their 128 parents, and so
/// on up to the root, 511 hashes in all.
pub struct Inner(Box<[Hash]>);

impl Inner {
    /// The tree over `entries`, which must be a whole group.
    pub fn new(entries: &[Hash]) -> Inner {
        assert_eq!(entries.len(), WIDTH, "a group holds {WIDTH} hashes");
        let mut nodes = Vec::with_capacity(2 * WIDTH - 1);
        nodes.extend_from_slice(entries);
        let mut start = 0;
        for height in 1..=LEVELS {
            let below = WIDTH >> (height - 1);
            for k in 0..below / 2 {
                let node = merkle::node_hash(&nodes[start + 2 * k], &nodes[start + 2 * k + 1]);
                nodes.push(node);
            }
            start += below;
        }
        Inner(nodes.into_boxed_slice())
    }

    /// The root of the `index`-th run of `2^height` hashes of the group (`height` at most 8).
    pub fn subtree(&self, height: u32, index: usize) -> Hash {
        let level_start = 2 * WIDTH - ((2 * WIDTH) >> height);
        self.0[level_start + index]
    }
}

/// A bounded cache of [`Inner`] trees, shared by every proof a store serves.
pub struct InnerTrees {
    /// Entries each generation holds at most.
    half: usize,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    newer: HashMap<Group, Arc<Inner>>,
    older: HashMap<Group, Arc<Inner>>,
}

impl Generations {
    fn insert(&mut self, half: usize, group: Group, inner: Arc<Inner>) {
        if self.newer.len() >= half {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(group, inner);
    }
}

impl InnerTrees {
    /// A cache of at most `capacity` groups (at least 2).
    pub fn new(capacity: usize) -> InnerTrees {
        InnerTrees { half: (capacity / 2).max(1), generations: Mutex::default() }
    }

    /// The tree of `group`, if it is cached.
    pub fn get(&self, group: Group) -> Option<Arc<Inner>> {
        let mut generations = self.generations.lock();
        if let Some(inner) = generations.newer.get(&group) {
            return Some(inner.clone());
        }
        let inner = generations.older.remove(&group)?;
        generations.insert(self.half, group, inner.clone());
        Some(inner)
    }

    /// Builds the tree of `group` from its whole 256 `entries`, caches it, and returns it.
    pub fn insert(&self, group: Group, entries: &[Hash]) -> Arc<Inner> {
        let inner = Arc::new(Inner::new(entries));
        self.generations.lock().insert(self.half, group, inner.clone());
        inner
    }

    /// Groups cached now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let generations = self.generations.lock();
        generations.newer.len() + generations.older.len()
    }
}

#[cfg(test)]
mod tests {
    use cunzheng_types::merkle::{leaf_hash, root};

    use super::*;

    fn entries(seed: u64) -> Vec<Hash> {
        (0..WIDTH as u64).map(|i| leaf_hash(&(seed * 1000 + i).to_be_bytes())).collect()
    }

    #[test]
    fn every_subtree_of_a_group_is_the_root_of_its_entries() {
        let e = entries(1);
        let inner = Inner::new(&e);
        for height in 0..=LEVELS {
            let size = 1usize << height;
            for index in 0..WIDTH / size {
                let expected = root(&e[index * size..(index + 1) * size]);
                assert_eq!(inner.subtree(height, index), expected, "{height}/{index}");
            }
        }
    }

    #[test]
    fn the_cache_keeps_what_is_asked_for_and_never_holds_more_than_its_capacity() {
        let cache = InnerTrees::new(8);
        let tile = |index| Group::Tile { level: 0, index };
        let hot = Group::Chunk { height: 7, index: 0 };
        cache.insert(hot, &entries(0));
        for index in 0..100 {
            cache.insert(tile(index), &entries(index));
            // Asked for again and again, the hot group survives every turn of generations.
            assert!(cache.get(hot).is_some(), "after {index}");
            assert!(cache.len() <= 8);
        }
        assert!(cache.get(tile(0)).is_none());
        let last = cache.get(tile(99)).expect("the newest group is cached");
        assert_eq!(last.subtree(LEVELS, 0), root(&entries(99)));
    }

    #[test]
    #[should_panic(expected = "a group holds 256 hashes")]
    fn a_partial_group_is_refused() {
        Inner::new(&entries(0)[..255]);
    }
}
