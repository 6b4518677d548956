use std::sync::Arc;

use cunzheng_types::{
    block::BLOCK_VERSION, merkle, Block, BlockHeader, Certificate, Channel, Genesis, Hash,
    PublicKey, Record, RecordTx, SealedTx, Transaction,
};
use ed25519_dalek::SigningKey;

use super::*;

const PHONE: &str = "C6AAA43716949506D38CF6A1BAA2F576";

fn genesis(key: &SigningKey) -> Genesis {
    Genesis {
        chain_id: "store-test".into(),
        genesis_time: 0,
        validators: vec![cunzheng_types::Validator {
            name: "v".into(),
            public_key: key.verifying_key().into(),
            power: 1,
        }],
        operator_key: PublicKey([3; 32]),
    }
}

fn record(channel: Channel, grant: bool, time: u64, deposit: &str) -> Arc<SealedTx> {
    let record = if grant {
        Record::Consent {
            channel,
            phone: PHONE.into(),
            deposit_hash: deposit.into(),
            sign_time: time,
        }
    } else {
        Record::Withdraw { channel, phone: PHONE.into(), at: time }
    };
    Arc::new(SealedTx::new(Transaction::Record(RecordTx { client_id: "c1".into(), record })))
}

/// Builds block `height` on `prev` with a real certificate, as the builder would.
fn block(
    key: &SigningKey,
    prev: Hash,
    height: u64,
    frontier: &mut merkle::Frontier,
    txs: Vec<Arc<SealedTx>>,
) -> (Block, Certificate) {
    let ids: Vec<Hash> = txs.iter().map(|t| t.id()).collect();
    ids.iter().for_each(|id| frontier.push(*id));
    let header = BlockHeader {
        version: BLOCK_VERSION,
        chain_id: "store-test".into(),
        height,
        time: 1_700_000_000_000 + height,
        prev_hash: prev,
        tx_root: merkle::root(&ids),
        tx_count: ids.len() as u64,
        log_root: frontier.root(),
        log_size: frontier.size,
        proposer: key.verifying_key().into(),
    };
    let cert = Certificate {
        height,
        round: 0,
        block_hash: header.hash(),
        signatures: vec![Certificate::sign_precommit(key, &header, 0)],
    };
    (Block { header, txs }, cert)
}

fn commit(store: &ChainStore, b: &(Block, Certificate), f: &merkle::Frontier) -> Result<()> {
    commit_with(store, b, f, &ComplianceChanges::default())
}

fn commit_with(
    store: &ChainStore,
    b: &(Block, Certificate),
    f: &merkle::Frontier,
    changes: &ComplianceChanges,
) -> Result<()> {
    store.commit(&Commit {
        block: &b.0,
        certificate: &b.1,
        frontier: f,
        clients: &[],
        flags: &[],
        compliance: Some(changes),
    })
}

fn call(time: u64, deposit: &str) -> Arc<SealedTx> {
    let record = Record::Call {
        phone: PHONE.into(),
        from_num: "075538833883".into(),
        start_time: time,
        end_time: time + 30,
        deposit_hash: deposit.into(),
    };
    Arc::new(SealedTx::new(Transaction::Record(RecordTx { client_id: "c1".into(), record })))
}

fn query() -> RecordQuery {
    RecordQuery { client_id: "c1".into(), to: u64::MAX, limit: 100, ..RecordQuery::default() }
}

fn found_ids(page: &Page) -> Vec<Hash> {
    page.records.iter().map(|r| r.id).collect()
}

