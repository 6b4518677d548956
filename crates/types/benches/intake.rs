//! Hot paths of a deposit before storage: parsing a call's body, validating its records,
//! building each transaction's canonical bytes and leaf hash, and judging a call record,
//! beside raw JSON parsing and raw SHA-256 of the same bytes as the machine's limits.
//!
//! `cargo bench -p cunzheng-types --bench intake`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cunzheng_types::{
    compliance::{
        verdict, Communication, ConsentEvent, ConsentHistory, FiledNumber, Filing, Hours,
    },
    record::Endpoint,
    sha256, Channel, Hash, Record, RecordTx, SealedTx, Transaction,
};
use serde_json::{json, Value};

const CALL: usize = 1000;
const NOW: u64 = 1_796_349_600;

/// A consent call's body of 1,000 records, as a client sends it.
fn body() -> Vec<u8> {
    let list: Vec<Value> = (0..CALL)
        .map(|i| json!({"phone": format!("{i:032X}"), "deposit_hash": format!("deposit{i}"), "sign_time": NOW - 60}))
        .collect();
    serde_json::to_vec(&json!({"timestamp": NOW, "client_id": "client", "client_token": "0".repeat(64), "param": {"list": list}}))
        .unwrap()
}

fn records(body: &[u8]) -> Vec<Record> {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["param"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, r)| Record::from_json(Endpoint::ALL[0], i, r, NOW, NOW).unwrap())
        .collect()
}

fn intake(c: &mut Criterion) {
    let body = body();
    let mut g = c.benchmark_group("intake, one call of 1,000 consents");
    g.throughput(Throughput::Elements(CALL as u64));
    g.bench_function("raw JSON parse of the body (limit)", |b| {
        b.iter(|| serde_json::from_slice::<Value>(&body).unwrap())
    });
    g.bench_function("parse and validate every record", |b| b.iter(|| records(&body)));
    let parsed = records(&body);
    let canonical: Vec<Vec<u8>> = parsed
        .iter()
        .map(|r| {
            let tx =
                Transaction::Record(RecordTx { client_id: "client".into(), record: r.clone() });
            tx.canonical_bytes()
        })
        .collect();
    g.bench_function("raw SHA-256 of the canonical bytes (limit)", |b| {
        b.iter(|| canonical.iter().map(|c| sha256(&[c]).0[0]).fold(0u8, |a, x| a ^ x))
    });
    g.bench_function("canonical bytes and leaf hash of every record", |b| {
        b.iter(|| {
            parsed
                .iter()
                .map(|r| {
                    let tx = Transaction::Record(RecordTx {
                        client_id: "client".into(),
                        record: r.clone(),
                    });
                    SealedTx::new(tx).id().0[0]
                })
                .fold(0u8, |a, x| a ^ x)
        })
    });
    g.finish();
}

fn verdicts(c: &mut Criterion) {
    let numbers = (0..1000)
        .map(|i| FiledNumber {
            comm_type: Channel::Voice,
            number_type: "fixed".into(),
            number: format!("0755{i:08}"),
            carrier: "carrier".into(),
        })
        .collect();
    let mut filing = Filing {
        filing_id: "F1".into(),
        channels: vec![Channel::Voice],
        business_type: "marketing".into(),
        hours: "09:00-20:00".parse::<Hours>().unwrap(),
        daily_limit: 3,
        numbers,
    };
    filing.normalize();
    let mut history = ConsentHistory::default();
    for i in 0..4u8 {
        history.insert(ConsentEvent {
            time: NOW - 1000 * u64::from(i),
            granted: i % 2 == 0,
            tx_id: Hash([i; 32]),
        });
    }
    let mut g = c.benchmark_group("verdict of one call record");
    g.throughput(Throughput::Elements(1));
    g.bench_function("1,000 filed numbers, 4 consent events", |b| {
        b.iter(|| {
            let comm = Communication { channel: Channel::Voice, time: NOW, number: "075500000500" };
            verdict(comm, &filing, &history, 2)
        })
    });
    g.finish();
}

criterion_group!(benches, intake, verdicts);
criterion_main!(benches);
