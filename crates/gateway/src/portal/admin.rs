//! The operator side: review queues for certifications and filings (an approved filing goes
//! on the chain as an operator transaction, registering the client first when it has none),
//! enterprises and suspension, complaint intake and routing, the consortium's health, and in
//! development the SMS outbox. Every handler takes an [`Operator`] session, and every decision
//! is written to the node's audit trail under the staff member's name.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use cunzheng_types::{
    client_key::{generate_client_id, generate_client_key},
    compliance::Filing,
    unix_now_ms, Channel, OperatorAction,
};
use maud::html;
use md5::{Digest, Md5};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use tracing::info;

use super::{
    checks::mask,
    data::{
        account_key, application_key, complaint_key, Account, Application, Complaint, FileRef,
        Review, Sent, Subject,
    },
    enterprise::{complaint_status, complaint_view, matching_records, review_label},
    log_in,
    page::{self, csrf, input, notice, row, FieldErrors, Side},
    portal, upload, Operator, Portal, Visitor,
};
use crate::{certificate::beijing_time, operator::commit_operator_txs, AppState};

type Page = Result<Response, Response>;

fn failure(l: page::Lang) -> impl Fn(String) -> Response {
    move |e| page::failure(l, &e)
}

/// Writes an operator decision to the audit trail.
fn audit(state: &AppState, who: &str, action: &str, subject: &str, detail: &str) {
    let at_ms = unix_now_ms();
    let entry = json!({ "at_ms": at_ms, "reader": who, "action": action, "subject": subject, "detail": detail, "via": "portal" });
    if let Err(e) = state.chain.store().append_audit(at_ms, entry.to_string().as_bytes()) {
        tracing::warn!(target: "portal", error = %e, "audit trail write failed");
    }
    info!(target: "portal", who, action, subject, "operator action");
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

fn login_form(v: &Visitor, name: &str, errors: &FieldErrors) -> maud::Markup {
    let l = v.lang;
    html! {
        form.card method="post" action="/portal/admin/login" id="operator-login-form" {
            (csrf(v))
            (row(l.t("姓名", "Name"), "name", input("name", "text", name, true), None, errors))
            (row(l.t("运营方口令", "Operator secret"), "secret", input("secret", "password", "", true),
                Some(l.t("节点的管理令牌", "The node's admin token")), errors))
            button type="submit" id="operator-login" { (l.t("登录", "Log in")) }
        }
    }
}

pub async fn login_page(State(state): State<Arc<AppState>>, v: Visitor) -> Page {
    let portal = portal(&state)?;
    let body = login_form(&v, "", &FieldErrors::new());
    Ok(page::respond(portal, &v, Side::Public, "", v.lang.t("运营方登录", "Operator login"), body))
}

/// `POST /portal/admin/login`: staff name and the operator secret; 5 failures per address in
/// 15 minutes.
pub async fn login(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Form(f): Form<LoginForm>,
) -> Page {
    let portal = portal(&state)?;
    v.check_csrf(&f._csrf)?;
    let l = v.lang;
    let name: String = f.name.trim().chars().filter(|c| !c.is_control()).take(40).collect();
    let mut errors = FieldErrors::new();
    let expected = portal.config.operator_secret.as_deref().unwrap_or("");
    let matches = !expected.is_empty()
        && f.secret.len() == expected.len()
        && f.secret.bytes().zip(expected.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    if !portal.limits.allow(format!("op-login/{}", v.client_ip), 5, 15 * 60_000) {
        errors.insert(
            "secret",
            l.t("尝试次数过多，请 15 分钟后再试", "Too many attempts; try again in 15 minutes")
                .into(),
        );
    } else if name.is_empty() {
        errors.insert("name", l.t("请填写姓名", "Enter your name").into());
    } else if !matches {
        errors.insert("secret", l.t("口令错误", "Wrong secret").into());
    } else {
        portal.limits.clear(&format!("op-login/{}", v.client_ip));
        audit(&state, &name, "portal.login", "", "");
        return Ok(log_in(portal, &v, Subject::Operator { name }, "/portal/admin"));
    }
    let body = login_form(&v, &name, &errors);
    Ok(page::respond(portal, &v, Side::Public, "", l.t("运营方登录", "Operator login"), body))
}

fn accounts(portal: &Portal) -> Result<Vec<Account>, String> {
    portal.db.scan("acct/").map_err(|e| e.to_string())
}

/// `GET /portal/admin` (审核队列): certifications and filings waiting for review.
pub async fn queues(State(state): State<Arc<AppState>>, o: Operator) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    let pending_certs: Vec<Account> = accounts(portal)
        .map_err(failure(l))?
        .into_iter()
        .filter(|a| a.certification.as_ref().is_some_and(|c| c.review.is_pending()))
        .collect();
    let apps: Vec<Application> =
        portal.db.scan::<Application>("app/").map_err(|e| failure(l)(e.to_string()))?;
    let pending_apps: Vec<&Application> = apps.iter().filter(|a| a.review.is_pending()).collect();
    let v = &o.visitor;
    let body = html! {
        h2 { (l.t("企业认证", "Certifications")) " (" (pending_certs.len()) ")" }
        @if pending_certs.is_empty() { p { (l.t("没有待审核的认证。", "Nothing to review.")) } }
        @for a in &pending_certs {
            @let c = a.certification.as_ref().expect("filtered");
            section.card.review data-phone=(a.phone) {
                p { strong { (c.company) } " · " (c.credit_code) " · " (mask(&a.phone)) }
                p { (l.t("营业执照", "Licence")) ": " a href={ "/portal/admin/files/" (c.licence.sha256) } { (c.licence.name) } " (" (c.licence.mime) ")" }
                form.inline method="post" action={ "/portal/admin/certifications/" (a.phone) } {
                    (csrf(v))
                    input type="text" name="reason" placeholder=(l.t("驳回原因", "Reason to reject"));
                    button type="submit" name="decision" value="approve" class="approve" { (l.t("通过", "Approve")) }
                    button type="submit" name="decision" value="reject" class="reject" { (l.t("驳回", "Reject")) }
                }
            }
        }
        h2 { (l.t("业务备案", "Filings")) " (" (pending_apps.len()) ")" }
        @if pending_apps.is_empty() { p { (l.t("没有待审核的备案。", "Nothing to review.")) } }
        @if !pending_apps.is_empty() {
            table.data #pending-filings {
                thead { tr { th { (l.t("编号", "Id")) } th { (l.t("企业", "Enterprise")) } th { (l.t("业务类型", "Business")) } th { (l.t("号码", "Numbers")) } th {} } }
                tbody { @for a in &pending_apps { tr {
                    td { code { (a.id) } } td { (mask(&a.phone)) } td { (a.business_type) } td.num { (a.numbers.len()) }
                    td { a.open-filing href={ "/portal/admin/filings/" (a.id) } { (l.t("审核", "Review")) } }
                } } }
            }
        }
    };
    Ok(o.page(portal, "/portal/admin", l.t("审核队列", "Review queues"), body))
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

impl Decision {
    /// The review this decision makes, or the refusal of a rejection without a reason.
    fn review(&self, by: &str, l: page::Lang) -> Result<Review, Response> {
        let at_ms = unix_now_ms();
        match self.decision.as_str() {
            "approve" => Ok(Review::Approved { by: by.into(), at_ms }),
            "reject" if !self.reason.trim().is_empty() => Ok(Review::Rejected {
                by: by.into(),
                at_ms,
                reason: self.reason.trim().chars().take(500).collect(),
            }),
            _ => Err(page::refused(
                l,
                StatusCode::BAD_REQUEST,
                "驳回时必须填写原因。",
                "A rejection needs a reason.",
            )),
        }
    }
}

/// `POST /portal/admin/certifications/{phone}`: approves or rejects; the decision is sent by SMS.
pub async fn review_certification(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(phone): Path<String>,
    Form(d): Form<Decision>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    o.visitor.check_csrf(&d._csrf)?;
    let review = d.review(&o.name, l)?;
    let mut account: Account =
        portal.db.get(&account_key(&phone)).map_err(|e| failure(l)(e.to_string()))?.ok_or_else(
            || page::refused(l, StatusCode::NOT_FOUND, "没有这个账户。", "No such account."),
        )?;
    let Some(cert) = account.certification.as_mut().filter(|c| c.review.is_pending()) else {
        return Ok(Redirect::to("/portal/admin").into_response());
    };
    cert.review = review.clone();
    let company = cert.company.clone();
    portal.db.put(account_key(&phone), &account).map_err(|e| failure(l)(e.to_string()))?;
    let text = match &review {
        Review::Approved { .. } => format!(
            "【授权通信存证】您提交的企业认证（{company}）已通过审核，现在可以提交业务备案。"
        ),
        Review::Rejected { reason, .. } => {
            format!("【授权通信存证】您提交的企业认证（{company}）未通过审核：{reason}")
        }
        Review::Pending => unreachable!("a decision is not pending"),
    };
    portal.sms.send(&phone, &text).await.map_err(failure(l))?;
    audit(&state, &o.name, &format!("certification.{}", d.decision), &mask(&phone), &company);
    Ok(Redirect::to("/portal/admin").into_response())
}

/// `GET /portal/admin/filings/{id}`: an application in full.
pub async fn application(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(id): Path<String>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    let app: Application =
        portal.db.get(&application_key(&id)).map_err(|e| failure(l)(e.to_string()))?.ok_or_else(
            || page::refused(l, StatusCode::NOT_FOUND, "没有这个备案。", "No such filing."),
        )?;
    let account: Option<Account> =
        portal.db.get(&account_key(&app.phone)).map_err(|e| failure(l)(e.to_string()))?;
    let company = account
        .as_ref()
        .and_then(|a| a.certification.as_ref())
        .map(|c| c.company.clone())
        .unwrap_or_default();
    let file_link =
        |f: &FileRef| html! { a href={ "/portal/admin/files/" (f.sha256) } { (f.name) } };
    let body = html! {
        dl.facts #filing {
            dt { (l.t("编号", "Id")) } dd { (app.id) }
            dt { (l.t("企业", "Enterprise")) } dd { (company) " · " (mask(&app.phone)) }
            dt { (l.t("业务类型", "Business type")) } dd { (app.business_type) }
            dt { (l.t("授权协议模板", "Agreement")) } dd { (file_link(&app.agreement)) }
            dt { (l.t("话术/短信模板", "Scripts")) } dd { @for f in &app.scripts { (file_link(f)) " " } }
            dt { (l.t("呼叫频次", "Per day")) } dd { (app.daily_limit) }
            dt { (l.t("允许呼叫时段", "Hours")) } dd { (app.hours) }
            dt { (l.t("状态", "Status")) } dd #filing-status { (review_label(l, &app.review)) }
        }
        table.data #filing-numbers {
            thead { tr { th { (l.t("通信类型", "Channel")) } th { (l.t("号码类型", "Type")) } th { (l.t("企业号码", "Number")) } th { (l.t("运营商名称", "Carrier")) } } }
            tbody { @for n in &app.numbers { tr { td { (n.comm_type.as_str()) } td { (n.number_type) } td { (n.number) } td { (n.carrier) } } } }
        }
        @if app.review.is_pending() {
            form.inline method="post" action={ "/portal/admin/filings/" (app.id) } id="filing-review" {
                (csrf(&o.visitor))
                input type="text" name="reason" id="reason" placeholder=(l.t("驳回原因", "Reason to reject"));
                button type="submit" name="decision" value="approve" id="approve-filing" { (l.t("通过并上链", "Approve on the chain")) }
                button type="submit" name="decision" value="reject" id="reject-filing" { (l.t("驳回", "Reject")) }
            }
        }
    };
    Ok(o.page(portal, "/portal/admin", l.t("备案审核", "Filing review"), body))
}

