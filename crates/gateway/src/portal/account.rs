//! Enterprise accounts: registration by mobile number and SMS code, login, logout, and a
//! password reset by SMS code.

use std::sync::Arc;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use cunzheng_types::unix_now_ms;
use maud::html;
use rand::Rng;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::info;

use super::{
    checks::{self, mask},
    data::{account_key, code_key, session_key, Account, SmsCode, Subject},
    log_in,
    page::{self, csrf, input, notice, row, FieldErrors, Side},
    portal, Portal, Visitor,
};
use crate::AppState;

const CODE_MS: u64 = 10 * 60 * 1000;
const CODE_ATTEMPTS: u32 = 5;
const MINUTE: u64 = 60_000;

/// `/portal/`: where a visitor starts.
pub async fn home(visitor: Visitor) -> Response {
    match visitor.session.map(|s| s.subject) {
        Some(Subject::Enterprise { .. }) => Redirect::to("/portal/overview").into_response(),
        Some(Subject::Operator { .. }) => Redirect::to("/portal/admin").into_response(),
        None => Redirect::to("/portal/login").into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PhoneQuery {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    sent: Option<String>,
}

pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("argon2 hashes any password")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// The form that asks for a code, shared by registration and reset.
fn code_form(v: &Visitor, purpose: &str, phone: &str, errors: &FieldErrors) -> maud::Markup {
    let l = v.lang;
    html! {
        form.card method="post" action="/portal/sms-code" id="code-form" {
            (csrf(v))
            input type="hidden" name="purpose" value=(purpose);
            (row(l.t("手机号", "Mobile number"), "code_phone", input("code_phone", "tel", phone, true), None, errors))
            button type="submit" id="send-code" { (l.t("获取验证码", "Send code")) }
        }
    }
}

fn register_form(v: &Visitor, f: &AccountForm, errors: &FieldErrors, sent: bool) -> maud::Markup {
    let l = v.lang;
    html! {
        @if sent { (notice(l.t("验证码已发送，10 分钟内有效。", "A code was sent; it is valid for 10 minutes."))) }
        (code_form(v, "register", &f.phone, errors))
        form.card method="post" action="/portal/register" id="register-form" {
            (csrf(v))
            (row(l.t("手机号", "Mobile number"), "phone", input("phone", "tel", &f.phone, true), None, errors))
            (row(l.t("短信验证码", "SMS code"), "code", input("code", "text", "", true), None, errors))
            (row(l.t("密码", "Password"), "password", input("password", "password", "", true),
                Some(l.t("8 位以上，含字母和数字", "8 or more characters with letters and digits")), errors))
            (row(l.t("确认密码", "Repeat password"), "password2", input("password2", "password", "", true), None, errors))
            button type="submit" id="register" { (l.t("注册", "Register")) }
        }
        p { a href="/portal/login" { (l.t("已有账号？登录", "Have an account? Log in")) } }
    }
}

pub async fn register_page(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Query(q): Query<PhoneQuery>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    let f = AccountForm { phone: q.phone, ..Default::default() };
    let body = register_form(&v, &f, &FieldErrors::new(), q.sent.is_some());
    Ok(page::respond(portal, &v, Side::Public, "", v.lang.t("注册账号", "Register"), body))
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    code_phone: String,
}

/// `POST /portal/sms-code`: sends a code for registration or reset, rate limited per number
/// and per address.
pub async fn send_code(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Form(f): Form<CodeForm>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    v.check_csrf(&f._csrf)?;
    let l = v.lang;
    let purpose = if f.purpose == "reset" { "reset" } else { "register" };
    let phone = f.code_phone.trim().to_owned();
    let mut errors = FieldErrors::new();
    let exists = portal
        .db
        .get::<Account>(&account_key(&phone))
        .map_err(|e| page::failure(l, &e.to_string()))?
        .is_some();
    if !checks::mobile(&phone) {
        errors.insert(
            "code_phone",
            l.t("请输入 11 位手机号", "Enter an 11-digit mobile number").into(),
        );
    } else if purpose == "register" && exists {
        errors.insert(
            "code_phone",
            l.t("该手机号已注册", "This number is already registered").into(),
        );
    } else if !portal.limits.allow(format!("code/{phone}"), 1, MINUTE)
        || !portal.limits.allow(format!("code-hour/{phone}"), 5, 60 * MINUTE)
        || !portal.limits.allow(format!("code-ip/{}", v.client_ip), 20, 60 * MINUTE)
    {
        errors.insert(
            "code_phone",
            l.t("发送过于频繁，请稍后再试", "Too many codes; wait a minute").into(),
        );
    }
    if !errors.is_empty() {
        let form = AccountForm { phone, ..Default::default() };
        let (title, body) = match purpose {
            "reset" => (l.t("重置密码", "Reset password"), reset_form(&v, &form, &errors, false)),
            _ => (l.t("注册账号", "Register"), register_form(&v, &form, &errors, false)),
        };
        return Ok(page::respond(portal, &v, Side::Public, "", title, body));
    }
    // A reset code goes only to a registered number, but the answer is the same either way.
    if purpose == "register" || exists {
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
        let stored = SmsCode {
            code_sha256: hex::encode(Sha256::digest(code.as_bytes())),
            expires_ms: unix_now_ms() + CODE_MS,
            attempts: 0,
        };
        portal
            .db
            .put(code_key(&phone, purpose), &stored)
            .map_err(|e| page::failure(l, &e.to_string()))?;
        let text = format!("【授权通信存证】您的验证码是 {code}，10 分钟内有效。请勿告知他人。");
        portal.sms.send(&phone, &text).await.map_err(|e| page::failure(l, &e))?;
    }
    let to = match purpose {
        "reset" => format!("/portal/reset?phone={phone}&sent=1"),
        _ => format!("/portal/register?phone={phone}&sent=1"),
    };
    Ok(v.finish(portal, Redirect::to(&to).into_response()))
}

/// Checks and consumes a code; at most [`CODE_ATTEMPTS`] tries per code.
fn take_code(portal: &Portal, phone: &str, purpose: &str, code: &str) -> Result<bool, String> {
    let key = code_key(phone, purpose);
    let Some(mut stored) = portal.db.get::<SmsCode>(&key).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    if stored.expires_ms < unix_now_ms() || stored.attempts >= CODE_ATTEMPTS {
        portal.db.delete(key).map_err(|e| e.to_string())?;
        return Ok(false);
    }
    let given = hex::encode(Sha256::digest(code.trim().as_bytes()));
    if given == stored.code_sha256 {
        portal.db.delete(key).map_err(|e| e.to_string())?;
        return Ok(true);
    }
    stored.attempts += 1;
    portal.db.put(key, &stored).map_err(|e| e.to_string())?;
    Ok(false)
}

/// Checks the password pair of a registration or reset.
fn check_passwords(l: page::Lang, f: &AccountForm, errors: &mut FieldErrors) {
    if !checks::password(&f.password) {
        errors.insert(
            "password",
            l.t("密码需 8 位以上，含字母和数字", "At least 8 characters with letters and digits")
                .into(),
        );
    } else if f.password != f.password2 {
        errors.insert("password2", l.t("两次输入的密码不一致", "The passwords differ").into());
    }
}

pub async fn register(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Form(mut f): Form<AccountForm>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    v.check_csrf(&f._csrf)?;
    let l = v.lang;
    f.phone = f.phone.trim().to_owned();
    let mut errors = FieldErrors::new();
    let exists = portal
        .db
        .get::<Account>(&account_key(&f.phone))
        .map_err(|e| page::failure(l, &e.to_string()))?
        .is_some();
    if !checks::mobile(&f.phone) {
        errors.insert("phone", l.t("请输入 11 位手机号", "Enter an 11-digit mobile number").into());
    } else if exists {
        errors.insert("phone", l.t("该手机号已注册", "This number is already registered").into());
    }
    check_passwords(l, &f, &mut errors);
    if errors.is_empty()
        && !take_code(portal, &f.phone, "register", &f.code).map_err(|e| page::failure(l, &e))?
    {
        errors.insert("code", l.t("验证码错误或已过期", "The code is wrong or expired").into());
    }
    if !errors.is_empty() {
        let body = register_form(&v, &f, &errors, false);
        return Ok(page::respond(portal, &v, Side::Public, "", l.t("注册账号", "Register"), body));
    }
    let password = f.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| page::failure(l, &e.to_string()))?;
    let account = Account {
        phone: f.phone.clone(),
        password: hash,
        created_ms: unix_now_ms(),
        certification: None,
        client_id: None,
        key_shown: false,
    };
    portal.db.put(account_key(&f.phone), &account).map_err(|e| page::failure(l, &e.to_string()))?;
    info!(target: "portal", phone = %mask(&f.phone), "enterprise account registered");
    Ok(log_in(portal, &v, Subject::Enterprise { phone: f.phone }, "/portal/account"))
}

fn login_form(v: &Visitor, phone: &str, errors: &FieldErrors) -> maud::Markup {
    let l = v.lang;
    html! {
        form.card method="post" action="/portal/login" id="login-form" {
            (csrf(v))
            (row(l.t("手机号", "Mobile number"), "phone", input("phone", "tel", phone, true), None, errors))
            (row(l.t("密码", "Password"), "password", input("password", "password", "", true), None, errors))
            button type="submit" id="login" { (l.t("登录", "Log in")) }
        }
        p {
            a href="/portal/register" { (l.t("注册账号", "Register")) } " · "
            a href="/portal/reset" { (l.t("忘记密码", "Forgot password")) } " · "
            a href="/portal/admin/login" { (l.t("运营方登录", "Operator login")) }
        }
    }
}

pub async fn login_page(
    State(state): State<Arc<AppState>>,
    v: Visitor,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    let body = login_form(&v, "", &FieldErrors::new());
    Ok(page::respond(portal, &v, Side::Public, "", v.lang.t("企业登录", "Enterprise login"), body))
}

/// `POST /portal/login`: at most 5 failures per number and 30 per address in 15 minutes.
pub async fn login(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Form(f): Form<AccountForm>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    v.check_csrf(&f._csrf)?;
    let l = v.lang;
    let phone = f.phone.trim().to_owned();
    let limited = |errors: &mut FieldErrors| {
        errors.insert(
            "password",
            l.t("尝试次数过多，请 15 分钟后再试", "Too many attempts; try again in 15 minutes")
                .into(),
        );
    };
    let mut errors = FieldErrors::new();
    let (phone_key, ip_key) = (format!("login/{phone}"), format!("login-ip/{}", v.client_ip));
    if !portal.limits.allow(phone_key.clone(), 5, 15 * MINUTE)
        || !portal.limits.allow(ip_key, 30, 15 * MINUTE)
    {
        limited(&mut errors);
    } else {
        let account = portal
            .db
            .get::<Account>(&account_key(&phone))
            .map_err(|e| page::failure(l, &e.to_string()))?;
        let password = f.password.clone();
        let ok = tokio::task::spawn_blocking(move || match account {
            Some(a) => verify_password(&password, &a.password),
            None => {
                // As slow as a real check, so that timing does not tell who is registered.
                verify_password(&password, &hash_password("not an account"));
                false
            }
        })
        .await
        .map_err(|e| page::failure(l, &e.to_string()))?;
        if ok {
            portal.limits.clear(&phone_key);
            info!(target: "portal", phone = %mask(&phone), "enterprise logged in");
            return Ok(log_in(portal, &v, Subject::Enterprise { phone }, "/portal/overview"));
        }
        errors.insert("password", l.t("手机号或密码错误", "Wrong number or password").into());
    }
    let body = login_form(&v, &phone, &errors);
    Ok(page::respond(portal, &v, Side::Public, "", l.t("企业登录", "Enterprise login"), body))
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    _csrf: String,
}

/// `POST /portal/logout`: ends the session on the server and clears the cookie.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    v.check_csrf(&f._csrf)?;
    portal.db.delete(session_key(&v.cookie)).map_err(|e| page::failure(v.lang, &e.to_string()))?;
    let mut response = Redirect::to("/portal/login").into_response();
    let cookie = v.cookie_header(portal, "", 0);
    response.headers_mut().append(axum::http::header::SET_COOKIE, cookie.parse().expect("ascii"));
    Ok(response)
}