#[test]
fn a_committed_block_reads_back_with_every_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let g = genesis(&key);
    store.init_genesis(&g).unwrap();

    let mut f = merkle::Frontier::default();
    let txs = vec![
        record(Channel::Voice, true, 1_600_000_000, "dep1"),
        record(Channel::Voice, false, 1_600_000_100, ""),
    ];
    let b = block(&key, g.hash(), 1, &mut f, txs.clone());
    let mut history = cunzheng_types::compliance::ConsentHistory::default();
    for (tx, (time, granted)) in txs.iter().zip([(1_600_000_000, true), (1_600_000_100, false)]) {
        history.insert(cunzheng_types::compliance::ConsentEvent { time, granted, tx_id: tx.id() });
    }
    let changes = ComplianceChanges {
        consent: vec![(consent_key("c1", Channel::Voice, PHONE), history)],
        daily: Vec::new(),
    };
    commit_with(&store, &b, &f, &changes).unwrap();

    let head = store.head().unwrap().unwrap();
    assert_eq!((head.height, head.hash, head.frontier.size), (1, b.0.header.hash(), 2));
    let stored = store.block(1).unwrap().unwrap();
    assert_eq!(stored.header, b.0.header);
    assert_eq!(stored.tx_ids, b.0.tx_ids());
    store.certificate(1).unwrap().unwrap().verify(&stored.header, &g).unwrap();

    let entry = store.tx(&txs[1].id()).unwrap().unwrap();
    assert_eq!((entry.height, entry.index, entry.bytes.as_slice()), (1, 1, txs[1].bytes()));
    assert_eq!(store.contains(&[txs[0].id(), Hash([9; 32])]).unwrap(), vec![true, false]);
    let by_deposit = RecordQuery { deposit_hash: Some("dep1".into()), ..query() };
    assert_eq!(found_ids(&store.search(&by_deposit).unwrap()), vec![txs[0].id()]);
    let by_phone = RecordQuery { phone: Some(PHONE.into()), ..query() };
    assert_eq!(found_ids(&store.search(&by_phone).unwrap()), vec![txs[1].id(), txs[0].id()]);
    // Without a kind the search merges the client's kinds, newest first.
    assert_eq!(found_ids(&store.search(&query()).unwrap()), vec![txs[1].id(), txs[0].id()]);
    let by_time = RecordQuery { from: 1_600_000_050, to: 1_700_000_000, ..query() };
    assert_eq!(found_ids(&store.search(&by_time).unwrap()), vec![txs[1].id()]);
    let history = store.consent_history("c1", Channel::Voice, PHONE).unwrap();
    assert_eq!(
        history.0.iter().map(|e| (e.time, e.granted, e.tx_id)).collect::<Vec<_>>(),
        vec![(1_600_000_000, true, txs[0].id()), (1_600_000_100, false, txs[1].id())]
    );
    assert!(store.consent_history("c1", Channel::Sms, PHONE).unwrap().0.is_empty());
}

#[test]
fn verdicts_are_indexed_counted_and_searchable() {
    use cunzheng_types::compliance::{beijing_day, Flag, Flags};
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let g = genesis(&key);
    store.init_genesis(&g).unwrap();
    let t = 1_796_349_600; // 2026-12-04 10:00 in Beijing
    let txs: Vec<_> = (0..5).map(|i| call(t + i, &format!("d{i}"))).collect();
    let no_consent = Flags::CLEAN.with(Flag::NoConsent, true);
    let both = no_consent.with(Flag::OverDailyLimit, true);
    let flags = [no_consent, Flags::CLEAN, both, Flags::CLEAN, both];
    let mut f = merkle::Frontier::default();
    let b = block(&key, g.hash(), 1, &mut f, txs.clone());
    let commit = Commit {
        block: &b.0,
        certificate: &b.1,
        frontier: &f,
        clients: &[],
        flags: &flags,
        compliance: Some(&ComplianceChanges {
            consent: Vec::new(),
            daily: vec![(daily_key("c1", Channel::Voice, PHONE, beijing_day(t)), 5)],
        }),
    };
    store.commit(&commit).unwrap();

    assert_eq!(store.tx(&txs[2].id()).unwrap().unwrap().flags, both.0);
    let day = beijing_day(t);
    let daily = store.daily_counts(&[daily_key("c1", Channel::Voice, PHONE, day)]).unwrap();
    assert_eq!(daily, vec![5]);

    let over = RecordQuery { flag: Some(Flag::OverDailyLimit), ..query() };
    assert_eq!(found_ids(&store.search(&over).unwrap()), vec![txs[4].id(), txs[2].id()]);
    let phone_and_flag =
        RecordQuery { phone: Some(PHONE.into()), flag: Some(Flag::NoConsent), ..query() };
    assert_eq!(
        found_ids(&store.search(&phone_and_flag).unwrap()),
        vec![txs[4].id(), txs[2].id(), txs[0].id()]
    );
    let calls = RecordQuery { kind: Some("voice.call".into()), limit: 2, ..query() };
    let first = store.search(&calls).unwrap();
    assert_eq!(found_ids(&first), vec![txs[4].id(), txs[3].id()]);
    let second = store.search(&RecordQuery { before: first.next, ..calls.clone() }).unwrap();
    assert_eq!(found_ids(&second), vec![txs[2].id(), txs[1].id()]);
    let third = store.search(&RecordQuery { before: second.next, ..calls.clone() }).unwrap();
    assert_eq!(found_ids(&third), vec![txs[0].id()]);
    assert_eq!(third.next, None);
    let sms = RecordQuery { kind: Some("sms.message".into()), ..query() };
    assert!(store.search(&sms).unwrap().records.is_empty());

    let report = store.report_counts("c1", day, day).unwrap();
    assert_eq!(report.kinds.get("voice.call"), Some(&5));
    assert_eq!(report.flags.get("no_consent"), Some(&3));
    assert_eq!(report.flags.get("over_daily_limit"), Some(&2));
    assert!(store.report_counts("c1", day + 1, day + 40).unwrap().kinds.is_empty());
}