/// `POST /portal/admin/filings/{id}`: an approval becomes operator transactions (the client's
/// registration with a new key when the enterprise has none yet, then the filing), answered
/// once committed; a rejection is sent by SMS with its reason.
pub async fn review_filing(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(id): Path<String>,
    Form(d): Form<Decision>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    o.visitor.check_csrf(&d._csrf)?;
    let review = d.review(&o.name, l)?;
    let mut app: Application =
        portal.db.get(&application_key(&id)).map_err(|e| failure(l)(e.to_string()))?.ok_or_else(
            || page::refused(l, StatusCode::NOT_FOUND, "没有这个备案。", "No such filing."),
        )?;
    if !app.review.is_pending() {
        return Ok(Redirect::to(&format!("/portal/admin/filings/{id}")).into_response());
    }
    let mut account: Account = portal
        .db
        .get(&account_key(&app.phone))
        .map_err(|e| failure(l)(e.to_string()))?
        .ok_or_else(|| page::failure(l, "filing of a deleted account"))?;
    let text = match &review {
        Review::Approved { .. } => {
            let keys =
                state.operator.as_ref().ok_or_else(|| page::failure(l, "no operator keys"))?;
            let hours = app.hours.parse().map_err(|e| page::failure(l, &format!("hours: {e}")))?;
            let mut filing = Filing {
                filing_id: app.id.clone(),
                channels: app.channels.clone(),
                business_type: app.business_type.clone(),
                hours,
                daily_limit: app.daily_limit,
                numbers: app.numbers.clone(),
            };
            filing.normalize();
            if let Err(e) = filing.validate() {
                return Err(page::refused_text(
                    l,
                    &format!("{}: {e}", l.t("备案内容无效", "The filing is not valid")),
                ));
            }
            let mut actions = Vec::new();
            let client_id = match &account.client_id {
                Some(c) => c.clone(),
                None => {
                    let client_id = generate_client_id();
                    let (key_nonce, key_ciphertext) =
                        keys.secret.seal(&client_id, &generate_client_key());
                    actions.push(OperatorAction::RegisterClient {
                        client_id: client_id.clone(),
                        key_nonce,
                        key_ciphertext,
                    });
                    client_id
                }
            };
            actions.push(OperatorAction::ApproveFiling { client_id: client_id.clone(), filing });
            let height = commit_operator_txs(&state, keys, actions).await.map_err(|e| {
                page::refused_text(l, &format!("{}: {e}", l.t("上链失败", "The chain refused it")))
            })?;
            app.block_height = Some(height);
            if account.client_id.is_none() {
                account.client_id = Some(client_id.clone());
                account.key_shown = false;
            }
            format!("【授权通信存证】您的业务备案 {} 已通过审核，请登录平台查看接口凭证 client_id 与 client_key。", app.id)
        }
        Review::Rejected { reason, .. } => {
            format!("【授权通信存证】您的业务备案 {} 未通过审核：{reason}", app.id)
        }
        Review::Pending => unreachable!("a decision is not pending"),
    };
    app.review = review;
    portal
        .db
        .write(vec![
            (application_key(&app.id), Some(super::data::to_json(&app))),
            (account_key(&app.phone), Some(super::data::to_json(&account))),
        ])
        .map_err(|e| failure(l)(e.to_string()))?;
    portal.sms.send(&app.phone, &text).await.map_err(failure(l))?;
    audit(
        &state,
        &o.name,
        &format!("filing.{}", d.decision),
        &app.id,
        &account.client_id.unwrap_or_default(),
    );
    Ok(Redirect::to(&format!("/portal/admin/filings/{id}")).into_response())
}

