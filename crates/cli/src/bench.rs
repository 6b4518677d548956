//! `cunzheng bench`: concurrent clients deposit fresh records for a fixed time; the node's
//! rate and call latency are then set beside the rate of raw RocksDB batch writes of the same
//! records on the same machine, so the figure reads as a fraction of the storage ceiling.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cunzheng_client::Client;
use cunzheng_types::{
    record::{Action, Endpoint},
    sha256, unix_now, Channel, Record, RecordTx, SealedTx, Transaction,
};
use rand::RngCore;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Concurrent clients, each with one call in flight.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Records per call.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Endpoint to load: a consent (`/voice/add`, `/sms/add`) or a call or SMS
    /// (`/voice/sendAddChain`, `/sms/sendAddChain`), whose records get verdicts.
    #[arg(long, default_value = "/voice/add", value_parser = crate::endpoint)]
    endpoint: Endpoint,
    /// Skip the raw RocksDB comparison.
    #[arg(long)]
    no_raw: bool,
    /// Records per synced batch in the raw comparison (the node's block size).
    #[arg(long, default_value_t = 10_000)]
    raw_batch: usize,
    /// A node process on this machine whose CPU and resident memory to report (repeatable).
    #[arg(long = "node-pid")]
    node_pids: Vec<u32>,
    /// A node's data directory on this machine, to report its growth per record (repeatable).
    #[arg(long = "node-data")]
    node_data: Vec<std::path::PathBuf>,
    /// A mixed load instead of one endpoint: in every 20 calls of a client, 8 voice consents,
    /// 8 voice calls, 1 withdrawal of phones it consented, 2 record lookups and 1 proof.
    #[arg(long)]
    mix: bool,
    /// Sample the resident memory of each `--node-pid` this often, in seconds, and print the
    /// series (a soak shows whether memory stays flat).
    #[arg(long)]
    sample_secs: Option<u64>,
}

/// What one client did: records deposited, calls made, and each operation's latencies.
#[derive(Default)]
struct ClientRun {
    records: u64,
    calls: u64,
    refused: u64,
    latencies: Vec<Duration>,
    ops: std::collections::BTreeMap<&'static str, Vec<Duration>>,
}

