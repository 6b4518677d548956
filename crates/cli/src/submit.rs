//! `cunzheng submit`: deposits a file of records in signed calls of the endpoint's size.
//!
//! CSV files have a header row naming the record fields (`phone,deposit_hash,sign_time`);
//! JSONL files hold one record object per line. Calls answered 10008, 20001 or 20002 are
//! retried (deposits are idempotent); any other refusal is reported with its line range.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use cunzheng_client::Client;
use cunzheng_types::{record::Endpoint, unix_now};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use tokio::{sync::Semaphore, task::JoinSet};

use crate::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Endpoint path (`/voice/add`, `/sms/sendAddChain`, ...) or record kind (`voice.consent`).
    #[arg(long, value_parser = crate::endpoint)]
    endpoint: Endpoint,
    /// Records per call (at most the endpoint's limit).
    #[arg(long)]
    batch: Option<usize>,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// A .csv or .jsonl file of records.
    file: PathBuf,
}

/// Codes worth retrying: the call stored nothing, or may be retried safely.
const RETRY: [u32; 3] = [10008, 20001, 20002];

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = args.target.client()?;
    let records = read_records(&args.file)?;
    if records.is_empty() {
        bail!("{} holds no records", args.file.display());
    }
    let batch =
        args.batch.unwrap_or(args.endpoint.max_records()).clamp(1, args.endpoint.max_records());

    let bar =
        if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(records.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records  {per_sec}  eta {eta}")
            .expect("template"),
    );
    let started = Instant::now();
    let records = Arc::new(records);
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for start in (0..records.len()).step_by(batch) {
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        let (client, records, bar) = (client.clone(), records.clone(), bar.clone());
        let end = (start + batch).min(records.len());
        tasks.spawn(async move {
            let outcome = send_with_retry(&client, args.endpoint, &records[start..end]).await;
            if outcome.as_ref().is_ok_and(|code| *code == 0) {
                bar.inc((end - start) as u64);
            }
            drop(permit);
            (start, end, outcome)
        });
    }

    let mut failures: BTreeMap<usize, String> = BTreeMap::new();
    let mut stored = 0usize;
    while let Some(joined) = tasks.join_next().await {
        let (start, end, outcome) = joined.context("a call task panicked")?;
        match outcome {
            Ok(0) => stored += end - start,
            Ok(code) => {
                failures.insert(start, format!("records {}..{}: code {code}", start + 1, end));
            }
            Err(e) => {
                failures.insert(start, format!("records {}..{}: {e}", start + 1, end));
            }
        }
    }
    bar.finish_and_clear();

    let secs = started.elapsed().as_secs_f64();
    println!(
        "submitted {} records to {} in {:.1} s ({:.0} records/s): {} stored, {} refused",
        records.len(),
        args.endpoint.path(),
        secs,
        stored as f64 / secs.max(1e-9),
        stored,
        records.len() - stored
    );
    for line in failures.values() {
        println!("  {line}");
    }
    if !failures.is_empty() {
        bail!("{} calls were refused", failures.len());
    }
    Ok(())
}

/// Longest a call is retried with its first timestamp.
const RETRY_WINDOW_SECS: u64 = 240;

/// Sends one call, retrying while the answer says a retry is safe. Returns the final code;
/// a refusal other than those is returned with its message.
async fn send_with_retry(
    client: &Client,
    endpoint: Endpoint,
    list: &[Value],
) -> anyhow::Result<u32> {
    // Every try carries the first try's timestamp: a withdrawal is identified by it, so a
    // retry signed anew would store a second withdrawal if an earlier try was committed.
    // Tries stop while that timestamp is still inside the server's window (300 s).
    let timestamp = unix_now();
    let mut delay = Duration::from_millis(100);
    for _ in 0..30 {
        if unix_now().saturating_sub(timestamp) > RETRY_WINDOW_SECS {
            break;
        }
        match client.deposit_at(endpoint, list, timestamp).await {
            Ok(a) if a.code == 0 => return Ok(0),
            Ok(a) if RETRY.contains(&a.code) => {}
            Ok(a) => bail!("code {}: {}", a.code, a.msg),
            Err(cunzheng_client::ClientError::Http(e)) if e.is_connect() || e.is_timeout() => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    bail!("gave up: no answer of success within {RETRY_WINDOW_SECS} s of retries")
}

/// Reads records from a CSV (header row of field names) or JSONL file.
pub fn read_records(path: &Path) -> anyhow::Result<Vec<Value>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match ext.as_str() {
        "csv" => {
            let mut reader = csv::Reader::from_path(path)
                .with_context(|| format!("opening {}", path.display()))?;
            let headers: Vec<String> =
                reader.headers()?.iter().map(|h| h.trim().to_owned()).collect();
            reader
                .records()
                .enumerate()
                .map(|(i, row)| {
                    let row = row.with_context(|| format!("{} line {}", path.display(), i + 2))?;
                    let obj: Map<String, Value> = headers
                        .iter()
                        .zip(row.iter())
                        .map(|(k, v)| (k.clone(), Value::String(v.trim().to_owned())))
                        .collect();
                    Ok(Value::Object(obj))
                })
                .collect()
        }
        "jsonl" | "ndjson" => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .with_context(|| format!("{} line {}", path.display(), i + 1))
                })
                .collect()
        }
        _ => bail!("{}: expected a .csv or .jsonl file", path.display()),
    }
}