/// `GET /portal/admin/enterprises` (企业管理).
pub async fn enterprises(State(state): State<Arc<AppState>>, o: Operator) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    let list = accounts(portal).map_err(failure(l))?;
    let body = html! {
        table.data #enterprises {
            thead { tr { th { (l.t("企业", "Company")) } th { (l.t("手机号", "Number")) } th { (l.t("认证", "Certification")) } th { "client_id" } th { (l.t("状态", "Status")) } th {} } }
            tbody { @for a in &list {
                @let entry = a.client_id.as_deref().and_then(|c| state.chain.client(c));
                tr {
                    td { (a.certification.as_ref().map(|c| c.company.as_str()).unwrap_or("—")) }
                    td { (mask(&a.phone)) }
                    td { @if let Some(c) = &a.certification { (review_label(l, &c.review)) } }
                    td { code { (a.client_id.as_deref().unwrap_or("—")) } }
                    td { @if let Some(e) = &entry { @if let Some(r) = &e.suspended { span.status.rejected { (l.t("已暂停", "Suspended")) } " " (r) } @else { span.status.approved { (l.t("正常", "Active")) } } } }
                    td { @if let (Some(client), Some(e)) = (&a.client_id, &entry) {
                        form.inline method="post" action={ "/portal/admin/enterprises/" (client) } {
                            (csrf(&o.visitor))
                            @if e.suspended.is_some() {
                                button type="submit" name="decision" value="reinstate" { (l.t("恢复", "Reinstate")) }
                            } @else {
                                input type="text" name="reason" placeholder=(l.t("暂停原因", "Reason")) required;
                                button type="submit" name="decision" value="suspend" { (l.t("暂停", "Suspend")) }
                            }
                        }
                    } }
                }
            } }
        }
    };
    Ok(o.page(portal, "/portal/admin/enterprises", l.t("企业管理", "Enterprises"), body))
}

