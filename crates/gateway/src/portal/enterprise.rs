//! The enterprise side: overview, account and certification, business filing, record search,
//! complaints, reports and documents. Every handler takes an [`Enterprise`] session and reads
//! only that enterprise's data: its account, its applications, its client's records and the
//! complaints routed to its client.

use std::sync::Arc;

use axum::{
    extract::{Multipart, Path, Query, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use cunzheng_store::RecordQuery;
use cunzheng_types::{
    client_key::generate_client_key,
    compliance::{
        beijing_day, beijing_midnight, civil_date, day_of_date, days_in_month, Flag, Flags,
    },
    record::Endpoint,
    unix_now, unix_now_ms, Channel, Hash, OperatorAction, Transaction,
};
use maud::{html, Markup};
use rand::RngCore;
use serde::Deserialize;
use tracing::info;

use super::{
    checks::{self, FileKind},
    data::{
        account_key, application_key, complaint_key, Account, Application, Certification,
        Complaint, ComplaintAnswer, FileRef, Review,
    },
    page::{self, bar_chart, csrf, input, notice, row, FieldErrors, Lang},
    portal, upload, Enterprise, Portal, MAX_CSV_BYTES, MAX_FILE_BYTES,
};
use crate::{certificate::beijing_time, operator::commit_operator_txs, AppState};

type Page = Result<Response, Response>;

fn fail(l: Lang) -> impl Fn(String) -> Response {
    move |e| page::failure(l, &e)
}

fn account_of(portal: &Portal, e: &Enterprise) -> Result<Account, Response> {
    portal
        .db
        .get::<Account>(&account_key(&e.phone))
        .map_err(|err| page::failure(e.visitor.lang, &err.to_string()))?
        .ok_or_else(|| page::failure(e.visitor.lang, "session of a deleted account"))
}

/// A record kind's label.
pub fn kind_label(l: Lang, kind: &str) -> &'static str {
    match kind {
        "voice.consent" => l.t("语音授权", "Voice consent"),
        "voice.call" => l.t("呼叫记录", "Call"),
        "voice.withdraw" => l.t("语音撤回", "Voice withdrawal"),
        "sms.consent" => l.t("短信授权", "SMS consent"),
        "sms.message" => l.t("短信记录", "SMS"),
        "sms.withdraw" => l.t("短信撤回", "SMS withdrawal"),
        _ => l.t("其他", "Other"),
    }
}

pub fn flag_label(l: Lang, flag: Flag) -> &'static str {
    match flag {
        Flag::NoConsent => l.t("未授权", "No consent"),
        Flag::Withdrawn => l.t("已撤回授权", "Consent withdrawn"),
        Flag::OutsideHours => l.t("超出允许时段", "Outside allowed hours"),
        Flag::UnfiledNumber => l.t("未备案号码", "Unfiled number"),
        Flag::OverDailyLimit => l.t("超出每日频次", "Over daily limit"),
    }
}

pub fn review_label(l: Lang, r: &Review) -> Markup {
    match r {
        Review::Pending => html! { span.status.pending { (l.t("审核中", "Pending")) } },
        Review::Approved { .. } => html! { span.status.approved { (l.t("已通过", "Approved")) } },
        Review::Rejected { reason, .. } => html! {
            span.status.rejected { (l.t("未通过", "Rejected")) } " " span.reason { (reason) }
        },
    }
}

fn today() -> (i32, u32, u32) {
    civil_date(beijing_day(unix_now()))
}

/// Counts of one client's records per kind on Beijing days `first..=last`, and flagged ones.
fn counts(portal: &Portal, client: &str, first: u32, last: u32) -> Result<(Vec<u64>, u64), String> {
    let c = portal.db_store().report_counts(client, first, last).map_err(|e| e.to_string())?;
    let kinds = Endpoint::ALL.iter().map(|e| c.kinds.get(e.kind()).copied().unwrap_or(0)).collect();
    Ok((kinds, c.flags.values().sum()))
}

/// `GET /portal/overview` (总览页).
pub async fn overview(State(state): State<Arc<AppState>>, e: Enterprise) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let Some(client) = account.client_id.clone() else {
        let body = html! {
            (notice(l.t("完成企业认证并通过业务备案后，这里将显示存证统计。", "Certify your company and get a filing approved to see your deposits here.")))
            p { a href="/portal/account" { (l.t("前往企业认证", "Certify the company")) } " · " a href="/portal/filing" { (l.t("前往业务备案", "File a business")) } }
        };
        return Ok(e.page(portal, "/portal/overview", l.t("总览页", "Overview"), body));
    };
    let day = beijing_day(unix_now());
    let (today_kinds, today_flagged) = counts(portal, &client, day, day).map_err(fail(l))?;
    let (month_kinds, month_flagged) = counts(portal, &client, day - 29, day).map_err(fail(l))?;
    let mut labels = Vec::new();
    let (mut totals, mut flagged) = (Vec::new(), Vec::new());
    for d in day - 29..=day {
        let (_, m, dd) = civil_date(d);
        labels.push(format!("{m}/{dd}"));
        let (k, f) = counts(portal, &client, d, d).map_err(fail(l))?;
        totals.push(k.iter().sum());
        flagged.push(f);
    }
    let body = html! {
        p { (l.t("客户端编号", "Client id")) ": " code #client-id { (client) } }
        table.data #overview-counts {
            thead { tr { th { (l.t("类型", "Kind")) } th { (l.t("今日", "Today")) } th { (l.t("近 30 天", "Last 30 days")) } } }
            tbody {
                @for (i, ep) in Endpoint::ALL.iter().enumerate() {
                    tr { td { (kind_label(l, ep.kind())) } td.num { (today_kinds[i]) } td.num { (month_kinds[i]) } }
                }
                tr.flagged { td { (l.t("违规标记记录", "Flagged records")) } td.num { (today_flagged) } td.num { (month_flagged) } }
            }
        }
        h2 { (l.t("近 30 天每日存证", "Deposits per day, last 30 days")) }
        (bar_chart(&labels, &[(l.t("存证", "Records"), "#3b82f6", totals), (l.t("违规标记", "Flagged"), "#ef4444", flagged)]))
    };
    Ok(e.page(portal, "/portal/overview", l.t("总览页", "Overview"), body))
}

fn masked_key(key: &str) -> String {
    if key.len() <= 8 {
        return "********".into();
    }
    format!("{}********{}", &key[..4], &key[key.len() - 4..])
}