/// Commits block `height` of five calls at `t`, two of them flagged as without consent.
fn flagged_calls(
    store: &ChainStore,
    key: &SigningKey,
    prev: Hash,
    height: u64,
    f: &mut merkle::Frontier,
    t: u64,
) -> (Block, Certificate) {
    use cunzheng_types::compliance::{Flag, Flags};
    let txs: Vec<_> = (0..5).map(|i| call(t + i, &format!("h{height}-{i}"))).collect();
    let no_consent = Flags::CLEAN.with(Flag::NoConsent, true);
    let flags = [no_consent, Flags::CLEAN, no_consent, Flags::CLEAN, Flags::CLEAN];
    let b = block(key, prev, height, f, txs);
    let changes = ComplianceChanges::default();
    let commit = Commit {
        block: &b.0,
        certificate: &b.1,
        frontier: f,
        clients: &[],
        flags: &flags,
        compliance: Some(&changes),
    };
    store.commit(&commit).unwrap();
    b
}

#[test]
fn index_entries_a_crash_left_unwritten_are_written_at_the_next_start() {
    use cunzheng_types::compliance::{beijing_day, Flag};
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let g = genesis(&key);
    let t = 1_796_349_600;
    let (first, second) = {
        let mut store = ChainStore::open(dir.path()).unwrap();
        store.init_genesis(&g).unwrap();
        let mut f = merkle::Frontier::default();
        let first = flagged_calls(&store, &key, g.hash(), 1, &mut f, t);
        assert_eq!(store.search(&query()).unwrap().records.len(), 5);
        // The writer is gone, as after a crash between a block's batch and its index batch.
        store.indexer = Arc::new(index::Indexer::fixed(1, 1));
        let second = flagged_calls(&store, &key, first.0.header.hash(), 2, &mut f, t + 10);
        assert_eq!(store.head().unwrap().unwrap().height, 2);
        assert!(matches!(
            store.search(&query()),
            Err(StoreError::IndexBehind { indexed: 1, committed: 2 })
        ));
        (first, second)
    };

    let store = ChainStore::open(dir.path()).unwrap();
    let found = found_ids(&store.search(&query()).unwrap());
    let mut want: Vec<Hash> = first.0.txs.iter().chain(&second.0.txs).map(|t| t.id()).collect();
    want.reverse();
    assert_eq!(found, want);
    let by_deposit = RecordQuery { deposit_hash: Some("h2-3".into()), ..query() };
    assert_eq!(found_ids(&store.search(&by_deposit).unwrap()), vec![second.0.txs[3].id()]);
    let flagged = RecordQuery { flag: Some(Flag::NoConsent), ..query() };
    assert_eq!(store.search(&flagged).unwrap().records.len(), 4);
    // Each block counted once: the first was indexed before the stop, the second after.
    let day = beijing_day(t);
    let report = store.report_counts("c1", day, day).unwrap();
    assert_eq!(report.kinds.get("voice.call"), Some(&10));
    assert_eq!(report.flags.get("no_consent"), Some(&4));
    drop(store);
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.report_counts("c1", day, day).unwrap().kinds.get("voice.call"), Some(&10));
}

