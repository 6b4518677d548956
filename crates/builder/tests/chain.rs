//! The builder's contract: what proposing, validating and committing accept and refuse.

use std::sync::Arc;

use cunzheng_builder::{BlockError, Chain, ChainConfig, ChainError};
use cunzheng_store::ChainStore;
use cunzheng_types::{
    client_key::OperatorSecret,
    compliance::{Filing, Hours},
    Block, Certificate, Channel, Genesis, Hash, OperatorAction, Record, RecordTx, SealedTx,
    Transaction, Validator,
};
use ed25519_dalek::SigningKey;

const PHONE: &str = "C6AAA43716949506D38CF6A1BAA2F576";

struct Fixture {
    _dir: tempfile::TempDir,
    chain: Arc<Chain>,
    validator: SigningKey,
    operator: SigningKey,
}

fn fixture(config: ChainConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let validator = SigningKey::from_bytes(&[1; 32]);
    let operator = SigningKey::from_bytes(&[2; 32]);
    let genesis = Genesis {
        chain_id: "builder-test".into(),
        genesis_time: 0,
        validators: vec![Validator {
            name: "v".into(),
            public_key: validator.verifying_key().into(),
            power: 1,
        }],
        operator_key: operator.verifying_key().into(),
    };
    let store = ChainStore::open(dir.path()).unwrap();
    let chain = Arc::new(Chain::open(store, genesis, config).unwrap());
    Fixture { _dir: dir, chain, validator, operator }
}

impl Fixture {
    fn operator_tx(&self, action: OperatorAction, at: u64) -> Arc<SealedTx> {
        Arc::new(SealedTx::new(Transaction::Operator(action.sign(&self.operator, at))))
    }

    /// The registration of `client_id` and the approval of a filing on `channels`.
    fn register(&self, client_id: &str, channels: Vec<Channel>) -> Vec<Arc<SealedTx>> {
        let (key_nonce, key_ciphertext) = OperatorSecret([5; 32]).seal(client_id, "k");
        let register = OperatorAction::RegisterClient {
            client_id: client_id.into(),
            key_nonce,
            key_ciphertext,
        };
        let file = OperatorAction::ApproveFiling {
            client_id: client_id.into(),
            filing: filing("F1", channels),
        };
        vec![self.operator_tx(register, 1), self.operator_tx(file, 1)]
    }

    fn certify(&self, block: &Block) -> Certificate {
        Certificate {
            height: block.header.height,
            round: 0,
            block_hash: block.header.hash(),
            signatures: vec![Certificate::sign_precommit(&self.validator, &block.header, 0)],
        }
    }

    /// Proposes and commits one block from the pool.
    fn step(&self) -> Block {
        let block = self.chain.propose(self.validator.verifying_key().into(), 1_700_000_000_000);
        self.chain.commit(&block, &self.certify(&block)).unwrap();
        block
    }

    /// A registered client `c1` on both channels.
    fn with_client(self) -> Self {
        self.chain.submit(self.register("c1", vec![Channel::Voice, Channel::Sms])).unwrap();
        self.step();
        self
    }
}

fn filing(id: &str, channels: Vec<Channel>) -> Filing {
    Filing {
        filing_id: id.into(),
        channels,
        business_type: "marketing".into(),
        hours: Hours::ALL_DAY,
        daily_limit: 10,
        numbers: Vec::new(),
    }
}

fn consent(client: &str, n: u64) -> Arc<SealedTx> {
    Arc::new(SealedTx::new(Transaction::Record(RecordTx {
        client_id: client.into(),
        record: Record::Consent {
            channel: Channel::Voice,
            phone: PHONE.into(),
            deposit_hash: format!("d{n}"),
            sign_time: 1_600_000_000 + n,
        },
    })))
}

#[tokio::test]
async fn receipts_resolve_once_the_block_is_committed() {
    let f = fixture(ChainConfig::default()).with_client();
    let receipt = f.chain.submit(vec![consent("c1", 1), consent("c1", 2)]).unwrap();
    assert_eq!(f.chain.pool_len(), 2);
    let block = f.step();
    assert_eq!(block.txs.len(), 2);
    assert_eq!(receipt.await.unwrap(), Ok(2));
    assert_eq!(f.chain.pool_len(), 0);
    assert_eq!(f.chain.head().frontier.size, 4);
}

