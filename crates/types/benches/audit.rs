//! Hot paths of an auditor: a transaction's leaf hash, a block's Merkle root, and proof bundle
//! verification, beside raw SHA-256 of the same bytes as the machine's limit.
//!
//! `cargo bench -p cunzheng-types --bench audit`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cunzheng_types::{
    block::BLOCK_VERSION,
    merkle::{self, Frontier},
    proof::{BundleVerifier, BUNDLE_VERSION},
    sha256, BlockHeader, Certificate, CertifiedHeader, Channel, Genesis, Hash, ProofBundle,
    PublicKey, Record, RecordTx, Transaction,
};
use ed25519_dalek::SigningKey;

const BLOCK: usize = 10_000;

fn keys() -> Vec<SigningKey> {
    (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
}

fn genesis() -> Genesis {
    Genesis::of_members(
        "bench",
        0,
        keys().iter().enumerate().map(|(i, k)| (format!("m{i}"), k.verifying_key().into())),
        PublicKey([9; 32]),
    )
}

fn tx(i: u64) -> Transaction {
    Transaction::Record(RecordTx {
        client_id: "client".into(),
        record: Record::Consent {
            channel: Channel::Voice,
            phone: format!("{i:032X}"),
            deposit_hash: format!("deposit{i}"),
            sign_time: 1_700_000_000,
        },
    })
}

fn certified(header: BlockHeader) -> CertifiedHeader {
    let signatures =
        keys()[..3].iter().map(|k| Certificate::sign_precommit(k, &header, 0)).collect();
    let certificate =
        Certificate { height: header.height, round: 0, block_hash: header.hash(), signatures };
    CertifiedHeader { header, certificate }
}

/// Two blocks of 10,000 consents; bundles for records of block 1 against block 2.
fn bundles() -> Vec<ProofBundle> {
    let ids: Vec<Hash> = (0..2 * BLOCK as u64).map(|i| tx(i).id()).collect();
    let mut log = Frontier::default();
    let mut prev = genesis().hash();
    let mut blocks = Vec::new();
    for (height, range) in [(1, 0..BLOCK), (2, BLOCK..2 * BLOCK)] {
        ids[range.clone()].iter().for_each(|id| log.push(*id));
        let header = BlockHeader {
            version: BLOCK_VERSION,
            chain_id: "bench".into(),
            height,
            time: 1_700_000_000_000 + height,
            prev_hash: prev,
            tx_root: merkle::root(&ids[range.clone()]),
            tx_count: range.len() as u64,
            log_root: log.root(),
            log_size: log.size,
            proposer: keys()[0].verifying_key().into(),
        };
        prev = header.hash();
        blocks.push(certified(header));
    }
    (0..64)
        .map(|k| {
            let i = k * 151;
            ProofBundle {
                version: BUNDLE_VERSION,
                genesis_hash: genesis().hash(),
                tx: tx(i as u64).to_value(),
                tx_id: ids[i],
                block: blocks[0].clone(),
                tx_index: i as u64,
                tx_path: merkle::inclusion_proof(&ids[..BLOCK], i),
                log_index: i as u64,
                checkpoint: blocks[1].clone(),
                log_path: merkle::inclusion_proof(&ids, i),
            }
        })
        .collect()
}

fn hashing(c: &mut Criterion) {
    let bytes = tx(7).canonical_bytes();
    let mut g = c.benchmark_group("hashing");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw sha256 of a transaction's canonical bytes", |b| {
        b.iter(|| sha256(&[&bytes]))
    });
    g.bench_function("canonical bytes and leaf hash of a transaction", |b| {
        let t = tx(7);
        b.iter(|| t.id())
    });
    g.finish();

    let ids: Vec<Hash> = (0..BLOCK as u64).map(|i| tx(i).id()).collect();
    let mut g = c.benchmark_group("merkle");
    g.throughput(Throughput::Elements(BLOCK as u64));
    g.bench_function("root of a 10,000-transaction block", |b| b.iter(|| merkle::root(&ids)));
    g.finish();
}

fn verification(c: &mut Criterion) {
    let g = genesis();
    let bundles = bundles();
    let mut group = c.benchmark_group("bundle");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify one bundle alone (six signatures)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % bundles.len();
            bundles[i].verify(&g).unwrap()
        })
    });
    group.bench_function("verify bundles of one block and checkpoint in a batch", |b| {
        let mut verifier = BundleVerifier::new(&g);
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % bundles.len();
            verifier.verify(&bundles[i]).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, hashing, verification);
criterion_main!(benches);
