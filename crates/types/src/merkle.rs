//! RFC 9162 (Certificate Transparency v2) Merkle trees: roots, inclusion and consistency
//! proofs, and a compact frontier for a tree that only grows.
//!
//! ```text
//!            root = H(0x01 || a || e)          a tree of n = 5 leaves splits at k = 4,
//!             /                  \             the largest power of two below n
//!     a = H(0x01 || b || c)       e
//!       /        \                |
//!   b = H(01|d0|d1)  c            d4           each leaf d_i = H(0x00 || entry_i)
//!     /  \         /  \
//!    d0  d1       d2  d3
//! ```
//!
//! Leaves are hashed with a `0x00` prefix and interior nodes with `0x01`, so no leaf can pose
//! as an interior node. The empty tree's root is `SHA-256("")`. A transaction's id is its leaf
//! hash, so the trees here are built from ids directly.
//!
//! ```
//! use cunzheng_types::merkle::{leaf_hash, root, inclusion_proof, verify_inclusion};
//! let leaves: Vec<_> = [b"a", b"b", b"c"].iter().map(|e| leaf_hash(*e)).collect();
//! let r = root(&leaves);
//! let path = inclusion_proof(&leaves, 2);
//! assert!(verify_inclusion(&leaves[2], 2, 3, &path, &r).is_ok());
//! ```

use serde::{Deserialize, Serialize};

use crate::hash::{sha256, Hash};

/// Why a proof does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The path has more or fewer hashes than the tree shape needs.
    #[error("proof has the wrong number of hashes for this tree")]
    WrongLength,
    /// The path recomputes a different root.
    #[error("proof recomputes a different root")]
    RootMismatch,
    /// The sizes do not describe an older and a newer tree.
    #[error("first size {first} is larger than second size {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
}

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], &left.0, &right.0])
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// Largest power of two strictly below `n` (n >= 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// Root of the tree over `leaves` (already leaf-hashed).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Hashes of perfect subtrees, looked up by position: node `(level, index)` is the root of the
/// `2^level` leaves from `index * 2^level`. The proofs below ask only for such nodes, so a log
/// that stores some of them (`cunzheng_store`'s tiles) answers a proof in O(log n) lookups
/// instead of reading every leaf.
pub trait Subtrees {
    type Error;

    /// The root of the perfect subtree `(level, index)`, which lies wholly inside the tree.
    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// A tree held as its leaf hashes.
struct Leaves<'a>(&'a [Hash]);

impl Subtrees for Leaves<'_> {
    type Error = std::convert::Infallible;

    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        let start = (index << level) as usize;
        Ok(root(&self.0[start..start + (1usize << level)]))
    }
}

/// Root of the leaves `start..end` as RFC 9162's recursion visits them: `start` is a multiple
/// of the largest power of two not above `end - start`, so the range splits into perfect
/// subtrees.
fn range_root<S: Subtrees>(src: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        debug_assert!(
            start.is_multiple_of(n),
            "a perfect subtree starts at a multiple of its size"
        );
        return src.subtree(level, start >> level);
    }
    let k = split(n);
    Ok(node_hash(&range_root(src, start, start + k)?, &range_root(src, start + k, end)?))
}

/// Root of the tree of the first `size` leaves of `src` (`size` at least 1).
pub fn range_root_in<S: Subtrees>(src: &mut S, size: u64) -> Result<Hash, S::Error> {
    range_root(src, 0, size)
}

/// Audit path of leaf `index` in the tree over `leaves`, nearest sibling first.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let Ok(path) = inclusion_proof_in(&mut Leaves(leaves), leaves.len() as u64, index as u64);
    path
}

/// Audit path of leaf `index` in the tree of the first `size` leaves of `src`, nearest sibling
/// first (RFC 9162, section 2.1.3.1).
pub fn inclusion_proof_in<S: Subtrees>(
    src: &mut S,
    size: u64,
    index: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut path = Vec::new();
    if index < size {
        inclusion_into(src, 0, size, index, &mut path)?;
    }
    Ok(path)
}

fn inclusion_into<S: Subtrees>(
    src: &mut S,
    start: u64,
    end: u64,
    index: u64,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if index < start + k {
        inclusion_into(src, start, start + k, index, path)?;
        path.push(range_root(src, start + k, end)?);
    } else {
        inclusion_into(src, start + k, end, index, path)?;
        path.push(range_root(src, start, start + k)?);
    }
    Ok(())
}