/// `POST /portal/admin/enterprises/{client_id}`: suspends or reinstates on the chain.
pub async fn suspend(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(client_id): Path<String>,
    Form(d): Form<Decision>,
) -> Page {
    let l = o.visitor.lang;
    o.visitor.check_csrf(&d._csrf)?;
    let keys = state.operator.as_ref().ok_or_else(|| page::failure(l, "no operator keys"))?;
    if state.chain.client(&client_id).is_none() {
        return Err(page::refused(l, StatusCode::NOT_FOUND, "没有这个客户端。", "No such client."));
    }
    let action = match d.decision.as_str() {
        "suspend" if !d.reason.trim().is_empty() => OperatorAction::SuspendClient {
            client_id: client_id.clone(),
            reason: d.reason.trim().into(),
        },
        "reinstate" => OperatorAction::ReinstateClient { client_id: client_id.clone() },
        _ => {
            return Err(page::refused(
                l,
                StatusCode::BAD_REQUEST,
                "暂停时必须填写原因。",
                "A suspension needs a reason.",
            ))
        }
    };
    commit_operator_txs(&state, keys, vec![action])
        .await
        .map_err(|e| page::refused_text(l, &e.to_string()))?;
    audit(&state, &o.name, &format!("client.{}", d.decision), &client_id, d.reason.trim());
    Ok(Redirect::to("/portal/admin/enterprises").into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ComplaintForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    description: String,
}

/// `YYYY-MM-DDTHH:MM` in Beijing time, as a datetime-local input sends it.
fn beijing_datetime(s: &str) -> Option<u64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let day = cunzheng_types::compliance::day_of_date(
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    )?;
    let (h, m) = time.split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
    (h < 24 && m < 60)
        .then(|| cunzheng_types::compliance::beijing_midnight(day) + h * 3600 + m * 60)
}

