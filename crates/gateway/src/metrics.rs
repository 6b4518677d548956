//! Prometheus metrics of the gateway and the chain, rendered at `/metrics`.

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::header, response::IntoResponse};
use cunzheng_types::record::Endpoint;
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    path: &'static str,
    code: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    records: Family<KindLabels, Counter>,
    latency: Histogram,
    height: Gauge,
    log_size: Gauge,
    pool: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cunzheng");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register("api_calls", "Deposit calls answered, by path and code", calls.clone());
        let records = Family::<KindLabels, Counter>::default();
        registry.register(
            "records_deposited",
            "Records acknowledged as committed, by kind",
            records.clone(),
        );
        let latency =
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        registry.register("api_call_seconds", "Time to answer a deposit call", latency.clone());
        let height = Gauge::default();
        registry.register("chain_height", "Height of the committed head", height.clone());
        let log_size = Gauge::default();
        registry.register("log_size", "Transactions in the chain", log_size.clone());
        let pool = Gauge::default();
        registry.register("pool_pending", "Transactions waiting for a block", pool.clone());
        Metrics { registry, calls, records, latency, height, log_size, pool }
    }

    pub fn call(&self, endpoint: Endpoint, code: u32, took: Duration) {
        self.calls.get_or_create(&CallLabels { path: endpoint.path(), code }).inc();
        self.latency.observe(took.as_secs_f64());
    }

    pub fn records(&self, endpoint: Endpoint, n: usize) {
        self.records.get_or_create(&KindLabels { kind: endpoint.kind() }).inc_by(n as u64);
    }
}

/// `GET /metrics`.
pub async fn render(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let m = &state.metrics;
    let head = state.chain.head();
    m.height.set(head.height as i64);
    m.log_size.set(head.frontier.size as i64);
    m.pool.set(state.chain.pool_len() as i64);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &m.registry);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out)
}