#[tokio::test]
async fn a_retried_call_stores_nothing_twice() {
    let f = fixture(ChainConfig::default()).with_client();
    let call = vec![consent("c1", 1), consent("c1", 1), consent("c1", 2)];
    let first = f.chain.submit(call.clone()).unwrap();
    // Retried while still pending: joins the same transactions.
    let pending_retry = f.chain.submit(call.clone()).unwrap();
    assert_eq!(f.chain.pool_len(), 2);
    f.step();
    assert!(first.await.unwrap().is_ok() && pending_retry.await.unwrap().is_ok());
    // Retried after commit: acknowledged at once, nothing pooled.
    let late_retry = f.chain.submit(call).unwrap();
    assert_eq!(f.chain.pool_len(), 0);
    assert!(late_retry.await.unwrap().is_ok());
    assert_eq!(f.chain.head().frontier.size, 4);
}

#[test]
fn a_full_pool_refuses_the_whole_call() {
    let f = fixture(ChainConfig { pool_capacity: 3, ..ChainConfig::default() });
    f.chain.submit(vec![consent("c1", 1), consent("c1", 2)]).unwrap();
    let err = f.chain.submit(vec![consent("c1", 3), consent("c1", 4)]).unwrap_err();
    assert!(matches!(err, ChainError::PoolFull(_)), "{err}");
    assert_eq!(f.chain.pool_len(), 2);
}

#[test]
fn blocks_are_cut_at_the_size_limit() {
    let f = fixture(ChainConfig { max_block_txs: 3, ..ChainConfig::default() }).with_client();
    f.chain.submit((1..=7).map(|n| consent("c1", n)).collect()).unwrap();
    let sizes: Vec<usize> = (0..3).map(|_| f.step().txs.len()).collect();
    assert_eq!(sizes, vec![3, 3, 1]);
}

#[tokio::test]
async fn records_of_a_suspended_client_are_refused_at_proposal() {
    let f = fixture(ChainConfig::default()).with_client();
    f.chain
        .submit(vec![f.operator_tx(
            OperatorAction::SuspendClient { client_id: "c1".into(), reason: "r".into() },
            2,
        )])
        .unwrap();
    f.step();
    let receipt = f.chain.submit(vec![consent("c1", 1)]).unwrap();
    let block = f.step();
    assert!(block.txs.is_empty());
    let err = receipt.await.unwrap().unwrap_err();
    assert!(err.reason.contains("suspended"), "{}", err.reason);
}

#[test]
fn records_on_a_channel_the_client_lacks_are_refused() {
    let f = fixture(ChainConfig::default());
    f.chain.submit(f.register("sms-only", vec![Channel::Sms])).unwrap();
    f.step();
    f.chain.submit(vec![consent("sms-only", 1), consent("unknown", 2)]).unwrap();
    assert!(f.step().txs.is_empty());
}

#[test]
fn filings_do_not_overlap_and_only_approved_ones_change() {
    let f = fixture(ChainConfig::default()).with_client();
    let action = |a: OperatorAction| f.operator_tx(a, 2);
    let overlapping = action(OperatorAction::ApproveFiling {
        client_id: "c1".into(),
        filing: filing("F2", vec![Channel::Sms]),
    });
    let unknown = action(OperatorAction::ChangeFiling {
        client_id: "c1".into(),
        filing: filing("F9", vec![Channel::Voice]),
    });
    let narrowed = action(OperatorAction::ChangeFiling {
        client_id: "c1".into(),
        filing: filing("F1", vec![Channel::Voice]),
    });
    f.chain.submit(vec![overlapping, unknown, narrowed.clone()]).unwrap();
    assert_eq!(f.step().tx_ids(), vec![narrowed.id()]);
    let client = f.chain.client("c1").unwrap();
    assert!(client.filing(Channel::Voice).is_some() && client.filing(Channel::Sms).is_none());
    // The channel it gave up can be filed anew.
    let sms = action(OperatorAction::ApproveFiling {
        client_id: "c1".into(),
        filing: filing("F2", vec![Channel::Sms]),
    });
    f.chain.submit(vec![sms.clone()]).unwrap();
    assert_eq!(f.step().tx_ids(), vec![sms.id()]);
}

#[test]
fn an_operator_transaction_signed_by_another_key_is_refused() {
    let f = fixture(ChainConfig::default());
    let forged = OperatorAction::SuspendClient { client_id: "c1".into(), reason: "x".into() }
        .sign(&SigningKey::from_bytes(&[9; 32]), 3);
    f.chain.submit(vec![Arc::new(SealedTx::new(Transaction::Operator(forged)))]).unwrap();
    assert!(f.step().txs.is_empty());
}

/// A change made to a valid block.
type Alteration = Box<dyn Fn(&mut Block)>;