fn complaints_page(
    state: &AppState,
    o: &Operator,
    f: &ComplaintForm,
    errors: &FieldErrors,
) -> Result<maud::Markup, Response> {
    let portal = portal(state)?;
    let l = o.visitor.lang;
    let mut list: Vec<Complaint> = portal.db.scan("cmp/").map_err(|e| failure(l)(e.to_string()))?;
    list.sort_by_key(|c| std::cmp::Reverse(c.opened_ms));
    let clients: Vec<(String, String)> = accounts(portal)
        .map_err(failure(l))?
        .into_iter()
        .filter_map(|a| {
            Some((a.client_id?, a.certification.map(|c| c.company).unwrap_or_default()))
        })
        .collect();
    Ok(html! {
        h2 { (l.t("登记投诉", "New complaint")) }
        form.card method="post" action="/portal/admin/complaints" id="complaint-form" {
            (csrf(&o.visitor))
            (row(l.t("投诉人号码", "Complainant's number"), "phone", input("phone", "tel", &f.phone, true), None, errors))
            (row(l.t("发生时间（北京时间）", "When (Beijing time)"), "time", input("time", "datetime-local", &f.time, true), None, errors))
            (row(l.t("渠道", "Channel"), "channel", html! {
                select id="channel" name="channel" {
                    option value="voice" selected[f.channel != "sms"] { (l.t("语音", "Voice")) }
                    option value="sms" selected[f.channel == "sms"] { (l.t("短信", "SMS")) }
                }
            }, None, errors))
            (row(l.t("被投诉企业", "Enterprise"), "client_id", html! {
                select id="client_id" name="client_id" required {
                    option value="" { (l.t("请选择", "Please select")) }
                    @for (id, company) in &clients { option value=(id) selected[f.client_id == *id] { (company) " (" (id) ")" } }
                }
            }, None, errors))
            (row(l.t("投诉内容", "Description"), "description", html! { textarea id="description" name="description" rows="3" required { (f.description) } }, None, errors))
            button type="submit" id="open-complaint" { (l.t("登记并派发", "Open and route")) }
        }
        h2 { (l.t("全部工单", "All complaints")) }
        table.data #all-complaints {
            thead { tr { th { (l.t("编号", "Id")) } th { (l.t("企业", "Client")) } th { (l.t("号码", "Number")) } th { (l.t("时间", "When")) } th { (l.t("状态", "Status")) } } }
            tbody { @for c in &list { tr {
                td { a href={ "/portal/admin/complaints/" (c.id) } { (c.id) } } td { (c.client_id) } td { (c.phone_masked) }
                td { (beijing_time(c.time)) } td { (complaint_status(l, c)) }
            } } }
        }
    })
}