fn reset_form(v: &Visitor, f: &AccountForm, errors: &FieldErrors, sent: bool) -> maud::Markup {
    let l = v.lang;
    html! {
        @if sent { (notice(l.t("如该手机号已注册，验证码已发送。", "If the number is registered, a code was sent."))) }
        (code_form(v, "reset", &f.phone, errors))
        form.card method="post" action="/portal/reset" id="reset-form" {
            (csrf(v))
            (row(l.t("手机号", "Mobile number"), "phone", input("phone", "tel", &f.phone, true), None, errors))
            (row(l.t("短信验证码", "SMS code"), "code", input("code", "text", "", true), None, errors))
            (row(l.t("新密码", "New password"), "password", input("password", "password", "", true), None, errors))
            (row(l.t("确认密码", "Repeat password"), "password2", input("password2", "password", "", true), None, errors))
            button type="submit" id="reset" { (l.t("重置密码", "Reset password")) }
        }
    }
}

pub async fn reset_page(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Query(q): Query<PhoneQuery>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    let f = AccountForm { phone: q.phone, ..Default::default() };
    let body = reset_form(&v, &f, &FieldErrors::new(), q.sent.is_some());
    Ok(page::respond(portal, &v, Side::Public, "", v.lang.t("重置密码", "Reset password"), body))
}