#[test]
fn validation_refuses_every_altered_header_field() {
    let f = fixture(ChainConfig::default()).with_client();
    f.chain.submit(vec![consent("c1", 1), consent("c1", 2)]).unwrap();
    let good = f.chain.propose(f.validator.verifying_key().into(), 1_700_000_000_000);
    f.chain.validate(&good).unwrap();

    let altered: Vec<(&str, Alteration)> = vec![
        ("version", Box::new(|b| b.header.version = 2)),
        ("chain_id", Box::new(|b| b.header.chain_id = "other".into())),
        ("height", Box::new(|b| b.header.height += 1)),
        ("prev_hash", Box::new(|b| b.header.prev_hash = Hash::ZERO)),
        ("time", Box::new(|b| b.header.time = 0)),
        (
            "proposer",
            Box::new(|b| {
                b.header.proposer = SigningKey::from_bytes(&[7; 32]).verifying_key().into()
            }),
        ),
        ("tx_count", Box::new(|b| b.header.tx_count = 1)),
        ("tx_root", Box::new(|b| b.header.tx_root = Hash::ZERO)),
        ("log_root", Box::new(|b| b.header.log_root = Hash::ZERO)),
        ("log_size", Box::new(|b| b.header.log_size += 1)),
        ("txs order", Box::new(|b| b.txs.swap(0, 1))),
        (
            "txs removed",
            Box::new(|b| {
                b.txs.pop();
            }),
        ),
    ];
    for (what, alter) in altered {
        let mut b = good.clone();
        alter(&mut b);
        assert!(matches!(f.chain.validate(&b), Err(ChainError::Block(_))), "{what}");
    }
}

#[test]
fn a_block_time_a_few_seconds_ahead_is_taken_and_one_far_ahead_is_refused() {
    let f = fixture(ChainConfig::default()).with_client();
    let me = f.validator.verifying_key().into();
    let now = cunzheng_types::unix_now_ms();
    // A proposer whose clock runs 5 s ahead of this member's.
    f.chain.submit(vec![consent("c1", 1)]).unwrap();
    let skewed = f.chain.propose(me, now + 5_000);
    f.chain.validate(&skewed).unwrap();
    // An hour ahead: refused, naming both times.
    let ahead = f.chain.forge(me, now + 3_600_000, skewed.txs.clone());
    match f.chain.validate(&ahead) {
        Err(ChainError::Block(BlockError::FutureTime { got, now: at })) => {
            assert_eq!(got, ahead.header.time);
            assert!(at >= now);
        }
        other => panic!("a block an hour ahead was not refused: {other:?}"),
    }
    let limit = f.chain.forge(me, now + cunzheng_builder::MAX_CLOCK_AHEAD_MS + 2_000, skewed.txs);
    assert!(f.chain.validate(&limit).is_err());
}

#[test]
fn validation_refuses_duplicate_committed_and_invalid_transactions() {
    let f = fixture(ChainConfig::default()).with_client();
    let committed = consent("c1", 1);
    f.chain.submit(vec![committed.clone()]).unwrap();
    f.step();

    let rebuild = |txs: Vec<Arc<SealedTx>>| {
        let mut b = f.chain.propose(f.validator.verifying_key().into(), 1_700_000_000_000);
        let ids: Vec<Hash> = txs.iter().map(|t| t.id()).collect();
        let mut frontier = f.chain.head().frontier;
        ids.iter().for_each(|id| frontier.push(*id));
        b.header.tx_root = cunzheng_types::merkle::root(&ids);
        b.header.tx_count = ids.len() as u64;
        b.header.log_root = frontier.root();
        b.header.log_size = frontier.size;
        b.txs = txs;
        b
    };
    let dup = consent("c1", 2);
    assert!(matches!(
        f.chain.validate(&rebuild(vec![dup.clone(), dup])),
        Err(ChainError::Block(BlockError::Duplicate(_)))
    ));
    assert!(matches!(
        f.chain.validate(&rebuild(vec![committed])),
        Err(ChainError::Block(BlockError::AlreadyCommitted(_)))
    ));
    assert!(matches!(
        f.chain.validate(&rebuild(vec![consent("nobody", 3)])),
        Err(ChainError::Block(BlockError::Invalid { .. }))
    ));
}

#[test]
fn commit_refuses_a_certificate_without_quorum_and_changes_nothing() {
    let f = fixture(ChainConfig::default()).with_client();
    f.chain.submit(vec![consent("c1", 1)]).unwrap();
    let block = f.chain.propose(f.validator.verifying_key().into(), 1_700_000_000_000);
    let mut cert = f.certify(&block);
    cert.signatures.clear();
    assert!(matches!(f.chain.commit(&block, &cert), Err(ChainError::Certificate(_))));
    let stranger = SigningKey::from_bytes(&[8; 32]);
    cert.signatures = vec![Certificate::sign_precommit(&stranger, &block.header, 0)];
    assert!(matches!(f.chain.commit(&block, &cert), Err(ChainError::Certificate(_))));
    assert_eq!(f.chain.head().height, 1);
    assert_eq!(f.chain.pool_len(), 1);
}