/// `GET /portal/admin/complaints` (投诉工单): intake and the list.
pub async fn complaints(State(state): State<Arc<AppState>>, o: Operator) -> Page {
    let portal = portal(&state)?;
    let body = complaints_page(&state, &o, &ComplaintForm::default(), &FieldErrors::new())?;
    Ok(o.page(portal, "/portal/admin/complaints", o.visitor.lang.t("投诉工单", "Complaints"), body))
}

/// `POST /portal/admin/complaints`: opens a complaint and routes it to the enterprise's client.
pub async fn open_complaint(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Form(f): Form<ComplaintForm>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    o.visitor.check_csrf(&f._csrf)?;
    let mut errors = FieldErrors::new();
    let phone = f.phone.trim();
    if !(5..=20).contains(&phone.len()) || !phone.bytes().all(|b| b.is_ascii_digit()) {
        errors.insert("phone", l.t("请输入号码（数字）", "Enter the number (digits)").into());
    }
    let time = beijing_datetime(&f.time);
    if time.is_none() {
        errors.insert("time", l.t("请选择时间", "Choose a time").into());
    }
    if state.chain.client(&f.client_id).is_none() {
        errors.insert("client_id", l.t("请选择企业", "Choose an enterprise").into());
    }
    let description = f.description.trim();
    if description.is_empty() || description.chars().count() > 2000 {
        errors.insert(
            "description",
            l.t(
                "请填写投诉内容（2000 字以内）",
                "Describe the complaint (at most 2000 characters)",
            )
            .into(),
        );
    }
    let (Some(time), true) = (time, errors.is_empty()) else {
        let body = complaints_page(&state, &o, &f, &errors)?;
        return Ok(o.page(portal, "/portal/admin/complaints", l.t("投诉工单", "Complaints"), body));
    };
    let mut id = [0u8; 5];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let complaint = Complaint {
        id: format!("C{}", hex::encode_upper(id)),
        client_id: f.client_id.clone(),
        phone_md5: hex::encode_upper(Md5::digest(phone.as_bytes())),
        phone_masked: mask(phone),
        time,
        channel: if f.channel == "sms" { Channel::Sms } else { Channel::Voice },
        description: description.into(),
        opened_by: o.name.clone(),
        opened_ms: unix_now_ms(),
        answer: None,
        closed: None,
    };
    portal
        .db
        .put(complaint_key(&complaint.id), &complaint)
        .map_err(|e| failure(l)(e.to_string()))?;
    audit(&state, &o.name, "complaint.open", &complaint.id, &complaint.client_id);
    Ok(Redirect::to(&format!("/portal/admin/complaints/{}", complaint.id)).into_response())
}

/// `GET /portal/admin/complaints/{id}`.
pub async fn complaint(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(id): Path<String>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    let c: Complaint =
        portal.db.get(&complaint_key(&id)).map_err(|e| failure(l)(e.to_string()))?.ok_or_else(
            || page::refused(l, StatusCode::NOT_FOUND, "没有这个工单。", "No such complaint."),
        )?;
    let records = matching_records(portal, &c).await.map_err(failure(l))?;
    let body = html! {
        (complaint_view(l, &c, &records, "/portal/admin/files/", "/portal/admin/records/"))
        @if c.closed.is_none() {
            form.inline method="post" action={ "/portal/admin/complaints/" (c.id) } {
                (csrf(&o.visitor))
                button type="submit" id="close-complaint" { (l.t("办结", "Close")) }
            }
        }
    };
    Ok(o.page(portal, "/portal/admin/complaints", l.t("工单详情", "Complaint"), body))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

/// `POST /portal/admin/complaints/{id}`: closes it.
pub async fn close_complaint(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    o.visitor.check_csrf(&f._csrf)?;
    let mut c: Complaint =
        portal.db.get(&complaint_key(&id)).map_err(|e| failure(l)(e.to_string()))?.ok_or_else(
            || page::refused(l, StatusCode::NOT_FOUND, "没有这个工单。", "No such complaint."),
        )?;
    if c.closed.is_none() {
        c.closed = Some((o.name.clone(), unix_now_ms()));
        portal.db.put(complaint_key(&id), &c).map_err(|e| failure(l)(e.to_string()))?;
        audit(&state, &o.name, "complaint.close", &id, &c.client_id);
    }
    Ok(Redirect::to(&format!("/portal/admin/complaints/{id}")).into_response())
}

/// `GET /portal/admin/files/{sha}`: any stored file that an account, filing or answer names.
pub async fn file_download(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(sha): Path<String>,
) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    let mut files: Vec<FileRef> = accounts(portal)
        .map_err(failure(l))?
        .into_iter()
        .filter_map(|a| a.certification.map(|c| c.licence))
        .collect();
    for a in portal.db.scan::<Application>("app/").map_err(|e| failure(l)(e.to_string()))? {
        files.push(a.agreement);
        files.extend(a.scripts);
    }
    for c in portal.db.scan::<Complaint>("cmp/").map_err(|e| failure(l)(e.to_string()))? {
        files.extend(c.answer.into_iter().flat_map(|a| a.evidence));
    }
    match files.iter().find(|f| f.sha256 == sha) {
        Some(f) => Ok(upload::serve(&portal.uploads, f)),
        None => Err(page::refused(l, StatusCode::NOT_FOUND, "没有这个文件。", "No such file.")),
    }
}

