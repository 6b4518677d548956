//! Page frames, languages, form pieces, the stylesheet and the script.

use std::collections::BTreeMap;

use axum::{
    extract::Path,
    http::{header, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use tracing::error;

use super::Visitor;

/// The portal's languages: Chinese first, English second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// The text in this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    fn code(self) -> &'static str {
        self.t("zh-CN", "en")
    }
}

/// `GET /portal/lang/{zh|en}`: remembers the language and goes back.
pub async fn set_lang(Path(lang): Path<String>, headers: axum::http::HeaderMap) -> Response {
    let value = if lang == "en" { "en" } else { "zh" };
    // Only a path on this site is followed back.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/portal").map(|i| r[i..].to_owned()))
        .filter(|p| !p.contains("//") && !p.contains('\\'))
        .unwrap_or_else(|| "/portal/".into());
    let mut response = Redirect::to(&back).into_response();
    let cookie = format!("cz_lang={value}; Path=/; SameSite=Lax; Max-Age=31536000");
    response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("ascii"));
    response
}

pub async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")],
        include_str!("static/portal.css"),
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("static/portal.js"),
    )
}

/// Which side's navigation a page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Public,
    Enterprise,
    Operator,
}

const ENTERPRISE_NAV: [(&str, &str, &str); 7] = [
    ("/portal/overview", "总览页", "Overview"),
    ("/portal/account", "账户信息", "Account"),
    ("/portal/filing", "业务备案", "Business filing"),
    ("/portal/records", "存证记录查询", "Records"),
    ("/portal/complaints", "工单处理", "Complaints"),
    ("/portal/reports", "报表统计", "Reports"),
    ("/portal/docs", "文档中心", "Documents"),
];

const OPERATOR_NAV: [(&str, &str, &str); 5] = [
    ("/portal/admin", "审核队列", "Review queues"),
    ("/portal/admin/enterprises", "企业管理", "Enterprises"),
    ("/portal/admin/complaints", "投诉工单", "Complaints"),
    ("/portal/admin/consortium", "联盟节点", "Consortium"),
    ("/portal/admin/outbox", "短信发件箱", "SMS outbox"),
];

/// A whole page: the frame, the side's navigation, and `body`.
pub fn frame(v: &Visitor, side: Side, active: &str, title: &str, body: Markup) -> Markup {
    let l = v.lang;
    let heading = match side {
        Side::Operator => l.t(
            "授权通信存证管理平台（运营端）",
            "Authorized Communication Evidence Platform (operator)",
        ),
        _ => l.t(
            "授权通信存证管理平台（企业端）",
            "Authorized Communication Evidence Platform (enterprise)",
        ),
    };
    let nav: Vec<(&str, &str)> = match side {
        Side::Public => Vec::new(),
        Side::Enterprise => {
            ENTERPRISE_NAV.iter().map(|(href, zh, en)| (*href, l.t(zh, en))).collect()
        }
        Side::Operator => OPERATOR_NAV.iter().map(|(href, zh, en)| (*href, l.t(zh, en))).collect(),
    };
    let logout = match side {
        Side::Public => None,
        _ => Some("/portal/logout"),
    };
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (heading) }
                link rel="stylesheet" href="/portal/static/portal.css";
                script src="/portal/static/portal.js" defer {}
            }
            body {
                header.top {
                    span.brand { (heading) }
                    nav.tools {
                        a href="/portal/lang/zh" { "中文" } " | " a href="/portal/lang/en" { "English" }
                        @if let Some(action) = logout {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                button.link type="submit" id="logout" { (l.t("退出登录", "Log out")) }
                            }
                        }
                    }
                }
                div.layout {
                    @if !nav.is_empty() {
                        nav.side {
                            @for (href, label) in &nav {
                                a href=(href) class=[(*href == active).then_some("active")] { (label) }
                            }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
    }
}

/// A page as a response, with the visitor's cookie when new.
pub fn respond(
    portal: &super::Portal,
    v: &Visitor,
    side: Side,
    active: &str,
    title: &str,
    body: Markup,
) -> Response {
    v.finish(portal, Html(frame(v, side, active, title, body).into_string()).into_response())
}

/// A page that refuses the request.
pub fn refused(l: Lang, status: StatusCode, zh: &'static str, en: &'static str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head { meta charset="utf-8"; title { (l.t("无法访问", "Refused")) } link rel="stylesheet" href="/portal/static/portal.css"; }
            body { main { h1 { (l.t("无法访问", "Refused")) } p.error { (l.t(zh, en)) } p { a href="/portal/" { (l.t("返回首页", "Back")) } } } }
        }
    };
    (status, Html(body.into_string())).into_response()
}

