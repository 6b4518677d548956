//! The evidence certificate (存证证书) of one record, and the verification page its QR code
//! opens.
//!
//! `GET /v1/certificates/{id}` (the record's client or the operator, authenticated as for its
//! proof bundle) answers an HTML page with the record's fields, its transaction id, block height
//! and time, the members that signed the block, the digest of its proof bundle, a link that
//! opens the bundle in the verification page, and a QR code of the verification page's address.
//! `GET /verify` is that page: it checks a pasted or uploaded bundle in the browser with
//! WebCrypto (SHA-256, Ed25519), trusting only its own code and the members' keys.

use std::{fmt::Write, sync::Arc};

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap},
    response::{Html, IntoResponse},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use cunzheng_types::{canonical::to_jcs, sha256, ProofBundle};
use qrcode::{render::svg, QrCode};
use serde_json::Value;

use crate::{error::ApiError, pdf, query::authorized_bundle, AppState};

/// `GET /verify`.
pub async fn verify_page() -> impl IntoResponse {
    Html(include_str!("verify.html"))
}

/// `GET /v1/certificates/{id}`.
pub async fn certificate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    let (bundle, genesis, base) = record(state, &id, &headers).await?;
    Ok(Html(render(&bundle, &genesis, &base)))
}

/// `GET /v1/certificates/{id}/pdf`.
pub async fn certificate_pdf(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let (bundle, genesis, base) = record(state, &id, &headers).await?;
    Ok(([(header::CONTENT_TYPE, "application/pdf")], render_pdf(&bundle, &genesis, &base)))
}

/// The record's bundle for an authorized caller, the chain's genesis, and the address the
/// caller reached this node at, which the QR code points back to.
async fn record(
    state: Arc<AppState>,
    id: &str,
    headers: &HeaderMap,
) -> Result<(ProofBundle, cunzheng_types::Genesis, String), ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    let genesis = state.chain.genesis().clone();
    let bundle = authorized_bundle(state, id, headers).await?;
    Ok((bundle, genesis, base))
}