/// `POST /portal/reset`: a new password with a reset code; every session of the account ends.
pub async fn reset(
    State(state): State<Arc<AppState>>,
    v: Visitor,
    Form(mut f): Form<AccountForm>,
) -> Result<Response, Response> {
    let portal = portal(&state)?;
    v.check_csrf(&f._csrf)?;
    let l = v.lang;
    f.phone = f.phone.trim().to_owned();
    let mut errors = FieldErrors::new();
    check_passwords(l, &f, &mut errors);
    let account = portal
        .db
        .get::<Account>(&account_key(&f.phone))
        .map_err(|e| page::failure(l, &e.to_string()))?;
    let valid = errors.is_empty()
        && account.is_some()
        && take_code(portal, &f.phone, "reset", &f.code).map_err(|e| page::failure(l, &e))?;
    match (valid, account) {
        (true, Some(mut account)) => {
            let password = f.password.clone();
            account.password = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| page::failure(l, &e.to_string()))?;
            let mut changes = vec![(account_key(&f.phone), Some(super::data::to_json(&account)))];
            changes.extend(sessions_of(portal, &f.phone).into_iter().map(|k| (k, None)));
            portal.db.write(changes).map_err(|e| page::failure(l, &e.to_string()))?;
            info!(target: "portal", phone = %mask(&f.phone), "password reset");
            Ok(v.finish(portal, Redirect::to("/portal/login").into_response()))
        }
        _ => {
            if errors.is_empty() {
                errors.insert(
                    "code",
                    l.t("验证码错误或已过期", "The code is wrong or expired").into(),
                );
            }
            let body = reset_form(&v, &f, &errors, false);
            Ok(page::respond(portal, &v, Side::Public, "", l.t("重置密码", "Reset password"), body))
        }
    }
}

/// The keys of the sessions an enterprise holds.
fn sessions_of(portal: &Portal, phone: &str) -> Vec<String> {
    let subject = Subject::Enterprise { phone: phone.into() };
    portal
        .db
        .scan_keys::<super::data::Session>("sess/")
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, s)| s.subject == subject)
        .map(|(k, _)| k)
        .collect()
}