fn certification_form(e: &Enterprise, company: &str, code: &str, errors: &FieldErrors) -> Markup {
    let l = e.visitor.lang;
    html! {
        form.card method="post" action="/portal/certification" enctype="multipart/form-data" id="certification-form" {
            (csrf(&e.visitor))
            (row(l.t("企业名称", "Company name"), "company", input("company", "text", company, true), None, errors))
            (row(l.t("统一社会信用代码", "Unified social credit code"), "credit_code", input("credit_code", "text", code, true),
                Some(l.t("18 位，含校验位", "18 characters with the check character")), errors))
            (row(l.t("营业执照", "Business licence"), "licence",
                html! { input id="licence" name="licence" type="file" accept=".pdf,.jpg,.jpeg,.png" required; },
                Some(l.t("仅支持 PDF、JPEG、PNG，不超过 10 MB", "PDF, JPEG or PNG, at most 10 MB")), errors))
            button type="submit" id="submit-certification" { (l.t("提交认证", "Submit")) }
        }
    }
}

fn account_body(
    portal: &Portal,
    state: &AppState,
    e: &Enterprise,
    account: &Account,
    shown_key: Option<&str>,
    errors: &FieldErrors,
    form: (&str, &str),
) -> Markup {
    let l = e.visitor.lang;
    let client =
        account.client_id.as_deref().and_then(|c| state.chain.client(c).map(|entry| (c, entry)));
    html! {
        section.card {
            h2 { (l.t("账户", "Account")) }
            p { (l.t("登录手机号", "Login number")) ": " (account.phone) }
        }
        section.card #certification {
            h2 { (l.t("企业认证", "Company certification")) }
            @match &account.certification {
                Some(c) if !matches!(c.review, Review::Rejected { .. }) => {
                    p { (l.t("企业名称", "Company")) ": " (c.company) }
                    p { (l.t("统一社会信用代码", "Credit code")) ": " (c.credit_code) }
                    p { (l.t("营业执照", "Licence")) ": " a href={ "/portal/files/" (c.licence.sha256) } { (c.licence.name) } }
                    p #certification-status { (l.t("状态", "Status")) ": " (review_label(l, &c.review)) }
                }
                other => {
                    @if let Some(c) = other { p #certification-status { (review_label(l, &c.review)) } }
                    (certification_form(e, form.0, form.1, errors))
                }
            }
        }
        @if let Some((client_id, entry)) = client {
            section.card #credentials {
                h2 { (l.t("接口凭证", "API credentials")) }
                p { "client_id: " code #client-id { (client_id) } }
                @if let Some(key) = shown_key {
                    p { "client_key: " code #client-key { (key) } }
                    (notice(l.t("请立即妥善保存 client_key：离开此页后将只显示掩码。", "Save the client_key now: it is masked once you leave this page.")))
                } @else {
                    @let key = portal_key(portal, state, client_id, &entry).unwrap_or_default();
                    p { "client_key: " code #client-key-masked { (masked_key(&key)) } }
                }
                @if let Some(reason) = &entry.suspended { p.error { (l.t("已暂停", "Suspended")) ": " (reason) } }
                form.inline method="post" action="/portal/credentials/rotate" {
                    (csrf(&e.visitor))
                    button type="submit" id="rotate-key" { (l.t("重置 client_key", "Rotate client_key")) }
                }
            }
        }
    }
}

fn portal_key(
    _portal: &Portal,
    state: &AppState,
    client_id: &str,
    entry: &cunzheng_store::ClientEntry,
) -> Option<String> {
    let op = state.operator.as_ref()?;
    op.secret.open(client_id, &entry.key_nonce, &entry.key_ciphertext).ok()
}

/// `GET /portal/account` (账户信息): certification and credentials; a new client key is shown
/// in full this once.
pub async fn account(State(state): State<Arc<AppState>>, e: Enterprise) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let mut account = account_of(portal, &e)?;
    let mut shown = None;
    if let Some(client_id) = account.client_id.clone().filter(|_| !account.key_shown) {
        if let Some(entry) = state.chain.client(&client_id) {
            shown = portal_key(portal, &state, &client_id, &entry);
            account.key_shown = true;
            portal
                .db
                .put(account_key(&e.phone), &account)
                .map_err(|x| page::failure(l, &x.to_string()))?;
        }
    }
    let body =
        account_body(portal, &state, &e, &account, shown.as_deref(), &FieldErrors::new(), ("", ""));
    Ok(e.page(portal, "/portal/account", l.t("账户信息", "Account"), body))
}

/// `POST /portal/certification`: company name, credit code and licence.
pub async fn certify(State(state): State<Arc<AppState>>, e: Enterprise, form: Multipart) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let form = upload::read(form, MAX_FILE_BYTES).await.map_err(fail(l))?;
    e.visitor.check_csrf(form.field("_csrf"))?;
    let mut account = account_of(portal, &e)?;
    if account.certification.as_ref().is_some_and(|c| !matches!(c.review, Review::Rejected { .. }))
    {
        return Ok(Redirect::to("/portal/account").into_response());
    }
    let company = form.field("company").to_owned();
    let code = form.field("credit_code").to_ascii_uppercase();
    let mut errors = FieldErrors::new();
    if company.is_empty() || company.chars().count() > 100 {
        errors.insert(
            "company",
            l.t("请填写企业名称（100 字以内）", "Enter the company name (at most 100 characters)")
                .into(),
        );
    }
    if !checks::credit_code(&code) {
        errors.insert(
            "credit_code",
            l.t(
                "统一社会信用代码无效：应为 18 位且校验位正确",
                "Not a valid credit code: 18 characters with a correct check character",
            )
            .into(),
        );
    }
    let licence =
        match (form.too_large.iter().any(|f| f == "licence"), form.files("licence").first()) {
            (true, _) => {
                errors.insert("licence", l.t("文件超过 10 MB", "The file is over 10 MB").into());
                None
            }
            (false, None) => {
                errors
                    .insert("licence", l.t("请上传营业执照", "Upload the business licence").into());
                None
            }
            (false, Some(part)) if errors.is_empty() => {
                match upload::keep(
                    &portal.uploads,
                    part,
                    &[FileKind::Pdf, FileKind::Jpeg, FileKind::Png],
                ) {
                    Ok(f) => Some(f),
                    Err(None) => {
                        errors.insert(
                            "licence",
                            l.t(
                                "仅支持 PDF、JPEG、PNG 文件（按内容识别）",
                                "Only PDF, JPEG or PNG files (checked by content)",
                            )
                            .into(),
                        );
                        None
                    }
                    Err(Some(io)) => return Err(page::failure(l, &io)),
                }
            }
            (false, Some(part)) => {
                if FileKind::sniff(&part.bytes)
                    .is_none_or(|k| ![FileKind::Pdf, FileKind::Jpeg, FileKind::Png].contains(&k))
                {
                    errors.insert(
                        "licence",
                        l.t(
                            "仅支持 PDF、JPEG、PNG 文件（按内容识别）",
                            "Only PDF, JPEG or PNG files (checked by content)",
                        )
                        .into(),
                    );
                }
                None
            }
        };
    match licence {
        Some(licence) if errors.is_empty() => {
            account.certification = Some(Certification {
                company,
                credit_code: code,
                licence,
                review: Review::Pending,
                submitted_ms: unix_now_ms(),
            });
            portal
                .db
                .put(account_key(&e.phone), &account)
                .map_err(|x| page::failure(l, &x.to_string()))?;
            info!(target: "portal", "certification submitted");
            Ok(Redirect::to("/portal/account").into_response())
        }
        _ => {
            let body = account_body(portal, &state, &e, &account, None, &errors, (&company, &code));
            Ok(e.page(portal, "/portal/account", l.t("账户信息", "Account"), body))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

/// `POST /portal/credentials/rotate`: a new client key on the chain, shown once.
pub async fn rotate_key(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Form(f): Form<CsrfForm>,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    e.visitor.check_csrf(&f._csrf)?;
    let mut account = account_of(portal, &e)?;
    let Some(client_id) = account.client_id.clone() else {
        return Ok(Redirect::to("/portal/account").into_response());
    };
    let keys = state.operator.as_ref().ok_or_else(|| page::failure(l, "no operator keys"))?;
    let (key_nonce, key_ciphertext) = keys.secret.seal(&client_id, &generate_client_key());
    let action = OperatorAction::RotateKey { client_id, key_nonce, key_ciphertext };
    commit_operator_txs(&state, keys, vec![action])
        .await
        .map_err(|x| page::failure(l, &x.to_string()))?;
    account.key_shown = false;
    portal.db.put(account_key(&e.phone), &account).map_err(|x| page::failure(l, &x.to_string()))?;
    info!(target: "portal", "client key rotated by the enterprise");
    Ok(Redirect::to("/portal/account").into_response())
}

/// The business types offered, as stored on the chain and as shown.
pub const BUSINESS_TYPES: [(&str, &str, &str); 5] = [
    ("marketing", "营销推广", "Marketing"),
    ("notification", "通知提醒", "Notification"),
    ("collection", "催收提醒", "Payment reminder"),
    ("service", "客服回访", "Customer service"),
    ("verification", "验证码", "Verification codes"),
];

fn business_label(l: Lang, t: &str) -> String {
    BUSINESS_TYPES
        .iter()
        .find(|b| b.0 == t)
        .map(|b| l.t(b.1, b.2).to_owned())
        .unwrap_or_else(|| t.to_owned())
}

#[derive(Default)]
struct FilingValues {
    business_type: String,
    daily_limit: String,
    hours: String,
}

fn filing_form(
    e: &Enterprise,
    v: &FilingValues,
    errors: &FieldErrors,
    csv_errors: &[checks::RowError],
) -> Markup {
    let l = e.visitor.lang;
    let docs = l.t("*仅支持上传.doc/.pdf/.docx格式文件", "*.doc, .pdf or .docx files only");
    html! {
        form.card method="post" action="/portal/filing" enctype="multipart/form-data" id="filing-form" {
            (csrf(&e.visitor))
            (row(l.t("业务类型", "Business type"), "business_type", html! {
                select id="business_type" name="business_type" required {
                    option value="" { (l.t("请选择", "Please select")) }
                    @for (value, zh, en) in BUSINESS_TYPES {
                        option value=(value) selected[v.business_type == value] { (l.t(zh, en)) }
                    }
                }
            }, None, errors))
            (row(l.t("授权协议模板", "Authorization agreement template"), "agreement",
                html! { input id="agreement" name="agreement" type="file" accept=".doc,.docx,.pdf" required; }, Some(docs), errors))
            (row(l.t("话术/短信模板", "Call scripts / SMS templates"), "scripts",
                html! { input id="scripts" name="scripts" type="file" accept=".doc,.docx,.pdf" multiple required; },
                Some(l.t("*仅支持上传.doc/.pdf/.docx格式文件, 支持多个", "*.doc, .pdf or .docx files, several allowed")), errors))
            (row(l.t("呼叫频次", "Calls per day"), "daily_limit", html! {
                input id="daily_limit" name="daily_limit" type="number" min="1" max="1000" value=(v.daily_limit) required;
                " " (l.t("/天 每天呼叫次数", "per phone per day"))
            }, None, errors))
            (row(l.t("允许呼叫时段", "Allowed hours"), "hours",
                input("hours", "text", if v.hours.is_empty() { "9:00-20:00" } else { &v.hours }, true),
                Some(l.t("北京时间，如 9:00-20:00", "Beijing time, such as 9:00-20:00")), errors))
            (row(l.t("号码列表", "Number list"), "numbers", html! {
                input id="numbers" name="numbers" type="file" accept=".csv,text/csv" required;
                " " a href="/portal/filing/template.csv" id="csv-template" { (l.t("下载模板", "Download template")) }
            }, Some(l.t("*仅支持上传csv格式文件, 包含通信类型、号码类型、企业号码、运营商名称", "*CSV only: communication type, number type, number, carrier")), errors))
            @if !csv_errors.is_empty() {
                table.data.csv-errors #csv-errors {
                    thead { tr { th { (l.t("行", "Line")) } th { (l.t("错误", "Error")) } } }
                    tbody { @for r in csv_errors { tr { td.num { (r.line) } td { (r.message) } } } }
                }
            }
            div.actions { button type="submit" id="submit-filing" { (l.t("提交", "Submit")) } }
        }
    }
}

fn applications_of(portal: &Portal, phone: &str) -> Result<Vec<Application>, String> {
    let mut apps: Vec<Application> =
        portal.db.scan::<Application>("app/").map_err(|e| e.to_string())?;
    apps.retain(|a| a.phone == phone);
    apps.sort_by_key(|a| std::cmp::Reverse(a.submitted_ms));
    Ok(apps)
}

fn filing_body(
    portal: &Portal,
    e: &Enterprise,
    account: &Account,
    v: &FilingValues,
    errors: &FieldErrors,
    csv_errors: &[checks::RowError],
) -> Result<Markup, Response> {
    let l = e.visitor.lang;
    let certified =
        account.certification.as_ref().is_some_and(|c| matches!(c.review, Review::Approved { .. }));
    let apps = applications_of(portal, &e.phone).map_err(fail(l))?;
    Ok(html! {
        @if certified {
            (filing_form(e, v, errors, csv_errors))
        } @else {
            (notice(l.t("请先完成企业认证，认证通过后方可提交业务备案。", "Certify the company first; filings open once it is approved.")))
        }
        @if !apps.is_empty() {
            h2 { (l.t("我的备案", "My filings")) }
            table.data #applications {
                thead { tr { th { (l.t("编号", "Id")) } th { (l.t("业务类型", "Business")) } th { (l.t("通道", "Channels")) } th { (l.t("时段", "Hours")) } th { (l.t("频次", "Per day")) } th { (l.t("号码", "Numbers")) } th { (l.t("状态", "Status")) } } }
                tbody {
                    @for a in &apps {
                        tr {
                            td { code { (a.id) } }
                            td { (business_label(l, &a.business_type)) }
                            td { (a.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (a.hours) } td.num { (a.daily_limit) } td.num { (a.numbers.len()) }
                            td.app-status { (review_label(l, &a.review)) }
                        }
                    }
                }
            }
        }
    })
}

/// `GET /portal/filing` (业务备案).
pub async fn filing_page(State(state): State<Arc<AppState>>, e: Enterprise) -> Page {
    let portal = portal(&state)?;
    let account = account_of(portal, &e)?;
    let body =
        filing_body(portal, &e, &account, &FilingValues::default(), &FieldErrors::new(), &[])?;
    Ok(e.page(portal, "/portal/filing", e.visitor.lang.t("业务备案", "Business filing"), body))
}

/// `POST /portal/filing`: checks every field and every CSV row, stores the files and queues
/// the application for review.
pub async fn file(State(state): State<Arc<AppState>>, e: Enterprise, form: Multipart) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let form = upload::read(form, MAX_FILE_BYTES).await.map_err(fail(l))?;
    e.visitor.check_csrf(form.field("_csrf"))?;
    let account = account_of(portal, &e)?;
    if !account.certification.as_ref().is_some_and(|c| matches!(c.review, Review::Approved { .. }))
    {
        return Ok(Redirect::to("/portal/filing").into_response());
    }
    let values = FilingValues {
        business_type: form.field("business_type").to_owned(),
        daily_limit: form.field("daily_limit").to_owned(),
        hours: form.field("hours").to_owned(),
    };
    let mut errors = FieldErrors::new();
    if !BUSINESS_TYPES.iter().any(|b| b.0 == values.business_type) {
        errors.insert("business_type", l.t("请选择业务类型", "Choose a business type").into());
    }
    let daily_limit = values.daily_limit.parse::<u32>().ok().filter(|n| (1..=1000).contains(n));
    if daily_limit.is_none() {
        errors.insert(
            "daily_limit",
            l.t("请填写 1 至 1000 的整数", "Enter a whole number from 1 to 1000").into(),
        );
    }
    let hours = checks::hours(&values.hours);
    if hours.is_none() {
        errors.insert(
            "hours",
            l.t("格式应为 9:00-20:00", "Expected a range such as 9:00-20:00").into(),
        );
    }
    let doc_kinds = [FileKind::Doc, FileKind::Docx, FileKind::Pdf];
    let wrong_doc = l.t(
        "仅支持 .doc/.docx/.pdf 文件（按内容识别）",
        "Only .doc, .docx or .pdf files (checked by content)",
    );
    for field in ["agreement", "scripts"] {
        if form.too_large.iter().any(|f| f == field) {
            errors.insert(field, l.t("文件超过 10 MB", "A file is over 10 MB").into());
        } else if form.files(field).is_empty() {
            errors.insert(field, l.t("请上传文件", "Upload a file").into());
        } else if form
            .files(field)
            .iter()
            .any(|p| FileKind::sniff(&p.bytes).is_none_or(|k| !doc_kinds.contains(&k)))
        {
            errors.insert(field, wrong_doc.into());
        }
    }
    if form.files("agreement").len() > 1 {
        errors.insert(
            "agreement",
            l.t("只能上传一个授权协议模板", "Upload one agreement template").into(),
        );
    }
    if form.files("scripts").len() > 20 {
        errors.insert("scripts", l.t("最多 20 个模板", "At most 20 templates").into());
    }
    let mut csv_errors = Vec::new();
    let numbers = match form.files("numbers").first() {
        _ if form.too_large.iter().any(|f| f == "numbers") => {
            errors.insert("numbers", l.t("文件超过 10 MB", "The file is over 10 MB").into());
            None
        }
        None => {
            errors.insert("numbers", l.t("请上传号码列表", "Upload the number list").into());
            None
        }
        Some(p) if p.bytes.len() > MAX_CSV_BYTES => {
            errors
                .insert("numbers", l.t("号码列表超过 2 MB", "The number list is over 2 MB").into());
            None
        }
        Some(p)
            if std::str::from_utf8(&p.bytes).is_err()
                || !p.name.to_ascii_lowercase().ends_with(".csv") =>
        {
            errors.insert(
                "numbers",
                l.t("仅支持 UTF-8 编码的 csv 文件", "Only a UTF-8 .csv file").into(),
            );
            None
        }
        Some(p) => match checks::number_list(&p.bytes) {
            Ok(n) => Some(n),
            Err(rows) => {
                errors.insert(
                    "numbers",
                    format!("{} {}", rows.len(), l.t("行有误，见下表", "bad rows, listed below")),
                );
                csv_errors = rows;
                None
            }
        },
    };
    let (Some(numbers), Some(daily_limit), Some(hours), true) =
        (numbers, daily_limit, hours, errors.is_empty())
    else {
        let body = filing_body(portal, &e, &account, &values, &errors, &csv_errors)?;
        return Ok(e.page(portal, "/portal/filing", l.t("业务备案", "Business filing"), body));
    };
    let keep = |p: &upload::Part| {
        upload::keep(&portal.uploads, p, &doc_kinds)
            .map_err(|x| page::failure(l, &x.unwrap_or_default()))
    };
    let agreement = keep(&form.files("agreement")[0])?;
    let scripts = form.files("scripts").iter().map(keep).collect::<Result<Vec<FileRef>, _>>()?;
    let mut channels: Vec<Channel> = numbers.iter().map(|n| n.comm_type).collect();
    channels.sort();
    channels.dedup();
    let mut id = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let app = Application {
        id: format!("F{}", hex::encode_upper(id)),
        phone: e.phone.clone(),
        business_type: values.business_type,
        agreement,
        scripts,
        daily_limit,
        hours,
        channels,
        numbers,
        review: Review::Pending,
        submitted_ms: unix_now_ms(),
        block_height: None,
    };
    portal.db.put(application_key(&app.id), &app).map_err(|x| page::failure(l, &x.to_string()))?;
    info!(target: "portal", id = %app.id, "filing submitted");
    Ok(Redirect::to("/portal/filing").into_response())
}

/// `GET /portal/filing/template.csv`: the number list template.
pub async fn csv_template() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"numbers-template.csv\""),
        ],
        checks::csv_template(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct RecordParams {
    #[serde(default)]
    phone_md5: String,
    #[serde(default)]
    deposit_hash: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    flag: String,
    #[serde(default)]
    cursor: String,
}

/// A `YYYY-MM-DD` date's Beijing day.
fn date_day(s: &str) -> Option<u32> {
    let mut p = s.splitn(3, '-');
    day_of_date(p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?)
}

/// Rows of found records, with links to their proof and certificate under `base`.
pub fn record_rows(l: Lang, found: &[cunzheng_store::Found], base: &str) -> Markup {
    html! {
        table.data #records {
            thead { tr {
                th { (l.t("时间", "Time")) } th { (l.t("类型", "Kind")) } th { (l.t("手机号 MD5", "Phone MD5")) }
                th { (l.t("存证哈希", "Deposit hash")) } th { (l.t("标记", "Flags")) } th { (l.t("区块", "Block")) } th { (l.t("凭证", "Evidence")) }
            } }
            tbody {
                @for f in found {
                    @let tx = Transaction::from_canonical(&f.entry.bytes).ok();
                    @let record = tx.as_ref().and_then(|t| match t { Transaction::Record(r) => Some(&r.record), _ => None });
                    tr.record {
                        td { (beijing_time(f.time)) }
                        td { (record.map(|r| kind_label(l, r.kind())).unwrap_or("")) }
                        td { code { (record.map(|r| r.phone()).unwrap_or("")) } }
                        td { code.hash { (record.and_then(|r| r.deposit_hash()).unwrap_or("")) } }
                        td.flags {
                            @if Flags(f.entry.flags).is_clean() { span.ok { (l.t("合规", "Clean")) } }
                            @for flag in Flags(f.entry.flags).iter() { span.flag { (flag_label(l, flag)) } " " }
                        }
                        td.num { (f.entry.height) }
                        td {
                            a.proof href={ (base) (f.id) "/proof" } { (l.t("证明", "Proof")) } " · "
                            a.certificate href={ (base) (f.id) "/certificate" } target="_blank" { (l.t("存证证书", "Certificate")) } " · "
                            a.certificate-pdf href={ (base) (f.id) "/certificate.pdf" } { "PDF" }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /portal/records` (存证记录查询): the phone is hashed in the browser; only its MD5 is sent.
pub async fn records(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Query(p): Query<RecordParams>,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let mut errors = FieldErrors::new();
    let phone = p.phone_md5.trim().to_ascii_uppercase();
    if !phone.is_empty() && (phone.len() != 32 || !phone.bytes().all(|b| b.is_ascii_hexdigit())) {
        errors.insert(
            "phone",
            l.t("手机号 MD5 应为 32 位十六进制", "The phone MD5 must be 32 hex digits").into(),
        );
    }
    let kind = Endpoint::from_kind(&p.kind).map(|e| e.kind().to_owned());
    let flag = Flag::parse(&p.flag);
    let from = match p.from.as_str() {
        "" => Some(0),
        s => date_day(s).map(beijing_midnight),
    };
    let to = match p.to.as_str() {
        "" => Some(u64::MAX),
        s => date_day(s).map(|d| beijing_midnight(d + 1) - 1),
    };
    if from.is_none() {
        errors.insert("from", l.t("日期格式应为 YYYY-MM-DD", "Expected a date YYYY-MM-DD").into());
    }
    if to.is_none() {
        errors.insert("to", l.t("日期格式应为 YYYY-MM-DD", "Expected a date YYYY-MM-DD").into());
    }
    let before = p
        .cursor
        .split_once('-')
        .and_then(|(t, id)| Some((t.parse().ok()?, Hash::from_hex(id).ok()?)));
    let page_result = match (&account.client_id, errors.is_empty()) {
        (Some(client), true) => {
            let q = RecordQuery {
                client_id: client.clone(),
                kind: kind.clone(),
                phone: (!phone.is_empty()).then(|| phone.clone()),
                deposit_hash: (!p.deposit_hash.trim().is_empty())
                    .then(|| p.deposit_hash.trim().to_owned()),
                from: from.unwrap_or(0),
                to: to.unwrap_or(u64::MAX),
                flag,
                before,
                limit: 20,
            };
            let store = portal.db_store().clone();
            Some(
                tokio::task::spawn_blocking(move || store.search(&q))
                    .await
                    .map_err(|x| page::failure(l, &x.to_string()))?
                    .map_err(|x| page::failure(l, &x.to_string()))?,
            )
        }
        _ => None,
    };
    let next = page_result.as_ref().and_then(|r| r.next).map(|(t, id)| {
        let q = serde_urlencoded::to_string([
            ("phone_md5", phone.as_str()),
            ("deposit_hash", p.deposit_hash.trim()),
            ("kind", &p.kind),
            ("from", &p.from),
            ("to", &p.to),
            ("flag", &p.flag),
            ("cursor", &format!("{t}-{id}")),
        ])
        .unwrap_or_default();
        format!("/portal/records?{q}")
    });
    let body = html! {
        form.card.search method="get" action="/portal/records" id="search-form" {
            (row(l.t("手机号", "Phone number"), "phone", html! {
                // No name: the number itself is never submitted, only its MD5 below.
                input id="phone" type="tel" autocomplete="off" data-md5-into="phone_md5";
                input id="phone_md5" name="phone_md5" type="hidden" value=(phone);
            }, Some(l.t("在浏览器中转为 MD5 后查询，号码本身不会上传", "Hashed to MD5 in your browser; the number is never sent")), &errors))
            (row(l.t("存证哈希", "Deposit hash"), "deposit_hash", input("deposit_hash", "text", &p.deposit_hash, false), None, &errors))
            (row(l.t("类型", "Kind"), "kind", html! {
                select id="kind" name="kind" {
                    option value="" { (l.t("全部", "All")) }
                    @for ep in Endpoint::ALL { option value=(ep.kind()) selected[p.kind == ep.kind()] { (kind_label(l, ep.kind())) } }
                }
            }, None, &errors))
            (row(l.t("起始日期", "From"), "from", input("from", "date", &p.from, false), None, &errors))
            (row(l.t("结束日期", "To"), "to", input("to", "date", &p.to, false), None, &errors))
            (row(l.t("标记", "Flag"), "flag", html! {
                select id="flag" name="flag" {
                    option value="" { (l.t("全部", "All")) }
                    @for f in Flag::ALL { option value=(f.as_str()) selected[p.flag == f.as_str()] { (flag_label(l, f)) } }
                }
            }, None, &errors))
            button type="submit" id="search" { (l.t("查询", "Search")) }
        }
        @if account.client_id.is_none() {
            (notice(l.t("业务备案通过后即可查询存证记录。", "Records can be searched once a filing is approved.")))
        }
        @if let Some(found) = &page_result {
            @if found.records.is_empty() { p #no-records { (l.t("没有符合条件的记录。", "No records match.")) } }
            @else { (record_rows(l, &found.records, "/portal/records/")) }
            @if let Some(next) = &next { p { a #next-page href=(next) { (l.t("下一页", "Next page")) } } }
        }
    };
    Ok(e.page(portal, "/portal/records", l.t("存证记录查询", "Records"), body))
}

fn complaints_of(portal: &Portal, client: Option<&str>) -> Result<Vec<Complaint>, String> {
    let Some(client) = client else { return Ok(Vec::new()) };
    let mut all: Vec<Complaint> = portal.db.scan("cmp/").map_err(|e| e.to_string())?;
    all.retain(|c| c.client_id == client);
    all.sort_by_key(|c| std::cmp::Reverse(c.opened_ms));
    Ok(all)
}

pub fn complaint_status(l: Lang, c: &Complaint) -> &'static str {
    match (&c.closed, &c.answer) {
        (Some(_), _) => l.t("已办结", "Closed"),
        (None, Some(_)) => l.t("已答复", "Answered"),
        (None, None) => l.t("待处理", "Open"),
    }
}

/// `GET /portal/complaints` (工单处理).
pub async fn complaints(State(state): State<Arc<AppState>>, e: Enterprise) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let list = complaints_of(portal, account.client_id.as_deref()).map_err(fail(l))?;
    let body = html! {
        @if list.is_empty() { p { (l.t("暂无工单。", "No complaints.")) } }
        @else {
            table.data #complaints {
                thead { tr { th { (l.t("编号", "Id")) } th { (l.t("投诉号码", "Number")) } th { (l.t("发生时间", "When")) } th { (l.t("渠道", "Channel")) } th { (l.t("状态", "Status")) } } }
                tbody { @for c in &list { tr {
                    td { a href={ "/portal/complaints/" (c.id) } { (c.id) } }
                    td { (c.phone_masked) } td { (beijing_time(c.time)) } td { (c.channel.as_str()) }
                    td { (complaint_status(l, c)) }
                } } }
            }
        }
    };
    Ok(e.page(portal, "/portal/complaints", l.t("工单处理", "Complaints"), body))
}

/// The records of the complaint's client for its phone within a day of its time.
pub async fn matching_records(
    portal: &Portal,
    c: &Complaint,
) -> Result<Vec<cunzheng_store::Found>, String> {
    let q = RecordQuery {
        client_id: c.client_id.clone(),
        phone: Some(c.phone_md5.clone()),
        from: c.time.saturating_sub(86_400),
        to: c.time + 86_400,
        limit: 50,
        ..Default::default()
    };
    let store = portal.db_store().clone();
    tokio::task::spawn_blocking(move || store.search(&q))
        .await
        .map_err(|e| e.to_string())?
        .map(|p| p.records)
        .map_err(|e| e.to_string())
}

/// A complaint's facts, its matching records and its answer, for either side.
pub fn complaint_view(
    l: Lang,
    c: &Complaint,
    records: &[cunzheng_store::Found],
    file_base: &str,
    record_base: &str,
) -> Markup {
    html! {
        dl.facts #complaint {
            dt { (l.t("编号", "Id")) } dd { (c.id) }
            dt { (l.t("客户端", "Client")) } dd { (c.client_id) }
            dt { (l.t("投诉号码", "Number")) } dd { (c.phone_masked) }
            dt { (l.t("发生时间", "When")) } dd { (beijing_time(c.time)) }
            dt { (l.t("渠道", "Channel")) } dd { (c.channel.as_str()) }
            dt { (l.t("投诉内容", "Description")) } dd { (c.description) }
            dt { (l.t("状态", "Status")) } dd #complaint-status { (complaint_status(l, c)) }
        }
        h2 { (l.t("相关存证记录（前后 24 小时）", "Matching records (within 24 hours)")) }
        @if records.is_empty() { p { (l.t("没有找到相关记录。", "No matching records.")) } } @else { (record_rows(l, records, record_base)) }
        @if let Some(a) = &c.answer {
            h2 { (l.t("企业答复", "Answer")) }
            p #answer-text { (a.text) }
            ul { @for f in &a.evidence { li { a href={ (file_base) (f.sha256) } { (f.name) } } } }
        }
    }
}

fn complaint_for(
    portal: &Portal,
    account: &Account,
    id: &str,
) -> Result<Option<Complaint>, String> {
    let c: Option<Complaint> = portal.db.get(&complaint_key(id)).map_err(|e| e.to_string())?;
    Ok(c.filter(|c| account.client_id.as_deref() == Some(c.client_id.as_str())))
}

/// What a record's evidence is asked as: `proof`, `certificate` or `certificate.pdf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    Proof,
    Certificate,
    CertificatePdf,
}

impl Evidence {
    pub fn parse(s: &str) -> Option<Evidence> {
        match s {
            "proof" => Some(Evidence::Proof),
            "certificate" => Some(Evidence::Certificate),
            "certificate.pdf" => Some(Evidence::CertificatePdf),
            _ => None,
        }
    }
}

/// The proof bundle (a JSON download) or certificate (HTML or PDF) of record `id`, as the
/// session's caller may see it: an enterprise its own client's records (`client` Some), the
/// operator any.
pub async fn evidence(
    state: Arc<AppState>,
    l: Lang,
    id: &str,
    client: Option<&str>,
    headers: &axum::http::HeaderMap,
    what: &str,
) -> Page {
    let no_record =
        || page::refused(l, axum::http::StatusCode::NOT_FOUND, "没有这条记录。", "No such record.");
    let what = Evidence::parse(what).ok_or_else(no_record)?;
    let genesis = state.chain.genesis().clone();
    let bundle = crate::query::session_bundle(state, id, client).await.map_err(|_| no_record())?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    Ok(match what {
        Evidence::Proof => (
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"proof-{}.json\"", bundle.tx_id),
                ),
            ],
            serde_json::to_vec_pretty(&bundle).unwrap_or_default(),
        )
            .into_response(),
        Evidence::Certificate => {
            axum::response::Html(crate::certificate::render(&bundle, &genesis, &base))
                .into_response()
        }
        Evidence::CertificatePdf => (
            [(header::CONTENT_TYPE, "application/pdf")],
            crate::certificate::render_pdf(&bundle, &genesis, &base),
        )
            .into_response(),
    })
}

/// `GET /portal/records/{id}/{proof|certificate|certificate.pdf}`: one of the enterprise's
/// own records.
pub async fn record_evidence(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Path((id, what)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    // An enterprise without a client has no records: the empty client id matches none.
    let client = account.client_id.unwrap_or_default();
    evidence(state.clone(), l, &id, Some(&client), &headers, &what).await
}

/// `GET /portal/complaints/{id}`: only complaints routed to this enterprise's client.
pub async fn complaint(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Path(id): Path<String>,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let Some(c) = complaint_for(portal, &account, &id).map_err(fail(l))? else {
        return Err(page::refused(
            l,
            axum::http::StatusCode::NOT_FOUND,
            "没有这个工单。",
            "No such complaint.",
        ));
    };
    Ok(complaint_page(portal, &e, &c, &FieldErrors::new()).await)
}

async fn complaint_page(
    portal: &Portal,
    e: &Enterprise,
    c: &Complaint,
    errors: &FieldErrors,
) -> Response {
    let l = e.visitor.lang;
    let records = match matching_records(portal, c).await {
        Ok(r) => r,
        Err(x) => return page::failure(l, &x),
    };
    let body = html! {
        (complaint_view(l, c, &records, "/portal/files/", "/portal/records/"))
        @if c.closed.is_none() {
            h2 { (l.t("答复", "Answer")) }
            form.card method="post" action={ "/portal/complaints/" (c.id) } enctype="multipart/form-data" id="answer-form" {
                (csrf(&e.visitor))
                (row(l.t("答复内容", "Answer"), "text", html! { textarea id="text" name="text" rows="4" required {} }, None, errors))
                (row(l.t("证据材料", "Evidence"), "evidence", html! { input id="evidence" name="evidence" type="file" multiple accept=".pdf,.jpg,.jpeg,.png,.doc,.docx"; },
                    Some(l.t("PDF、图片或 Word 文件，可多个", "PDF, image or Word files, several allowed")), errors))
                button type="submit" id="submit-answer" { (l.t("提交答复", "Send answer")) }
            }
        }
    };
    e.page(portal, "/portal/complaints", l.t("工单详情", "Complaint"), body)
}

/// `POST /portal/complaints/{id}`: the enterprise's answer with evidence.
pub async fn answer(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Path(id): Path<String>,
    form: Multipart,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let form = upload::read(form, MAX_FILE_BYTES).await.map_err(fail(l))?;
    e.visitor.check_csrf(form.field("_csrf"))?;
    let account = account_of(portal, &e)?;
    let Some(mut c) = complaint_for(portal, &account, &id).map_err(fail(l))? else {
        return Err(page::refused(
            l,
            axum::http::StatusCode::NOT_FOUND,
            "没有这个工单。",
            "No such complaint.",
        ));
    };
    if c.closed.is_some() {
        return Ok(Redirect::to(&format!("/portal/complaints/{id}")).into_response());
    }
    let text = form.field("text").to_owned();
    let mut errors = FieldErrors::new();
    if text.is_empty() || text.chars().count() > 2000 {
        errors.insert(
            "text",
            l.t("请填写答复（2000 字以内）", "Write an answer (at most 2000 characters)").into(),
        );
    }
    let kinds = [FileKind::Pdf, FileKind::Jpeg, FileKind::Png, FileKind::Doc, FileKind::Docx];
    if !form.too_large.is_empty() {
        errors.insert("evidence", l.t("文件超过 10 MB", "A file is over 10 MB").into());
    } else if form
        .files("evidence")
        .iter()
        .any(|p| FileKind::sniff(&p.bytes).is_none_or(|k| !kinds.contains(&k)))
    {
        errors.insert(
            "evidence",
            l.t(
                "仅支持 PDF、图片或 Word 文件（按内容识别）",
                "Only PDF, image or Word files (checked by content)",
            )
            .into(),
        );
    }
    if !errors.is_empty() {
        return Ok(complaint_page(portal, &e, &c, &errors).await);
    }
    let evidence = form
        .files("evidence")
        .iter()
        .map(|p| {
            upload::keep(&portal.uploads, p, &kinds)
                .map_err(|x| page::failure(l, &x.unwrap_or_default()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    c.answer = Some(ComplaintAnswer { text, evidence, at_ms: unix_now_ms() });
    portal.db.put(complaint_key(&c.id), &c).map_err(|x| page::failure(l, &x.to_string()))?;
    info!(target: "portal", id = %c.id, "complaint answered");
    Ok(Redirect::to(&format!("/portal/complaints/{id}")).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportParams {
    #[serde(default)]
    month: String,
}

/// The month asked for (`YYYY-MM`), or this one.
fn month_of(s: &str) -> Option<(i32, u32)> {
    if s.is_empty() {
        let (y, m, _) = today();
        return Some((y, m));
    }
    let (y, m) = s.split_once('-')?;
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    day_of_date(y, m, 1).map(|_| (y, m))
}

/// One row per day of the month: the date, counts per kind, flagged.
fn daily_rows(
    portal: &Portal,
    client: &str,
    y: i32,
    m: u32,
) -> Result<Vec<(String, Vec<u64>, u64)>, String> {
    let first = day_of_date(y, m, 1).ok_or("bad month")?;
    (0..days_in_month(y, m))
        .map(|i| {
            let (k, f) = counts(portal, client, first + i, first + i)?;
            Ok((format!("{y:04}-{m:02}-{:02}", i + 1), k, f))
        })
        .collect()
}

/// `GET /portal/reports` (报表统计): the month by day, and the year by month.
pub async fn reports(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Query(p): Query<ReportParams>,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let Some((y, m)) = month_of(&p.month) else {
        return Err(page::refused(
            l,
            axum::http::StatusCode::BAD_REQUEST,
            "月份格式应为 YYYY-MM。",
            "Expected a month YYYY-MM.",
        ));
    };
    let Some(client) = account.client_id.clone() else {
        let body =
            notice(l.t("业务备案通过后即可查看报表。", "Reports open once a filing is approved."));
        return Ok(e.page(portal, "/portal/reports", l.t("报表统计", "Reports"), body));
    };
    let days = daily_rows(portal, &client, y, m).map_err(fail(l))?;
    let months: Vec<(String, Vec<u64>, u64)> = (1..=12u32)
        .map(|mm| {
            let first = day_of_date(y, mm, 1).ok_or("bad month")?;
            let (k, f) = counts(portal, &client, first, first + days_in_month(y, mm) - 1)?;
            Ok((format!("{y:04}-{mm:02}"), k, f))
        })
        .collect::<Result<_, String>>()
        .map_err(fail(l))?;
    let table = |id: &str, rows: &[(String, Vec<u64>, u64)]| {
        html! {
            table.data id=(id) {
                thead { tr { th { (l.t("日期", "Date")) } @for ep in Endpoint::ALL { th { (kind_label(l, ep.kind())) } } th { (l.t("违规标记", "Flagged")) } } }
                tbody { @for (date, k, f) in rows { tr { td { (date) } @for n in k { td.num { (n) } } td.num { (f) } } } }
            }
        }
    };
    let labels: Vec<String> = days.iter().map(|d| d.0[8..].to_owned()).collect();
    let totals: Vec<u64> = days.iter().map(|d| d.1.iter().sum()).collect();
    let flagged: Vec<u64> = days.iter().map(|d| d.2).collect();
    let month_labels: Vec<String> = months.iter().map(|r| r.0[5..].to_owned()).collect();
    let month_totals: Vec<u64> = months.iter().map(|r| r.1.iter().sum()).collect();
    let month_flagged: Vec<u64> = months.iter().map(|r| r.2).collect();
    let month = format!("{y:04}-{m:02}");
    let body = html! {
        form.inline method="get" action="/portal/reports" {
            label for="month" { (l.t("月份", "Month")) } " "
            input id="month" name="month" type="month" value=(month);
            " " button type="submit" { (l.t("查看", "Show")) }
            " " a #export-csv href={ "/portal/reports.csv?month=" (month) } { (l.t("导出 CSV", "Export CSV")) }
        }
        h2 { (l.t("日报", "Daily")) " " (month) }
        (bar_chart(&labels, &[(l.t("存证", "Records"), "#3b82f6", totals), (l.t("违规标记", "Flagged"), "#ef4444", flagged)]))
        (table("daily-report", &days))
        h2 { (l.t("月报", "Monthly")) " " (y) }
        (bar_chart(&month_labels, &[(l.t("存证", "Records"), "#3b82f6", month_totals), (l.t("违规标记", "Flagged"), "#ef4444", month_flagged)]))
        (table("monthly-report", &months))
    };
    Ok(e.page(portal, "/portal/reports", l.t("报表统计", "Reports"), body))
}

/// `GET /portal/reports.csv?month=YYYY-MM`: the daily table as CSV.
pub async fn reports_csv(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Query(p): Query<ReportParams>,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let (Some((y, m)), Some(client)) = (month_of(&p.month), account.client_id) else {
        return Err(page::refused(
            l,
            axum::http::StatusCode::BAD_REQUEST,
            "没有可导出的报表。",
            "No report to export.",
        ));
    };
    let rows = daily_rows(portal, &client, y, m).map_err(fail(l))?;
    let mut out = String::from("date");
    for ep in Endpoint::ALL {
        out.push(',');
        out.push_str(ep.kind());
    }
    out.push_str(",flagged\r\n");
    for (date, k, f) in rows {
        out.push_str(&date);
        for n in k {
            out.push_str(&format!(",{n}"));
        }
        out.push_str(&format!(",{f}\r\n"));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"report-{client}-{y:04}-{m:02}.csv\""),
            ),
        ],
        out,
    )
        .into_response())
}

/// `GET /portal/docs` (文档中心).
pub async fn docs(State(state): State<Arc<AppState>>, e: Enterprise) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let body = html! { article.docs { (page::trusted(include_str!("docs_zh.html"))) } };
    Ok(e.page(portal, "/portal/docs", l.t("文档中心", "Documents"), body))
}

/// The files an enterprise may download: its licence, its filings' files, its answers'
/// evidence.
fn own_files(portal: &Portal, account: &Account) -> Result<Vec<FileRef>, String> {
    let mut files: Vec<FileRef> = account.certification.iter().map(|c| c.licence.clone()).collect();
    for a in applications_of(portal, &account.phone)? {
        files.push(a.agreement);
        files.extend(a.scripts);
    }
    for c in complaints_of(portal, account.client_id.as_deref())? {
        files.extend(c.answer.into_iter().flat_map(|a| a.evidence));
    }
    Ok(files)
}

/// `GET /portal/files/{sha}`: one of the enterprise's own files.
pub async fn file_download(
    State(state): State<Arc<AppState>>,
    e: Enterprise,
    Path(sha): Path<String>,
) -> Page {
    let portal = portal(&state)?;
    let l = e.visitor.lang;
    let account = account_of(portal, &e)?;
    let files = own_files(portal, &account).map_err(fail(l))?;
    match files.iter().find(|f| f.sha256 == sha) {
        Some(f) => Ok(upload::serve(&portal.uploads, f)),
        None => Err(page::refused(
            l,
            axum::http::StatusCode::NOT_FOUND,
            "没有这个文件。",
            "No such file.",
        )),
    }
}
