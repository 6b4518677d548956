//! Properties of the Merkle code over any tree size and any index: every honest proof
//! verifies, the frontier agrees with the full tree, and any tampering is caught (a changed
//! leaf, path hash, index, root, or a path made shorter or longer; for consistency, sizes and
//! a rewritten old leaf).

use cunzheng_types::{
    merkle::{
        consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
        Frontier,
    },
    Hash,
};
use proptest::prelude::*;

fn leaves(n: usize, seed: u64) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&(seed ^ i.wrapping_mul(0x9E37_79B9)).to_be_bytes())).collect()
}

/// `h` with one bit flipped.
fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash(b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_frontier_roots_every_prefix_like_the_whole_tree(n in 0usize..300, seed: u64) {
        let ls = leaves(n, seed);
        let mut f = Frontier::default();
        prop_assert_eq!(f.root(), root(&[]));
        for (i, l) in ls.iter().enumerate() {
            f.push(*l);
            prop_assert_eq!(f.root(), root(&ls[..=i]));
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_tampering_fails(
        n in 1usize..600, at in any::<prop::sample::Index>(), seed: u64, bit in 0usize..256,
        pick in any::<prop::sample::Index>(),
    ) {
        let ls = leaves(n, seed);
        let i = at.index(n);
        let r = root(&ls);
        let path = inclusion_proof(&ls, i);
        let (idx, size) = (i as u64, n as u64);
        prop_assert!(verify_inclusion(&ls[i], idx, size, &path, &r).is_ok());

        prop_assert!(verify_inclusion(&flip(&ls[i], bit), idx, size, &path, &r).is_err());
        prop_assert!(verify_inclusion(&ls[i], idx, size, &path, &flip(&r, bit)).is_err());
        if !path.is_empty() {
            let mut bad = path.clone();
            let k = pick.index(bad.len());
            bad[k] = flip(&bad[k], bit);
            prop_assert!(verify_inclusion(&ls[i], idx, size, &bad, &r).is_err());
            prop_assert!(verify_inclusion(&ls[i], idx, size, &path[..path.len() - 1], &r).is_err());
        }
        let mut longer = path.clone();
        longer.push(ls[0]);
        prop_assert!(verify_inclusion(&ls[i], idx, size, &longer, &r).is_err());
        // Another position holding another leaf does not verify with this path.
        if n > 1 {
            let j = (i + 1 + pick.index(n - 1)) % n;
            prop_assert!(verify_inclusion(&ls[i], j as u64, size, &path, &r).is_err() || ls[i] == ls[j]);
        }
        prop_assert!(verify_inclusion(&ls[i], size, size, &path, &r).is_err());
        // The size is not bound by the path alone (a 3-leaf root is also the root of a
        // 4-leaf shape whose last node is the third leaf): proof bundles take it from the
        // signed header, next to the root.
    }

    #[test]
    fn consistency_proofs_verify_and_tampering_fails(
        n in 1usize..600, at in any::<prop::sample::Index>(), seed: u64, bit in 0usize..256,
        pick in any::<prop::sample::Index>(),
    ) {
        let ls = leaves(n, seed);
        let m = 1 + at.index(n);
        let (r1, r2) = (root(&ls[..m]), root(&ls));
        let path = consistency_proof(&ls, m);
        let (first, second) = (m as u64, n as u64);
        prop_assert!(verify_consistency(first, second, &path, &r1, &r2).is_ok());

        prop_assert!(verify_consistency(first, second, &path, &flip(&r1, bit), &r2).is_err());
        prop_assert!(verify_consistency(first, second, &path, &r1, &flip(&r2, bit)).is_err());
        if !path.is_empty() {
            let mut bad = path.clone();
            let k = pick.index(bad.len());
            bad[k] = flip(&bad[k], bit);
            prop_assert!(verify_consistency(first, second, &bad, &r1, &r2).is_err());
            prop_assert!(verify_consistency(first, second, &path[..path.len() - 1], &r1, &r2).is_err());
        }
        if m < n {
            prop_assert!(verify_consistency(first + 1, second, &path, &r1, &r2).is_err());
            prop_assert!(verify_consistency(second, first, &path, &r2, &r1).is_err());
            // A tree that changed an old leaf is not an extension.
            let mut rewritten = ls.clone();
            rewritten[pick.index(m)] = flip(&rewritten[pick.index(m)], bit);
            prop_assert!(verify_consistency(first, second, &path, &r1, &root(&rewritten)).is_err());
        }
    }
}