/// `s` with the five HTML special characters escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Unix seconds as Beijing time (UTC+8, no daylight saving), `YYYY-MM-DD HH:MM:SS`.
pub fn beijing_time(unix_seconds: u64) -> String {
    let t = unix_seconds + 8 * 3600;
    let (days, secs) = (t / 86_400, t % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Labels of the record fields, in Chinese and English.
fn label(field: &str) -> (&'static str, &'static str) {
    match field {
        "kind" => ("类型", "Kind"),
        "client_id" => ("企业", "Client"),
        "phone" => ("号码（MD5）", "Phone hash"),
        "deposit_hash" => ("存证哈希", "Deposit hash"),
        "sign_time" => ("授权时间", "Signed at"),
        "start_time" => ("开始时间", "Started at"),
        "end_time" => ("结束时间", "Ended at"),
        "send_time" => ("发送时间", "Sent at"),
        "at" => ("撤回时间", "Withdrawn at"),
        "from_num" => ("主叫号码", "From"),
        "channel_num" => ("通道号码", "Channel"),
        _ => ("字段", "Field"),
    }
}

/// What a certificate states, whatever its format.
struct Facts {
    chain_id: String,
    /// The record's fields, then its place in the chain: (Chinese label, English label, value).
    rows: Vec<(&'static str, &'static str, String)>,
    verify_url: String,
    /// `/verify` with the bundle and genesis in its fragment.
    open_link: String,
}

fn facts(bundle: &ProofBundle, genesis: &cunzheng_types::Genesis, base: &str) -> Facts {
    let bundle_json = serde_json::to_value(bundle).expect("a bundle serializes");
    let digest = sha256(&[&to_jcs(&bundle_json).expect("a bundle has canonical bytes")]);
    let header = &bundle.block.header;
    let signers: Vec<String> = bundle
        .block
        .certificate
        .signatures
        .iter()
        .filter_map(|s| genesis.validator(&s.validator).map(|v| v.name.clone()))
        .collect();
    let mut rows = Vec::new();
    if let Value::Object(fields) = &bundle.tx {
        for (k, v) in fields {
            let shown = match (k.as_str(), v) {
                (
                    "sign_time" | "start_time" | "end_time" | "send_time" | "at",
                    Value::Number(n),
                ) => {
                    let secs = n.as_u64().unwrap_or_default();
                    format!("{} ({secs})", beijing_time(secs))
                }
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            let (zh, en) = label(k);
            rows.push((zh, en, shown));
        }
    }
    rows.extend([
        ("交易ID", "Transaction id", bundle.tx_id.to_hex()),
        ("区块高度", "Block height", header.height.to_string()),
        ("上链时间", "Block time (UTC+8)", beijing_time(header.time / 1000)),
        ("区块哈希", "Block hash", header.hash().to_hex()),
        ("签名成员", "Signed by", signers.join(", ")),
        ("证明包摘要", "Proof digest", digest.to_hex()),
        ("创世哈希", "Genesis hash", bundle.genesis_hash.to_hex()),
    ]);
    let genesis_json = serde_json::to_vec(genesis).expect("genesis serializes");
    Facts {
        chain_id: genesis.chain_id.clone(),
        rows,
        verify_url: format!("{base}/verify#tx={}", bundle.tx_id),
        open_link: format!(
            "/verify#bundle={}&genesis={}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&bundle_json).expect("json")),
            URL_SAFE_NO_PAD.encode(genesis_json)
        ),
    }
}

pub(crate) fn render(
    bundle: &ProofBundle,
    genesis: &cunzheng_types::Genesis,
    base: &str,
) -> String {
    let f = facts(bundle, genesis, base);
    let qr = QrCode::new(f.verify_url.as_bytes())
        .map(|q| q.render::<svg::Color<'_>>().min_dimensions(180, 180).build())
        .unwrap_or_default();
    let mut rows = String::new();
    for (zh, en, value) in &f.rows {
        let id = match *en {
            "Transaction id" => " id=\"tx-id\"",
            "Block height" => " id=\"height\"",
            "Signed by" => " id=\"signers\"",
            "Proof digest" => " id=\"digest\"",
            _ => "",
        };
        let _ = write!(rows, "<tr><th>{zh} {en}</th><td{id}>{}</td></tr>", esc(value));
    }
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>存证证书 {tx}</title>
<style>
body {{ font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; max-width: 820px; margin: 2em auto; color: #1d2733; }}
h1 {{ text-align: center; letter-spacing: .3em; }} table {{ width: 100%; border-collapse: collapse; margin: 1em 0; }}
th {{ text-align: left; width: 30%; color: #5a6775; font-weight: 500; }} th, td {{ padding: .35em; border-bottom: 1px solid #e3e7eb; word-break: break-all; }}
.qr {{ float: right; margin-left: 1em; }} .note {{ color: #5a6775; font-size: .9em; }}
</style></head><body>
<h1>存证证书</h1><p style="text-align:center" class="note">Evidence certificate · {chain}</p>
<div class="qr">{qr}<p class="note">扫码打开验证页<br>Scan to open the verification page</p></div>
<table id="record">{rows}</table>
<p><a id="open" href="{open}">在验证页中打开本证明包 Open this proof in the verification page</a>
 · <a href="{tx}/pdf">PDF</a></p>
<p class="note">证明包摘要为证明包 JCS 字节的 SHA-256。验证页在浏览器中独立校验，无需信任本服务器。
The proof digest is SHA-256 of the bundle's JCS bytes. The verification page checks it in the browser, without trusting this server.</p>
</body></html>
"#,
        tx = bundle.tx_id,
        chain = esc(&f.chain_id),
        open = f.open_link,
    )
}

/// The same certificate as a one-page A4 PDF, with the QR code drawn module by module.
pub(crate) fn render_pdf(
    bundle: &ProofBundle,
    genesis: &cunzheng_types::Genesis,
    base: &str,
) -> Vec<u8> {
    let f = facts(bundle, genesis, base);
    let mut page = pdf::Page::default();
    page.chinese(250.0, 790.0, 24.0, "存证证书");
    page.text(215.0, 770.0, 10.0, &format!("Evidence certificate - {}", f.chain_id));
    page.rule(50.0, 545.0, 760.0);
    let mut y = 740.0;
    for (zh, en, value) in &f.rows {
        page.chinese(50.0, y, 10.0, zh);
        page.text(50.0, y - 10.0, 7.0, en);
        // Values longer than a line (none are in practice) are cut at 64 characters a line.
        for (i, chunk) in value.as_bytes().chunks(64).enumerate() {
            page.text(160.0, y - 11.0 * i as f32, 9.0, &String::from_utf8_lossy(chunk));
        }
        y -= 28.0;
    }
    if let Ok(code) = QrCode::new(f.verify_url.as_bytes()) {
        let width = code.width();
        let module = 140.0 / width as f32;
        let (x0, y0) = (50.0, y - 150.0);
        for (i, color) in code.to_colors().iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (col, row) = ((i % width) as f32, (i / width) as f32);
                page.square(x0 + col * module, y0 + 140.0 - (row + 1.0) * module, module);
            }
        }
        page.chinese(210.0, y0 + 120.0, 10.0, "扫码打开验证页，上传证明包即可在浏览器中独立验证。");
        page.text(
            210.0,
            y0 + 106.0,
            8.0,
            "Scan to open the verification page and check the proof bundle in the browser.",
        );
        // The address on two lines, split before its fragment, to stay inside the page.
        let (page_url, fragment) = f.verify_url.split_once('#').unwrap_or((&f.verify_url, ""));
        page.text(210.0, y0 + 92.0, 8.0, page_url);
        page.text(210.0, y0 + 82.0, 8.0, &format!("#{fragment}"));
    }
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_time_is_utc_plus_eight() {
        assert_eq!(beijing_time(0), "1970-01-01 08:00:00");
        assert_eq!(beijing_time(1_604_339_389), "2020-11-03 01:49:49");
        assert_eq!(beijing_time(1_709_222_399), "2024-02-29 23:59:59");
        assert_eq!(beijing_time(1_709_222_400), "2024-03-01 00:00:00");
        assert_eq!(beijing_time(951_753_600), "2000-02-29 00:00:00");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
