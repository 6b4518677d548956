//! The inner nodes of groups of up to 256 hashes: full log tiles and the 256-leaf chunks of a
//! committed block's tree (its last chunk may be shorter). None of them changes any more, so a
//! proof takes the root of a perfect subtree inside one from here instead of hashing up to 255
//! nodes for each group on its path. A log tile that is not full is never kept: the next
//! block adds to it.
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

/// Which group of hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// Log tile `index` of tile level `level`.
    Tile { level: u8, index: u64 },
    /// Chunk `index` (leaves `256 * index ..`) of the block at `height`.
    Chunk { height: u64, index: u64 },
}

/// Every level of the perfect subtrees over one group of `n` hashes: the hashes, their
/// `n / 2` pairs' parents, and so on while a level has two nodes to pair; 511 hashes for a
/// whole group.
pub struct Inner {
    nodes: Box<[Hash]>,
    len: usize,
}

impl Inner {
    /// The subtrees over `entries`, 1 to 256 of them.
    pub fn new(entries: &[Hash]) -> Inner {
        let len = entries.len();
        assert!((1..=WIDTH).contains(&len), "a group holds 1 to {WIDTH} hashes");
        let mut nodes = Vec::with_capacity(2 * len);
        nodes.extend_from_slice(entries);
        let (mut start, mut below) = (0, len);
        while below >= 2 {
            for k in 0..below / 2 {
                let node = merkle::node_hash(&nodes[start + 2 * k], &nodes[start + 2 * k + 1]);
                nodes.push(node);
            }
            start += below;
            below /= 2;
        }
        Inner { nodes: nodes.into_boxed_slice(), len }
    }

    /// The root of the `index`-th run of `2^height` hashes of the group, which must lie within
    /// its entries.
    pub fn subtree(&self, height: u32, index: usize) -> Hash {
        let (mut start, mut width) = (0, self.len);
        for _ in 0..height {
            start += width;
            width /= 2;
        }
        assert!(index < width, "subtree {height}/{index} lies outside a group of {}", self.len);
        self.nodes[start + index]
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

    /// Builds the tree of `group` from its `entries` (1 to 256), caches it, and returns it.
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
        for len in [1, 2, 3, 16, 200, 255, WIDTH] {
            let e = &entries(1)[..len];
            let inner = Inner::new(e);
            for height in 0..=8 {
                let size = 1usize << height;
                for index in 0..len / size {
                    let expected = root(&e[index * size..(index + 1) * size]);
                    assert_eq!(inner.subtree(height, index), expected, "{len}: {height}/{index}");
                }
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
        assert_eq!(last.subtree(8, 0), root(&entries(99)));
    }

    #[test]
    #[should_panic(expected = "a group holds 1 to 256 hashes")]
    fn an_empty_group_is_refused() {
        Inner::new(&[]);
    }

    #[test]
    #[should_panic(expected = "lies outside a group of 200")]
    fn a_subtree_past_a_short_groups_entries_is_refused() {
        // 200 entries hold three runs of 64 (0-191), not a fourth.
        Inner::new(&entries(0)[..200]).subtree(6, 3);
    }
}