#[test]
fn a_layout_4_database_is_brought_to_layout_5_with_its_indexes_whole() {
    use cunzheng_types::compliance::beijing_day;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let g = genesis(&key);
    let t = 1_796_349_600;
    {
        let store = ChainStore::open(dir.path()).unwrap();
        store.init_genesis(&g).unwrap();
        let mut f = merkle::Frontier::default();
        flagged_calls(&store, &key, g.hash(), 1, &mut f, t);
        store.flush().unwrap();
        // Layout 4 kept no `indexed` height: it wrote the indexes with each block.
        store.db.put_cf(store.cf(CF_META), KEY_FORMAT, 4u32.to_be_bytes()).unwrap();
        store.db.delete_cf(store.cf(CF_META), index::KEY_INDEXED).unwrap();
    }
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.stored_format().unwrap(), Some(FORMAT));
    assert_eq!(store.indexed().unwrap(), 1);
    let day = beijing_day(t);
    assert_eq!(store.report_counts("c1", day, day).unwrap().kinds.get("voice.call"), Some(&5));
    assert_eq!(store.search(&query()).unwrap().records.len(), 5);
}

#[test]
fn a_database_of_another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ChainStore::open(dir.path()).unwrap();
        store.init_genesis(&genesis(&SigningKey::from_bytes(&[1; 32]))).unwrap();
        store.db.delete_cf(store.cf(CF_META), KEY_FORMAT).unwrap();
    }
    assert!(matches!(ChainStore::open(dir.path()), Err(StoreError::Format { found: 1 })));
}

#[test]
fn a_block_that_skips_a_height_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let mut f = merkle::Frontier::default();
    let b =
        block(&key, Hash::ZERO, 2, &mut f, vec![record(Channel::Sms, true, 1_600_000_000, "x")]);
    assert!(matches!(commit(&store, &b, &f), Err(StoreError::NotNext { height: 2, head: 0 })));
    assert_eq!(store.head().unwrap(), None);
    assert_eq!(store.contains(&[b.0.txs[0].id()]).unwrap(), vec![false]);
}

#[test]
fn reopening_finds_every_committed_block() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let g = genesis(&key);
    let mut f = merkle::Frontier::default();
    let mut ids = Vec::new();
    {
        let store = ChainStore::open(dir.path()).unwrap();
        store.init_genesis(&g).unwrap();
        let mut prev = g.hash();
        for h in 1..=5u64 {
            let b = block(
                &key,
                prev,
                h,
                &mut f,
                vec![record(Channel::Voice, true, 1_600_000_000 + h, "d")],
            );
            commit(&store, &b, &f).unwrap();
            prev = b.0.header.hash();
            ids.push(b.0.txs[0].id());
        }
        // Dropped without a flush: only the write-ahead log holds the blocks.
    }
    let store = ChainStore::open(dir.path()).unwrap();
    let head = store.head().unwrap().unwrap();
    assert_eq!(head.height, 5);
    assert_eq!(head.frontier, f);
    assert!(store.contains(&ids).unwrap().into_iter().all(|c| c));
}

#[test]
fn another_genesis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let g = genesis(&SigningKey::from_bytes(&[1; 32]));
    store.init_genesis(&g).unwrap();
    store.init_genesis(&g).unwrap();
    let other = genesis(&SigningKey::from_bytes(&[2; 32]));
    assert!(matches!(store.init_genesis(&other), Err(StoreError::GenesisMismatch { .. })));
}

