//! The web portal (授权通信存证管理平台): the enterprise side (account, certification, business
//! filing, overview, record search, complaints, reports, documents) and the operator side
//! (review queues, enterprises, complaints, consortium). Pages are rendered on the server;
//! the one script, served beside the stylesheet, hashes a phone number in the browser before
//! a search. Served only by nodes that hold the operator keys.
//!
//! Security: sessions are random tokens in an HttpOnly, SameSite=Strict cookie, stored hashed;
//! every form carries a CSRF token bound to the visitor's cookie; every route checks its role
//! through [`Enterprise`] or [`Operator`]; logins and text messages are rate limited; uploads
//! are checked by content and stored content-addressed outside any served folder.

// A refused request is an error page: handlers and their helpers return `Result<_, Response>`,
// the way axum composes them, whatever a response's size.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod checks;
mod data;
mod enterprise;
mod page;
pub mod sms;
mod upload;

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use axum::{
    extract::{DefaultBodyLimit, FromRequestParts},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use cunzheng_types::unix_now_ms;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::Sha256;

pub use self::sms::SmsConfig;
use self::{
    data::{session_key, Db, Session, Subject, Uploads},
    page::Lang,
    sms::SmsSender,
};
use crate::AppState;

/// Settings of the portal.
#[derive(Clone, Debug)]
pub struct PortalConfig {
    /// Where uploaded files are kept, by content hash.
    pub uploads: PathBuf,
    pub sms: SmsConfig,
    /// Development: the operator sees the SMS outbox.
    pub dev: bool,
    /// Mark cookies `Secure` (behind TLS).
    pub secure_cookies: bool,
    /// Operator staff log in with a name and this secret (the admin token).
    pub operator_secret: Option<String>,
}

/// Largest upload, per file.
pub const MAX_FILE_BYTES: usize = 10 << 20;
/// Largest number list.
pub const MAX_CSV_BYTES: usize = 2 << 20;
/// Largest portal request body.
const MAX_FORM_BYTES: usize = 32 << 20;
/// Sessions last this long after login.
const SESSION_MS: u64 = 12 * 3600 * 1000;
const COOKIE: &str = "cz_session";

/// What every portal handler shares, inside [`AppState`].
pub struct Portal {
    config: PortalConfig,
    db: Db,
    uploads: Uploads,
    sms: Box<dyn SmsSender>,
    csrf_key: [u8; 32],
    limits: Limits,
}

impl Portal {
    pub fn new(config: PortalConfig, store: cunzheng_store::ChainStore) -> Self {
        let db = Db::new(store);
        let sms = sms::sender(&config.sms, db.clone());
        let mut csrf_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut csrf_key);
        Portal {
            uploads: Uploads::new(config.uploads.clone()),
            config,
            db,
            sms,
            csrf_key,
            limits: Limits::default(),
        }
    }

    fn db_store(&self) -> &cunzheng_store::ChainStore {
        self.db.store()
    }

    /// The CSRF token of a visitor's cookie value.
    fn csrf_for(&self, cookie: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(cookie.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Sliding-window counters: logins, codes, uploads.
#[derive(Default)]
struct Limits {
    hits: Mutex<HashMap<String, Vec<u64>>>,
}

impl Limits {
    /// Counts one event under `key`; false once `max` happened within the last `window_ms`.
    fn allow(&self, key: String, max: usize, window_ms: u64) -> bool {
        let now = unix_now_ms();
        let mut hits = self.hits.lock();
        if hits.len() > 100_000 {
            hits.retain(|_, v| v.last().is_some_and(|t| now.saturating_sub(*t) < 3_600_000));
        }
        let times = hits.entry(key).or_default();
        times.retain(|t| now.saturating_sub(*t) < window_ms);
        if times.len() >= max {
            return false;
        }
        times.push(now);
        true
    }

    fn clear(&self, key: &str) {
        self.hits.lock().remove(key);
    }
}

/// Whoever is asking: their language, cookie, session and CSRF token.
pub struct Visitor {
    pub lang: Lang,
    /// The cookie value: a session token, or a fresh random value for a visitor not logged in.
    cookie: String,
    /// Set when the cookie must be (re)issued with the answer.
    new_cookie: bool,
    pub session: Option<Session>,
    pub csrf: String,
    pub client_ip: String,
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn portal(state: &AppState) -> Result<&Portal, Response> {
    state.portal.as_ref().ok_or_else(|| StatusCode::NOT_FOUND.into_response())
}

impl FromRequestParts<Arc<AppState>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let portal = portal(state)?;
        let mut lang = Lang::Zh;
        let mut cookie = None;
        for (k, v) in cookies(&parts.headers) {
            match k {
                "cz_lang" if v == "en" => lang = Lang::En,
                COOKIE if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    cookie = Some(v.to_owned())
                }
                _ => {}
            }
        }
        let session = match &cookie {
            Some(token) => {
                let key = session_key(token);
                let stored = portal
                    .db
                    .get::<Session>(&key)
                    .map_err(|e| page::failure(lang, &e.to_string()))?;
                match stored {
                    Some(s) if s.expires_ms > unix_now_ms() => Some(s),
                    Some(_) => {
                        // An expired session is deleted when it is next presented.
                        portal.db.delete(key).map_err(|e| page::failure(lang, &e.to_string()))?;
                        None
                    }
                    None => None,
                }
            }
            None => None,
        };
        let new_cookie = cookie.is_none();
        let cookie = cookie.unwrap_or_else(random_token);
        let client_ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<crate::listener::Peer>>()
            .map(|c| c.0 .0.ip().to_string())
            .unwrap_or_else(|| "local".into());
        Ok(Visitor { lang, csrf: portal.csrf_for(&cookie), cookie, new_cookie, session, client_ip })
    }
}

impl Visitor {
    /// The `Set-Cookie` value for this visitor's cookie.
    fn cookie_header(&self, portal: &Portal, value: &str, max_age_s: u64) -> String {
        let secure = if portal.config.secure_cookies { "; Secure" } else { "" };
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
    }

    /// Attaches the visitor's cookie to `response` if it was just made.
    pub fn finish(&self, portal: &Portal, mut response: Response) -> Response {
        if self.new_cookie {
            let value = self.cookie_header(portal, &self.cookie, SESSION_MS / 1000);
            if let Ok(v) = value.parse() {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// Checks a submitted CSRF token against this visitor's cookie, in constant time.
    pub fn check_csrf(&self, given: &str) -> Result<(), Response> {
        let ok = given.len() == self.csrf.len()
            && given.bytes().zip(self.csrf.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
        if ok && !self.new_cookie {
            Ok(())
        } else {
            Err(page::refused(
                self.lang,
                StatusCode::FORBIDDEN,
                "表单已过期，请刷新页面后重试。",
                "The form expired: reload the page and try again.",
            ))
        }
    }
}

/// Starts a session for `subject`: a new token (the old cookie value is dropped, so a token
/// planted before login is worthless) in a new cookie, and a redirect to `to`.
fn log_in(portal: &Portal, visitor: &Visitor, subject: Subject, to: &str) -> Response {
    let token = random_token();
    let session = Session { subject, expires_ms: unix_now_ms() + SESSION_MS };
    if let Err(e) = portal.db.put(session_key(&token), &session) {
        return page::failure(visitor.lang, &e.to_string());
    }
    let mut response = Redirect::to(to).into_response();
    let cookie = visitor.cookie_header(portal, &token, SESSION_MS / 1000);
    response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("ascii cookie"));
    response
}

/// The name `pick` takes from the visitor's session, with the visitor. A visitor without a
/// session is sent to `login`; one of the other role is refused.
fn require(
    visitor: Visitor,
    pick: fn(&Subject) -> Option<&String>,
    login: &str,
    refusal: (&'static str, &'static str),
) -> Result<(Visitor, String), Response> {
    let picked = visitor.session.as_ref().map(|s| pick(&s.subject).cloned());
    match picked {
        Some(Some(name)) => Ok((visitor, name)),
        Some(None) => Err(page::refused(visitor.lang, StatusCode::FORBIDDEN, refusal.0, refusal.1)),
        None => Err(Redirect::to(login).into_response()),
    }
}

/// An enterprise's session. Others are sent to the login page, operators refused.
pub struct Enterprise {
    pub visitor: Visitor,
    pub phone: String,
}

impl FromRequestParts<Arc<AppState>> for Enterprise {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let pick: fn(&Subject) -> Option<&String> = |s| match s {
            Subject::Enterprise { phone } => Some(phone),
            Subject::Operator { .. } => None,
        };
        let refusal = ("此页面仅对企业用户开放。", "This page is for enterprise users.");
        let (visitor, phone) = require(visitor, pick, "/portal/login", refusal)?;
        Ok(Enterprise { visitor, phone })
    }
}

impl Enterprise {
    /// A page of the enterprise side; `active` marks its entry in the navigation.
    pub fn page(&self, portal: &Portal, active: &str, title: &str, body: maud::Markup) -> Response {
        page::respond(portal, &self.visitor, page::Side::Enterprise, active, title, body)
    }
}

/// Operator staff's session. Others are sent to the operator login, enterprises refused.
pub struct Operator {
    pub visitor: Visitor,
    pub name: String,
}

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let pick: fn(&Subject) -> Option<&String> = |s| match s {
            Subject::Operator { name } => Some(name),
            Subject::Enterprise { .. } => None,
        };
        let refusal = ("此页面仅对运营方开放。", "This page is for operator staff.");
        let (visitor, name) = require(visitor, pick, "/portal/admin/login", refusal)?;
        Ok(Operator { visitor, name })
    }
}

impl Operator {
    /// A page of the operator side; `active` marks its entry in the navigation.
    pub fn page(&self, portal: &Portal, active: &str, title: &str, body: maud::Markup) -> Response {
        page::respond(portal, &self.visitor, page::Side::Operator, active, title, body)
    }
}

/// The portal's routes, under `/portal`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/portal", get(account::home))
        .route("/portal/", get(account::home))
        .route("/portal/static/portal.css", get(page::css))
        .route("/portal/static/portal.js", get(page::js))
        .route("/portal/lang/{lang}", get(page::set_lang))
        .route("/portal/register", get(account::register_page).post(account::register))
        .route("/portal/sms-code", post(account::send_code))
        .route("/portal/login", get(account::login_page).post(account::login))
        .route("/portal/logout", post(account::logout))
        .route("/portal/reset", get(account::reset_page).post(account::reset))
        .route("/portal/overview", get(enterprise::overview))
        .route("/portal/account", get(enterprise::account))
        .route("/portal/certification", post(enterprise::certify))
        .route("/portal/credentials/rotate", post(enterprise::rotate_key))
        .route("/portal/filing", get(enterprise::filing_page).post(enterprise::file))
        .route("/portal/filing/template.csv", get(enterprise::csv_template))
        .route("/portal/records", get(enterprise::records))
        .route("/portal/records/{id}/{what}", get(enterprise::record_evidence))
        .route("/portal/admin/records/{id}/{what}", get(admin::record_evidence))
        .route("/portal/complaints", get(enterprise::complaints))
        .route("/portal/complaints/{id}", get(enterprise::complaint).post(enterprise::answer))
        .route("/portal/reports", get(enterprise::reports))
        .route("/portal/reports.csv", get(enterprise::reports_csv))
        .route("/portal/docs", get(enterprise::docs))
        .route("/portal/files/{sha}", get(enterprise::file_download))
        .route("/portal/admin", get(admin::queues))
        .route("/portal/admin/login", get(admin::login_page).post(admin::login))
        .route("/portal/admin/certifications/{phone}", post(admin::review_certification))
        .route("/portal/admin/filings/{id}", get(admin::application).post(admin::review_filing))
        .route("/portal/admin/enterprises", get(admin::enterprises))
        .route("/portal/admin/enterprises/{client_id}", post(admin::suspend))
        .route("/portal/admin/complaints", get(admin::complaints).post(admin::open_complaint))
        .route("/portal/admin/complaints/{id}", get(admin::complaint).post(admin::close_complaint))
        .route("/portal/admin/files/{sha}", get(admin::file_download))
        .route("/portal/admin/consortium", get(admin::consortium))
        .route("/portal/admin/outbox", get(admin::outbox))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}