/// `GET /portal/admin/records/{id}/{proof|certificate|certificate.pdf}`: any record.
pub async fn record_evidence(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path((id, what)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Page {
    super::enterprise::evidence(state.clone(), o.visitor.lang, &id, None, &headers, &what).await
}

/// `GET /portal/admin/consortium` (联盟节点): members, head, last block, peers, pool.
pub async fn consortium(State(state): State<Arc<AppState>>, o: Operator) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    let chain = &state.chain;
    let head = chain.head();
    let genesis = chain.genesis();
    let signers = crate::query::head_signers(&state);
    let connected: Option<Vec<String>> = state.members_connected.get().map(|f| f());
    let body = html! {
        dl.facts #consortium {
            dt { (l.t("链", "Chain")) } dd { (genesis.chain_id) }
            dt { (l.t("本节点", "This node")) } dd { (state.config.role) }
            dt { (l.t("高度", "Height")) } dd #height { (head.height) }
            dt { (l.t("最新区块", "Last block")) } dd { code { (head.hash) } }
            dt { (l.t("出块时间", "Block time")) } dd { (beijing_time(head.time / 1000)) }
            dt { (l.t("日志大小", "Log size")) } dd { (head.frontier.size) }
            dt { (l.t("交易池", "Pool")) } dd #pool { (chain.pool_len()) }
        }
        table.data #members {
            thead { tr { th { (l.t("成员", "Member")) } th { (l.t("签署最新区块", "Signed the head")) } th { (l.t("连接", "Connected")) } } }
            tbody { @for v in &genesis.validators { tr {
                td { (v.name) }
                td { @if signers.contains(&v.name) { "✓" } }
                td { @match &connected { Some(c) => { @if c.contains(&v.name) { "✓" } } None => { "—" } } }
            } } }
        }
    };
    Ok(o.page(portal, "/portal/admin/consortium", l.t("联盟节点", "Consortium"), body))
}

/// `GET /portal/admin/outbox` (development only): the messages the log sender kept.
pub async fn outbox(State(state): State<Arc<AppState>>, o: Operator) -> Page {
    let portal = portal(&state)?;
    let l = o.visitor.lang;
    if !portal.config.dev {
        return Err(page::refused(
            l,
            StatusCode::NOT_FOUND,
            "短信发件箱仅在开发模式可用。",
            "The SMS outbox exists in development mode only.",
        ));
    }
    let mut sent: Vec<Sent> = portal.db.scan("outbox/").map_err(|e| failure(l)(e.to_string()))?;
    sent.reverse();
    sent.truncate(200);
    let body = html! {
        (notice(l.t("开发模式：短信未真实发出，仅保存在此。", "Development: messages are kept here, not sent.")))
        table.data #outbox {
            thead { tr { th { (l.t("时间", "Time")) } th { (l.t("号码", "Number")) } th { (l.t("内容", "Text")) } } }
            tbody { @for s in &sent { tr { td { (beijing_time(s.at_ms / 1000)) } td.phone { (s.phone) } td.text { (s.text) } } } }
        }
    };
    Ok(o.page(portal, "/portal/admin/outbox", l.t("短信发件箱", "SMS outbox"), body))
}