#[test]
fn clients_are_written_with_their_block() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let mut f = merkle::Frontier::default();
    let b = block(&key, Hash::ZERO, 1, &mut f, vec![]);
    let entry = ClientEntry {
        key_nonce: [0; 12],
        key_ciphertext: vec![1, 2, 3],
        suspended: None,
        registered_at: 1,
        filings: Vec::new(),
        auth: Default::default(),
    };
    let clients = [("c1".to_owned(), entry.clone())];
    store
        .commit(&Commit {
            block: &b.0,
            certificate: &b.1,
            frontier: &f,
            clients: &clients,
            flags: &[],
            compliance: Some(&ComplianceChanges::default()),
        })
        .unwrap();
    assert_eq!(store.client("c1").unwrap(), Some(entry.clone()));
    assert_eq!(store.clients().unwrap(), vec![("c1".to_owned(), entry)]);
    assert_eq!(store.client("c2").unwrap(), None);
}

/// Commits blocks of the given sizes and returns every leaf in log order.
fn commit_blocks(store: &ChainStore, key: &SigningKey, sizes: &[usize]) -> Vec<Hash> {
    store.init_genesis(&genesis(key)).unwrap();
    let mut frontier = merkle::Frontier::default();
    let mut prev = genesis(key).hash();
    let mut leaves = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let txs: Vec<_> = (0..n)
            .map(|j| record(Channel::Sms, true, 1_600_000_000 + j as u64, &format!("b{i}x{j}")))
            .collect();
        leaves.extend(txs.iter().map(|t| t.id()));
        let b = block(key, prev, i as u64 + 1, &mut frontier, txs);
        commit(store, &b, &frontier).unwrap();
        prev = b.0.header.hash();
    }
    leaves
}

#[test]
fn log_proofs_from_the_store_verify_against_every_committed_log_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let leaves = commit_blocks(&store, &key, &[3, 250, 10, 300, 1]);
    let size = leaves.len() as u64;

    let root = store.log_root(size).unwrap();
    assert_eq!(root, merkle::root(&leaves));
    for index in [0, 1, 252, 256, 500, size - 1] {
        let path = store.log_inclusion(index, size).unwrap();
        merkle::verify_inclusion(&leaves[index as usize], index, size, &path, &root).unwrap();
    }
    for first in [1, 3, 253, 263, 256, size - 1] {
        let path = store.log_consistency(first, size).unwrap();
        let first_root = store.log_root(first).unwrap();
        merkle::verify_consistency(first, size, &path, &first_root, &root).unwrap();
    }
    assert!(matches!(store.log_inclusion(size, size), Err(StoreError::OutsideLog { .. })));
    assert!(matches!(store.log_root(size + 1), Err(StoreError::OutsideLog { .. })));
}

#[test]
fn a_database_without_log_tiles_gets_them_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let leaves = {
        let store = ChainStore::open(dir.path()).unwrap();
        let leaves = commit_blocks(&store, &key, &[300, 40]);
        // As a database written before the tiles existed.
        store.db.delete_range_cf(store.cf(CF_LOG), &[0u8; 9][..], &[0xffu8; 10][..]).unwrap();
        assert!(store.log_root(leaves.len() as u64).is_err());
        leaves
    };
    let store = ChainStore::open(dir.path()).unwrap();
    let size = leaves.len() as u64;
    let path = store.log_inclusion(7, size).unwrap();
    merkle::verify_inclusion(&leaves[7], 7, size, &path, &merkle::root(&leaves)).unwrap();
}

#[test]
fn block_paths_from_stored_subtree_roots_verify_against_tx_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let leaves = commit_blocks(&store, &key, &[700]);
    let header = store.header(1).unwrap().unwrap();
    for index in [0u64, 255, 256, 511, 600, 699] {
        let path = store.block_inclusion(1, index).unwrap();
        merkle::verify_inclusion(&leaves[index as usize], index, 700, &path, &header.tx_root)
            .unwrap();
    }
    assert!(matches!(store.block_inclusion(1, 700), Err(StoreError::OutsideLog { .. })));
}
