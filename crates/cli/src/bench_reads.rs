//! `cunzheng bench-reads`: the latency of the compliance reads against a loaded node: the
//! pre-dial scrub of 10,000 phones (with consent and without) and record searches by each
//! index, each repeated and reported as median and p90. With `--proof-secs`, also the proof
//! bundles a node serves per second to concurrent clients.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use cunzheng_client::{Answer, Client};
use cunzheng_types::{sha256, Channel, Hash};
use tokio::task::JoinSet;

use crate::{
    bench::{cpu_seconds, percentile},
    Target,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Times each read is repeated.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Phones in one scrub (at most 10,000).
    #[arg(long, default_value_t = 10_000)]
    phones: usize,
    /// Seconds to fetch proof bundles of the newest records, as fast as `--proof-clients`
    /// concurrent clients can, and print the rate; 0 skips it.
    #[arg(long, default_value_t = 0)]
    proof_secs: u64,
    /// Concurrent clients fetching proof bundles, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    proof_clients: usize,
    /// The node process, on this machine, whose CPU to report beside the proof rate.
    #[arg(long)]
    node_pid: Option<u32>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = args.target.client()?;
    let status = client.status().await.context("reading the node's status")?;
    println!(
        "bench-reads: {} records in the log, {} repeats, against {}",
        status.data["log_size"],
        args.repeat,
        client.api()
    );

    // Phones that have voice consent: the newest consents of the client.
    let mut consented = Vec::with_capacity(args.phones);
    let mut cursor: Option<String> = None;
    while consented.len() < args.phones {
        let mut query = "kind=voice.consent&limit=1000".to_owned();
        if let Some(c) = &cursor {
            query += &format!("&cursor={c}");
        }
        let page = ok(client.records(&query).await?)?;
        for r in page.data["records"].as_array().into_iter().flatten() {
            if let Some(p) = r["tx"]["phone"].as_str() {
                consented.push(p.to_owned());
            }
        }
        match page.data["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    consented.truncate(args.phones);
    if consented.is_empty() {
        bail!("the client has no voice consent to scrub: load /voice/add first (cunzheng bench)");
    }
    let unknown: Vec<String> = (0..args.phones)
        .map(|i| hex::encode_upper(&sha256(&[b"unknown", &(i as u64).to_be_bytes()]).0[..16]))
        .collect();

    let scrub = |phones: Vec<String>| {
        let client = client.clone();
        move || {
            let (client, phones) = (client.clone(), phones.clone());
            async move { ok(client.scrub(Channel::Voice, &phones).await?).map(|_| ()) }
        }
    };
    report(&format!("scrub {} consented", consented.len()), args.repeat, scrub(consented.clone()))
        .await?;
    report(&format!("scrub {} unknown", unknown.len()), args.repeat, scrub(unknown)).await?;

    // One call record to search for by phone and deposit hash.
    let call = ok(client.records("kind=voice.call&limit=1").await?)?;
    let call = call.data["records"][0]["tx"].clone();
    let search = |query: String| {
        let client = client.clone();
        move || {
            let (client, query) = (client.clone(), query.clone());
            async move { ok(client.records(&query).await?).map(|_| ()) }
        }
    };
    let mut queries = vec![
        ("newest 50".to_owned(), "limit=50".to_owned()),
        ("newest 50 calls".to_owned(), "kind=voice.call&limit=50".to_owned()),
        ("50 flagged no_consent".to_owned(), "flag=no_consent&limit=50".to_owned()),
        ("50 flagged withdrawn (none)".to_owned(), "flag=withdrawn&limit=50".to_owned()),
    ];
    if let (Some(phone), Some(deposit)) = (call["phone"].as_str(), call["deposit_hash"].as_str()) {
        queries.push(("by phone".into(), format!("phone={phone}")));
        queries.push(("by deposit hash".into(), format!("deposit_hash={deposit}")));
        if let Some(t) = call["start_time"].as_u64() {
            let window = format!("from={}&to={}&kind=voice.call&limit=1000", t - 60, t);
            queries.push(("1000 calls in a minute".into(), window));
        }
    }
    for (name, query) in queries {
        report(&format!("search {name}"), args.repeat, search(query)).await?;
    }
    if args.proof_secs > 0 {
        proofs(&client, args.proof_secs, args.proof_clients, args.node_pid).await?;
    }
    Ok(())
}

/// Fetches the proof bundles of up to 10,000 of the newest records from `clients` concurrent
/// clients for `secs` seconds, and prints bundles per second and their latency.
async fn proofs(
    client: &Client,
    secs: u64,
    clients: usize,
    pid: Option<u32>,
) -> anyhow::Result<()> {
    let mut ids: Vec<Hash> = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < 10_000 {
        let mut query = "limit=1000".to_owned();
        if let Some(c) = &cursor {
            query += &format!("&cursor={c}");
        }
        let page = ok(client.records(&query).await?)?;
        let found = page.data["records"].as_array().into_iter().flatten();
        ids.extend(found.filter_map(|r| r["tx_id"].as_str()?.parse::<Hash>().ok()));
        match page.data["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    if ids.is_empty() {
        bail!("the client has no records to prove: load some first (cunzheng bench)");
    }
    let ids = Arc::new(ids);
    let cpu_before = pid.and_then(cpu_seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = JoinSet::new();
    for task in 0..clients.max(1) {
        let (client, ids) = (client.clone(), ids.clone());
        tasks.spawn(async move {
            let mut took = Vec::new();
            let mut i = task;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let answer = client.proof(&ids[i % ids.len()]).await?;
                let answer = answer.context("a listed record has no proof bundle")?;
                ok(answer)?;
                took.push(t0.elapsed());
                i += clients;
            }
            anyhow::Ok(took)
        });
    }
    let mut took = Vec::new();
    while let Some(t) = tasks.join_next().await {
        took.extend(t.context("a proof client panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    took.sort();
    let ms = |p: f64| percentile(&took, p).as_secs_f64() * 1e3;
    println!(
        "proof bundles {:>8.0}/s   p50 {:.1} ms   p99 {:.1} ms   ({} clients, {} bundles over {} records)",
        took.len() as f64 / elapsed,
        ms(0.5),
        ms(0.99),
        clients,
        took.len(),
        ids.len()
    );
    if let (Some(pid), Some(before)) = (pid, cpu_before) {
        if let Some(after) = cpu_seconds(pid) {
            println!("node {pid}     cpu {:.2} cores", (after - before) / elapsed);
        }
    }
    Ok(())
}

fn ok(answer: Answer) -> anyhow::Result<Answer> {
    if answer.code != 0 {
        bail!("code {}: {}", answer.code, answer.msg);
    }
    Ok(answer)
}

/// Runs `read` `repeat` times one after another and prints the median and p90 latency.
async fn report<F, Fut>(name: &str, repeat: usize, read: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut took: Vec<Duration> = Vec::with_capacity(repeat);
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        read().await?;
        took.push(t0.elapsed());
    }
    took.sort();
    let at = |p: f64| percentile(&took, p).as_secs_f64() * 1e3;
    println!("{name:<34} median {:>8.1} ms   p90 {:>8.1} ms", at(0.5), at(0.9));
    Ok(())
}