/// The operation of a client's `n`th call in a mixed load. Each five calls are a consent, a
/// call, a consent, a call, then a lookup, a proof, a lookup or a withdrawal in turn; so in
/// every 20 calls, 8 consents, 8 calls, 2 lookups, 1 proof and 1 withdrawal.
fn mix_op(n: u64) -> &'static str {
    match n % 5 {
        0 | 2 => "consent",
        1 | 3 => "call",
        _ => ["lookup", "proof", "lookup", "withdrawal"][(n % 20 / 5) as usize],
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.endpoint.action == Action::Withdraw {
        bail!("bench loads a consent, call or SMS endpoint, not a withdrawal");
    }
    let batch = args.batch.clamp(1, args.endpoint.max_records());
    let client = args.target.client()?;
    let run_id = rand::thread_rng().next_u32();
    let before = height(&client).await?;
    println!(
        "bench: {} clients x calls of {batch} on {} for {} s against {}",
        args.clients,
        if args.mix { "a mixed load" } else { args.endpoint.path() },
        args.duration,
        client.api()
    );

    let cpu_before: Vec<Option<f64>> = args.node_pids.iter().map(|p| cpu_seconds(*p)).collect();
    let disk_before: Vec<u64> = args.node_data.iter().map(|d| disk_bytes(d)).collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut tasks = JoinSet::new();
    for task in 0..args.clients {
        let client = client.clone();
        let endpoint = args.endpoint;
        let mix = args.mix;
        tasks.spawn(async move {
            match mix {
                true => load_mix(&client, batch, run_id, task, deadline).await,
                false => load(&client, endpoint, batch, run_id, task, deadline).await,
            }
        });
    }
    let sampler = args.sample_secs.map(|every| {
        let pids = args.node_pids.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let mut series: Vec<Vec<u64>> = vec![Vec::new(); pids.len()];
            let mut rates = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
            let mut last: Option<(Instant, u64)> = None;
            while Instant::now() < deadline {
                tick.tick().await;
                for (pid, s) in pids.iter().zip(&mut series) {
                    s.push(memory_kib(*pid).map_or(0, |m| m.0 / 1024));
                }
                if let Ok(status) = client.status().await {
                    let size = status.data["log_size"].as_u64().unwrap_or(0);
                    let now = Instant::now();
                    if let Some((t, n)) = last {
                        rates.push(size.saturating_sub(n) as f64 / (now - t).as_secs_f64());
                    }
                    last = Some((now, size));
                }
            }
            (series, rates)
        })
    });
    let mut runs = Vec::new();
    while let Some(r) = tasks.join_next().await {
        runs.push(r.context("a client task panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(sampler) = sampler {
        let every = args.sample_secs.unwrap_or(1);
        let (series, rates) = sampler.await?;
        for (pid, series) in args.node_pids.iter().zip(series) {
            let text: Vec<String> = series.iter().map(u64::to_string).collect();
            println!("rss MiB {pid:<7} every {every} s: {}", text.join(" "));
        }
        let text: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!("records/s every {every} s: {}", text.join(" "));
    }
    let after = height(&client).await?;

    let records: u64 = runs.iter().map(|r| r.records).sum();
    let calls: u64 = runs.iter().map(|r| r.calls).sum();
    let refused: u64 = runs.iter().map(|r| r.refused).sum();
    let mut ops: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    for r in &runs {
        for (op, l) in &r.ops {
            ops.entry(op).or_default().extend(l);
        }
    }
    let mut lat: Vec<Duration> = runs.into_iter().flat_map(|r| r.latencies).collect();
    lat.sort();
    let pct = |p: f64| percentile(&lat, p).as_secs_f64() * 1e3;
    let rate = records as f64 / elapsed;
    let blocks = after.saturating_sub(before);
    println!("records/s      {rate:.0}");
    println!("calls          {calls} ({refused} refused)");
    println!("latency ms     p50 {:.1}  p99 {:.1}  max {:.1}", pct(0.5), pct(0.99), pct(1.0));
    println!(
        "blocks/s       {:.1} ({:.0} records per block)",
        blocks as f64 / elapsed,
        records as f64 / blocks.max(1) as f64
    );
    for (op, mut l) in ops {
        l.sort();
        let at = |p: f64| percentile(&l, p).as_secs_f64() * 1e3;
        println!(
            "  {op:<12} {:>6} calls, {:>8.1}/s, p50 {:.1} ms, p99 {:.1} ms",
            l.len(),
            l.len() as f64 / elapsed,
            at(0.5),
            at(0.99)
        );
    }

    for (pid, before) in args.node_pids.iter().zip(cpu_before) {
        let cores = before.zip(cpu_seconds(*pid)).map(|(b, a)| (a - b) / elapsed);
        let (rss, peak) = memory_kib(*pid).unwrap_or_default();
        println!(
            "node {pid:<9} cpu {} cores, rss {} MiB (peak {} MiB)",
            cores.map_or("?".into(), |c| format!("{c:.2}")),
            rss / 1024,
            peak / 1024
        );
    }
    for (dir, before) in args.node_data.iter().zip(disk_before) {
        let grown = disk_bytes(dir).saturating_sub(before);
        println!(
            "disk           {} grew {} bytes, {:.0} bytes per record (memtables and logs not yet compacted included)",
            dir.display(),
            grown,
            grown as f64 / records.max(1) as f64
        );
    }

    if !args.no_raw && records > 0 {
        let limits = limits(
            client.client_id(),
            args.endpoint,
            batch,
            records.min(2_000_000) as usize,
            args.raw_batch,
        )?;
        println!(
            "raw rocksdb    {:.0} records/s (synced batches of {}, one key per record)",
            limits.rocksdb, args.raw_batch
        );
        println!(
            "raw sha-256    {:.0} records/s (leaf hash of the canonical bytes, one core)",
            limits.sha256
        );
        println!(
            "raw json       {:.0} records/s (parsing the same request bodies, one core)",
            limits.json
        );
        println!(
            "ratio          {:.3} of raw rocksdb, {:.4} of sha-256, {:.4} of json parsing",
            rate / limits.rocksdb,
            rate / limits.sha256,
            rate / limits.json
        );
    }
    Ok(())
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; zero when it is empty.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0).max(0.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

/// User and system CPU seconds a process has used, from `/proc/PID/stat` (Linux; 100 ticks a
/// second, the kernel's user-visible `USER_HZ`).
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Resident and peak resident memory of a process, in KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Bytes of the files below `dir`.
fn disk_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn height(client: &Client) -> anyhow::Result<u64> {
    let s = client.status().await.context("reading the node's status")?;
    s.data["height"].as_u64().context("status without a height")
}

/// One client's loop: fresh records in every call, one call in flight.
async fn load(
    client: &Client,
    endpoint: Endpoint,
    batch: usize,
    run_id: u32,
    task: usize,
    deadline: Instant,
) -> anyhow::Result<ClientRun> {
    let mut out = ClientRun::default();
    let mut seq = 0u64;
    let mut list = String::new();
    while Instant::now() < deadline {
        list.clear();
        list.push('[');
        for i in 0..batch {
            if i > 0 {
                list.push(',');
            }
            record_json(&mut list, endpoint, run_id, task, seq, i);
        }
        list.push(']');
        seq += 1;
        let t0 = Instant::now();
        let answer = client.deposit_json(endpoint, &list).await?;
        out.latencies.push(t0.elapsed());
        out.calls += 1;
        if answer.code == 0 {
            out.records += batch as u64;
        } else {
            out.refused += 1;
            if answer.code == 10003 {
                bail!("the node refused a generated record: {}", answer.msg);
            }
        }
    }
    Ok(out)
}

/// One client's mixed loop ([`mix_op`]): deposits of fresh consents and calls, withdrawals of
/// phones it consented before, lookups and proofs of records it deposited.
async fn load_mix(
    client: &Client,
    batch: usize,
    run_id: u32,
    task: usize,
    deadline: Instant,
) -> anyhow::Result<ClientRun> {
    let (consent, call, withdraw) = (Endpoint::ALL[0], Endpoint::ALL[1], Endpoint::ALL[2]);
    let mut out = ClientRun::default();
    let mut last_consents: Vec<Value> = Vec::new();
    let mut seq = 0u64;
    while Instant::now() < deadline {
        let op = mix_op(seq);
        seq += 1;
        let batch_of = |e: Endpoint| batch.min(e.max_records());
        let t0 = Instant::now();
        let (answer, records) = match op {
            "consent" => {
                let list: Vec<Value> =
                    (0..batch_of(consent)).map(|i| record(consent, run_id, task, seq, i)).collect();
                let answer = client.deposit(consent, &list).await?;
                last_consents = list;
                (Some(answer), batch_of(consent))
            }
            "call" => {
                let list: Vec<Value> =
                    (0..batch_of(call)).map(|i| record(call, run_id, task, seq, i)).collect();
                (Some(client.deposit(call, &list).await?), batch_of(call))
            }
            "withdrawal" if !last_consents.is_empty() => {
                let list: Vec<Value> =
                    last_consents.iter().map(|c| json!({"phone": c["phone"]})).collect();
                (Some(client.deposit(withdraw, &list).await?), list.len())
            }
            "lookup" | "proof" if !last_consents.is_empty() => {
                let ids = client.tx_ids(consent, &last_consents[..1], unix_now())?;
                let found = match op {
                    "lookup" => client.tx(&ids[0]).await?,
                    _ => client.proof(&ids[0]).await?,
                };
                if found.is_none() {
                    bail!("a deposited record was not found by its {op}");
                }
                (None, 0)
            }
            _ => continue,
        };
        let took = t0.elapsed();
        out.ops.entry(op).or_default().push(took);
        if let Some(answer) = answer {
            out.latencies.push(took);
            out.calls += 1;
            match answer.code {
                0 => out.records += records as u64,
                10003 => bail!("the node refused a generated record: {}", answer.msg),
                _ => out.refused += 1,
            }
        }
    }
    Ok(out)
}

/// A record unique to (run, task, call, position), to a phone of its own. A call or SMS comes
/// from the dev node's filed numbers; with no consent on the phone, its verdict is
/// `no_consent` (and `outside_hours` out of the filing's hours).
fn record(endpoint: Endpoint, run_id: u32, task: usize, seq: u64, i: usize) -> Value {
    let tag = format!("{run_id:x}t{task}s{seq}i{i}");
    let phone = hex::encode_upper(&sha256(&[tag.as_bytes()]).0[..16]);
    let (deposit, now) = (format!("b{tag}"), unix_now() - 60);
    match (endpoint.action, endpoint.channel) {
        (Action::Communication, Channel::Voice) => json!({ "phone": phone,
            "from_num": "075538833883", "start_time": now - 30, "end_time": now,
            "deposit_hash": deposit }),
        (Action::Communication, Channel::Sms) => json!({ "phone": phone,
            "channel_num": "106909570626", "send_time": now, "deposit_hash": deposit }),
        _ => json!({ "phone": phone, "deposit_hash": deposit, "sign_time": now }),
    }
}

/// [`record`] written as JSON text onto `out`, with the same members and values.
fn record_json(out: &mut String, endpoint: Endpoint, run_id: u32, task: usize, seq: u64, i: usize) {
    use std::fmt::Write;
    let tag = format!("{run_id:x}t{task}s{seq}i{i}");
    let phone = hex::encode_upper(&sha256(&[tag.as_bytes()]).0[..16]);
    let now = unix_now() - 60;
    // The tag is hex digits and ASCII letters: nothing in it needs escaping.
    let _ = match (endpoint.action, endpoint.channel) {
        (Action::Communication, Channel::Voice) => write!(
            out,
            r#"{{"phone":"{phone}","from_num":"075538833883","start_time":{},"end_time":{now},"deposit_hash":"b{tag}"}}"#,
            now - 30
        ),
        (Action::Communication, Channel::Sms) => write!(
            out,
            r#"{{"phone":"{phone}","channel_num":"106909570626","send_time":{now},"deposit_hash":"b{tag}"}}"#
        ),
        _ => write!(out, r#"{{"phone":"{phone}","deposit_hash":"b{tag}","sign_time":{now}}}"#),
    };
}

/// The machine's limits for the records of a run, in records per second.
struct Limits {
    /// Synced RocksDB batch writes: id -> canonical bytes, one key per record.
    rocksdb: f64,
    /// Leaf hashes (SHA-256) of the canonical bytes, on one core.
    sha256: f64,
    /// JSON parsing of the request bodies that carry the records, on one core.
    json: f64,
}

/// Measures each limit over `n` records like the run's (`batch` a call).
fn limits(
    client_id: &str,
    endpoint: Endpoint,
    batch: usize,
    n: usize,
    raw_batch: usize,
) -> anyhow::Result<Limits> {
    let now = unix_now();
    let values: Vec<Value> = (0..n).map(|i| record(endpoint, 0, 0, 0, i)).collect();
    let txs: Vec<SealedTx> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let record =
                Record::from_json(endpoint, i, v, now, now).expect("generated records are valid");
            SealedTx::new(Transaction::Record(RecordTx { client_id: client_id.to_owned(), record }))
        })
        .collect();

    let started = Instant::now();
    let mut sink = 0u8;
    for tx in &txs {
        sink ^= cunzheng_types::merkle::leaf_hash(tx.bytes()).0[0];
    }
    let sha256 = n as f64 / started.elapsed().as_secs_f64();

    let bodies: Vec<Vec<u8>> = values
        .chunks(batch)
        .map(|list| {
            let body = json!({"timestamp": now, "client_id": client_id, "client_token": "0".repeat(64),
                "param": {"list": list}});
            serde_json::to_vec(&body).expect("a JSON value serializes")
        })
        .collect();
    let started = Instant::now();
    for body in &bodies {
        let parsed: Value = serde_json::from_slice(body)?;
        sink ^= u8::from(parsed.is_object());
    }
    let json = n as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(sink);

    let pairs: Vec<(Vec<u8>, Vec<u8>)> =
        txs.iter().map(|tx| (tx.id().0.to_vec(), tx.bytes().to_vec())).collect();
    let dir = tempfile::tempdir()?;
    let took = cunzheng_store::raw_batch_write(dir.path(), &pairs, raw_batch)?;
    Ok(Limits { rocksdb: n as f64 / took.as_secs_f64(), sha256, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_as_text_are_the_records_built_as_values() {
        for endpoint in Endpoint::ALL {
            // The two are built a moment apart: a second may turn between them, once.
            let same = (0..2).any(|_| {
                let mut text = String::new();
                record_json(&mut text, endpoint, 0xbeef, 3, 9, 11);
                let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
                parsed == record(endpoint, 0xbeef, 3, 9, 11)
            });
            assert!(same, "{}", endpoint.path());
        }
    }
}