/// A page that refuses the request with a text made at run time.
pub fn refused_text(l: Lang, text: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head { meta charset="utf-8"; title { (l.t("无法完成", "Not done")) } link rel="stylesheet" href="/portal/static/portal.css"; }
            body { main { h1 { (l.t("无法完成", "Not done")) } p.error #error { (text) } p { a href="javascript:history.back()" { (l.t("返回", "Back")) } } } }
        }
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Html(body.into_string())).into_response()
}

/// A page for an internal failure; the detail goes to the log, not to the visitor.
pub fn failure(l: Lang, detail: &str) -> Response {
    error!(target: "portal", detail, "portal request failed");
    refused(
        l,
        StatusCode::INTERNAL_SERVER_ERROR,
        "系统繁忙，请稍后重试。",
        "Something failed on our side; try again later.",
    )
}

/// Errors of a submitted form, by field name.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// A labelled form row: the control, a hint, and the field's error beside it.
pub fn row(
    label: &str,
    name: &str,
    control: Markup,
    hint: Option<&str>,
    errors: &FieldErrors,
) -> Markup {
    let error = errors.get(name);
    html! {
        div.row class=[error.map(|_| "invalid")] {
            label for=(name) { (label) }
            div.control {
                (control)
                @if let Some(h) = hint { small.hint { (h) } }
                @if let Some(e) = error { div.field-error id={ (name) "-error" } role="alert" { (e) } }
            }
        }
    }
}

/// A text input with its previous value.
pub fn input(name: &str, kind: &str, value: &str, required: bool) -> Markup {
    html! { input id=(name) name=(name) type=(kind) value=(value) required[required]; }
}

/// The hidden CSRF field of a form.
pub fn csrf(v: &Visitor) -> Markup {
    html! { input type="hidden" name="_csrf" value=(v.csrf); }
}

/// A notice above a page's content.
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// A bar chart of labelled series, drawn as inline SVG.
pub fn bar_chart(labels: &[String], series: &[(&str, &str, Vec<u64>)]) -> Markup {
    let max = series.iter().flat_map(|s| s.2.iter()).copied().max().unwrap_or(0).max(1);
    let (w, h, pad) = (720.0_f64, 220.0_f64, 30.0_f64);
    let groups = labels.len().max(1) as f64;
    let group_w = (w - pad) / groups;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
    html! {
        svg.chart viewBox={ "0 0 " (w) " " (h + 20.0) } role="img" {
            line x1=(pad) y1=(h) x2=(w) y2=(h) stroke="#999" {}
            text x="0" y="12" font-size="11" { (max) }
            @for (i, label) in labels.iter().enumerate() {
                @for (j, (_, color, values)) in series.iter().enumerate() {
                    @let v = values.get(i).copied().unwrap_or(0);
                    @let bh = (v as f64 / max as f64) * (h - 20.0);
                    rect x=(format!("{:.1}", pad + i as f64 * group_w + j as f64 * bar_w))
                        y=(format!("{:.1}", h - bh)) width=(format!("{bar_w:.1}"))
                        height=(format!("{bh:.1}")) fill=(color) {
                        title { (label) ": " (v) }
                    }
                }
                @if labels.len() <= 12 || i % 5 == 0 {
                    text x=(format!("{:.1}", pad + i as f64 * group_w)) y=(h + 14.0) font-size="10" { (label) }
                }
            }
        }
        p.legend {
            @for (name, color, _) in series {
                span.swatch style={ "background:" (color) } {} (name) " "
            }
        }
    }
}

/// HTML written by hand for a page (the documents), embedded as it is.
pub fn trusted(html: &'static str) -> Markup {
    PreEscaped(html.to_owned())
}