/// Checks that `leaf` sits at `index` of a tree of `size` leaves whose root is `root`
/// (RFC 9162, section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    expected_root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn, mut r) = (index, size - 1, *leaf);
    for p in path {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *expected_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Consistency proof that the tree of the first `first` leaves is a prefix of the tree over
/// all of `leaves` (RFC 9162, section 2.1.4.1). Empty when `first` is 0 or the whole tree.
pub fn consistency_proof(leaves: &[Hash], first: usize) -> Vec<Hash> {
    let Ok(path) = consistency_proof_in(&mut Leaves(leaves), first as u64, leaves.len() as u64);
    path
}

/// Consistency proof between the trees of the first `first` and the first `second` leaves of
/// `src` (RFC 9162, section 2.1.4.1). Empty when `first` is 0 or not below `second`.
pub fn consistency_proof_in<S: Subtrees>(
    src: &mut S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut path = Vec::new();
    if first > 0 && first < second {
        subproof(src, first, 0, second, true, &mut path)?;
    }
    Ok(path)
}

fn subproof<S: Subtrees>(
    src: &mut S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            path.push(range_root(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, path)?;
        path.push(range_root(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, path)?;
        path.push(range_root(src, start, start + k)?);
    }
    Ok(())
}

/// Checks that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root` (RFC 9162, section 2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    path: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second || first == 0 {
        if !path.is_empty() {
            return Err(ProofError::WrongLength);
        }
        let holds = first != second || first_root == second_root;
        return if holds { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    let mut nodes: Vec<Hash> = Vec::with_capacity(path.len() + 1);
    if first.is_power_of_two() {
        nodes.push(*first_root);
    }
    nodes.extend_from_slice(path);
    let Some((&start, rest)) = nodes.split_first() else {
        return Err(ProofError::WrongLength);
    };

    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of an append-only tree: the roots of its perfect subtrees, largest first,
/// one per set bit of `size`. It yields the root after any number of appends in O(log n)
/// space, which is how a block header's `log_root` is kept without reading old leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    /// Leaves appended so far.
    pub size: u64,
    /// Perfect subtree roots, largest (leftmost) first.
    pub peaks: Vec<Hash>,
}

impl Frontier {
    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            let left = self.peaks.pop().expect("a set bit has a peak");
            node = node_hash(&left, &node);
            s >>= 1;
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// Root of the tree over every leaf appended so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(&last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(last, |acc, p| node_hash(p, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries behind the Certificate Transparency reference trees.
    const ENTRIES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// Reference roots for tree sizes 0 to 8.
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn h(s: &str) -> Hash {
        Hash::from_hex(s).unwrap()
    }

    fn leaves() -> Vec<Hash> {
        ENTRIES.iter().map(|e| leaf_hash(&hex::decode(e).unwrap())).collect()
    }

    fn hashes(v: &[&str]) -> Vec<Hash> {
        v.iter().map(|s| h(s)).collect()
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        let l = leaves();
        for n in 0..=8 {
            assert_eq!(root(&l[..n]), h(ROOTS[n]), "size {n}");
        }
    }

    #[test]
    fn frontier_root_matches_the_full_tree_at_every_size() {
        let mut f = Frontier::default();
        assert_eq!(f.root(), h(ROOTS[0]));
        let l = leaves();
        for (n, leaf) in l.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(f.root(), h(ROOTS[n + 1]));
        }
        let many: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::default();
        for (n, leaf) in many.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(f.root(), root(&many[..=n]), "size {}", n + 1);
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors() {
        let l = leaves();
        let cases: [(usize, usize, Vec<Hash>); 3] = [
            (
                0,
                8,
                hashes(&[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]),
            ),
            (
                5,
                8,
                hashes(&[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]),
            ),
            (2, 3, hashes(&["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"])),
        ];
        for (index, size, want) in cases {
            let got = inclusion_proof(&l[..size], index);
            assert_eq!(got, want, "leaf {index} of {size}");
            verify_inclusion(&l[index], index as u64, size as u64, &got, &h(ROOTS[size])).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors() {
        let l = leaves();
        let cases: [(usize, usize, Vec<Hash>); 4] = [
            (1, 1, vec![]),
            (
                1,
                8,
                hashes(&[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]),
            ),
            (
                6,
                8,
                hashes(&[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]),
            ),
            (
                2,
                5,
                hashes(&[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]),
            ),
        ];
        for (first, second, want) in cases {
            let got = consistency_proof(&l[..second], first);
            assert_eq!(got, want, "{first} -> {second}");
            verify_consistency(
                first as u64,
                second as u64,
                &got,
                &h(ROOTS[first]),
                &h(ROOTS[second]),
            )
            .unwrap();
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_in_every_tree_shape() {
        let many: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 1..=many.len() {
            let r = root(&many[..n]);
            for i in 0..n {
                let p = inclusion_proof(&many[..n], i);
                verify_inclusion(&many[i], i as u64, n as u64, &p, &r).unwrap();
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_in_every_tree_shape() {
        let many: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 1..=many.len() {
            let second_root = root(&many[..n]);
            for m in 1..=n {
                let p = consistency_proof(&many[..n], m);
                verify_consistency(m as u64, n as u64, &p, &root(&many[..m]), &second_root)
                    .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
            }
        }
    }

    /// A log rewritten anywhere inside an already published tree cannot prove itself
    /// consistent with that tree's root, for every pair of sizes up to 70.
    #[test]
    fn a_forked_log_fails_consistency_with_every_earlier_root() {
        let honest: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for m in 1..honest.len() {
            let first_root = root(&honest[..m]);
            for n in m + 1..=honest.len() {
                for rewritten in [0, m / 2, m - 1] {
                    let mut forked = honest[..n].to_vec();
                    forked[rewritten] = leaf_hash(b"rewritten");
                    let p = consistency_proof(&forked, m);
                    let check =
                        verify_consistency(m as u64, n as u64, &p, &first_root, &root(&forked));
                    assert!(check.is_err(), "fork at {rewritten} passed {m} -> {n}");
                }
            }
        }
    }

    /// Every field of an inclusion proof is covered: changing any one of them fails.
    #[test]
    fn tampering_any_inclusion_field_fails() {
        let many: Vec<Hash> = (0u32..13).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let r = root(&many);
        let (index, size) = (6usize, many.len() as u64);
        let path = inclusion_proof(&many, index);
        let leaf = many[index];
        verify_inclusion(&leaf, index as u64, size, &path, &r).unwrap();

        let flip = |h: &Hash| {
            let mut b = h.0;
            b[0] ^= 1;
            Hash(b)
        };
        assert!(verify_inclusion(&flip(&leaf), index as u64, size, &path, &r).is_err(), "leaf");
        assert!(verify_inclusion(&leaf, index as u64 + 1, size, &path, &r).is_err(), "index");
        // The size is bound by whatever signs the root (a header, a checkpoint); sizes whose
        // tree has the same shape around this leaf recompute the same root by design.
        assert!(verify_inclusion(&leaf, index as u64, 8, &path, &r).is_err(), "size");
        assert!(verify_inclusion(&leaf, index as u64, 17, &path, &r).is_err(), "size");
        assert!(verify_inclusion(&leaf, index as u64, size, &path, &flip(&r)).is_err(), "root");
        for i in 0..path.len() {
            let mut p = path.clone();
            p[i] = flip(&p[i]);
            assert!(verify_inclusion(&leaf, index as u64, size, &p, &r).is_err(), "path {i}");
        }
        let mut longer = path.clone();
        longer.push(leaf);
        assert_eq!(
            verify_inclusion(&leaf, index as u64, size, &longer, &r),
            Err(ProofError::WrongLength)
        );
        let shorter = &path[..path.len() - 1];
        assert!(verify_inclusion(&leaf, index as u64, size, shorter, &r).is_err(), "short path");
        assert_eq!(
            verify_inclusion(&leaf, size, size, &path, &r),
            Err(ProofError::IndexOutOfRange { index: size, size })
        );
    }

    #[test]
    fn tampering_any_consistency_field_fails() {
        let many: Vec<Hash> = (0u32..21).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let (m, n) = (7usize, many.len());
        let (r1, r2) = (root(&many[..m]), root(&many));
        let path = consistency_proof(&many, m);
        verify_consistency(m as u64, n as u64, &path, &r1, &r2).unwrap();

        let flip = |h: &Hash| {
            let mut b = h.0;
            b[31] ^= 0x80;
            Hash(b)
        };
        assert!(verify_consistency(m as u64, n as u64, &path, &flip(&r1), &r2).is_err());
        assert!(verify_consistency(m as u64, n as u64, &path, &r1, &flip(&r2)).is_err());
        assert!(verify_consistency(m as u64 + 1, n as u64, &path, &r1, &r2).is_err());
        assert!(verify_consistency(m as u64, 16, &path, &r1, &r2).is_err());
        assert!(verify_consistency(m as u64, 33, &path, &r1, &r2).is_err());
        assert!(verify_consistency(n as u64, m as u64, &path, &r1, &r2).is_err());
        for i in 0..path.len() {
            let mut p = path.clone();
            p[i] = flip(&p[i]);
            assert!(verify_consistency(m as u64, n as u64, &p, &r1, &r2).is_err(), "path {i}");
        }
        assert!(verify_consistency(m as u64, n as u64, &path[1..], &r1, &r2).is_err());
    }
}
