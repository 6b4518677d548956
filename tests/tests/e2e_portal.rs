//! The portal's whole journey in headless Chromium, driven through chromedriver, on a real dev
//! node: an enterprise registers with an SMS code, certifies its company, files a business
//! with a number list; operator staff (a second browser) approve both; the enterprise reads
//! its credentials, deposits through the documented API, finds its records by phone number,
//! sees them in its report, opens a certificate and answers a complaint the operator routed to
//! it. Form errors are checked beside their fields. Every page is kept as a screenshot under
//! the target folder's `tmp/portal-screenshots`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use cunzheng_client::Client as ApiClient;
use cunzheng_e2e::{free_port, DevNode};
use cunzheng_types::{
    compliance::{beijing_day, civil_date},
    record::Endpoint,
    unix_now,
};
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use md5::{Digest, Md5};
use serde_json::{json, Value};

const ENTERPRISE_PHONE: &str = "13800138000";
const SUBSCRIBER: &str = "13912345678";

/// chromedriver on a loopback port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (scripts/install-deps.sh --test installs chromium-driver)");
        // Made first, so that dropping it stops chromedriver whatever happens next.
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }

    /// A new headless Chromium with its own profile (so its own cookies).
    async fn browser(&self, profile: &Path) -> Client {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser and where its screenshots go.
struct Tab {
    c: Client,
    api: String,
    shots: PathBuf,
    who: &'static str,
}

impl Tab {
    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.api)).await.unwrap();
    }

    async fn wait(&self, css: &str) -> Element {
        match self.c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let source = self.c.source().await.unwrap_or_default();
                panic!("{}: no {css} on {:?}: {e}\n{source}", self.who, self.c.current_url().await);
            }
        }
    }

    async fn find(&self, css: &str) -> Element {
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{}: {css}: {e}", self.who))
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    async fn attach(&self, css: &str, file: &Path) {
        self.find(css).await.send_keys(&file.display().to_string()).await.unwrap();
    }

    async fn set(&self, css: &str, value: &str) {
        let script = "document.querySelector(arguments[0]).value = arguments[1];";
        self.c.execute(script, vec![json!(css), json!(value)]).await.unwrap();
    }

    /// Clicks `button` and waits for `then` on the page that follows.
    async fn submit(&self, button: &str, then: &str) -> Element {
        self.find(button).await.click().await.unwrap();
        self.wait(then).await
    }

    /// Polls until `check` holds for the page, for a submit that comes back to the same page.
    async fn wait_until(&self, what: &str, check: impl Fn(&str, &str) -> bool) {
        for _ in 0..300 {
            let url = self.c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let source = self.c.source().await.unwrap_or_default();
            if check(&url, &source) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{}: {what} did not happen: {}", self.who, self.source().await);
    }

    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{}-{name}.png", self.who)), png).unwrap();
    }

    async fn source(&self) -> String {
        self.c.source().await.unwrap()
    }
}

fn md5_upper(s: &str) -> String {
    hex::encode_upper(Md5::digest(s.as_bytes()))
}

/// The files the journey uploads: the right kinds by content, and wrong ones.
struct Files {
    licence: PathBuf,
    fake_pdf: PathBuf,
    agreement: PathBuf,
    script: PathBuf,
    numbers: PathBuf,
    bad_numbers: PathBuf,
    evidence: PathBuf,
}

fn files(dir: &Path) -> Files {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    Files {
        licence: write("licence.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0"),
        fake_pdf: write("licence.pdf", b"MZ\x90\x00 not a document at all"),
        agreement: write("agreement.docx", b"PK\x03\x04\x14\0\0\0\x08\0word/document.xml<w:document/>"),
        script: write("script.pdf", pdf),
        numbers: write(
            "numbers.csv",
            "通信类型,号码类型,企业号码,运营商名称\n语音,固话,075512345678,中国电信\n短信,106,106900001111,中国移动\n"
                .as_bytes(),
        ),
        bad_numbers: write(
            "bad-numbers.csv",
            "通信类型,号码类型,企业号码,运营商名称\n语音,固话,075512345678,中国电信\n传真,固话,075500000000,中国电信\n短信,106,12ab,中国移动\n"
                .as_bytes(),
        ),
        evidence: write("evidence.pdf", pdf),
    }
}

/// The newest code the outbox shows for the enterprise's number.
async fn code_from_outbox(op: &Tab) -> String {
    op.goto("/portal/admin/outbox").await;
    op.wait("#outbox").await;
    let text = op.text("#outbox tbody tr td.text").await;
    let at = text.find("验证码是 ").expect("a code message") + "验证码是 ".len();
    text[at..at + 6].to_owned()
}

/// `YYYY-MM-DDTHH:MM`, Beijing time, a minute ago.
fn beijing_now_local() -> String {
    let t = unix_now() - 60;
    let (y, m, d) = civil_date(beijing_day(t));
    let s = (t + 8 * 3600) % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", s / 3600, s / 60 % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_browser_portal_journey_from_registration_to_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node")).unwrap();
    let api = node.credentials.api.clone();
    let admin_token = std::fs::read_to_string(node.data.join("admin.token")).unwrap();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let f = files(dir.path());

    let driver = Driver::start().await;
    let ent = Tab {
        c: driver.browser(&dir.path().join("profile-enterprise")).await,
        api: api.clone(),
        shots: shots.clone(),
        who: "enterprise",
    };
    let op = Tab {
        c: driver.browser(&dir.path().join("profile-operator")).await,
        api: api.clone(),
        shots: shots.clone(),
        who: "operator",
    };

    // Operator staff log in with the node's admin token.
    op.goto("/portal/admin/login").await;
    op.wait("#operator-login-form").await;
    op.shot("01-login").await;
    op.fill("#name", "审核员张三").await;
    op.fill("#secret", admin_token.trim()).await;
    op.submit("#operator-login", "nav.side").await;

    // Registration by SMS code.
    ent.goto("/portal/register").await;
    ent.wait("#code-form").await;
    ent.shot("01-register").await;
    ent.fill("#code_phone", ENTERPRISE_PHONE).await;
    ent.submit("#send-code", "p.notice").await;
    let code = code_from_outbox(&op).await;
    op.shot("02-outbox").await;
    ent.fill("#code", "000000").await;
    ent.fill("#password", "secret-pass-1").await;
    ent.fill("#password2", "secret-pass-1").await;
    // A wrong code is refused beside its field.
    if code != "000000" {
        ent.submit("#register", "#code-error").await;
        ent.fill("#code", &code).await;
        ent.fill("#password", "secret-pass-1").await;
        ent.fill("#password2", "secret-pass-1").await;
    }
    ent.fill("#code", &code).await;
    ent.submit("#register", "#certification-form").await;

    // Certification: a bad credit code and a file that is not an image or PDF are refused.
    ent.fill("#company", "深圳市示例科技有限公司").await;
    ent.fill("#credit_code", "91350100M000100Y44").await;
    ent.attach("#licence", &f.fake_pdf).await;
    ent.submit("#submit-certification", "#credit_code-error").await;
    assert!(ent.text("#credit_code-error").await.contains("校验位"));
    assert!(ent.text("#licence-error").await.contains("PNG"));
    ent.shot("02-certification-errors").await;
    ent.fill("#credit_code", "91350100M000100Y43").await;
    ent.attach("#licence", &f.licence).await;
    ent.submit("#submit-certification", "#certification-status").await;
    assert!(ent.text("#certification-status").await.contains("审核中"));
    ent.shot("03-certification-pending").await;

    // The operator approves it; the decision is sent by SMS.
    op.goto("/portal/admin").await;
    let review = format!("section.review[data-phone='{ENTERPRISE_PHONE}'] button.approve");
    op.wait(&review).await;
    op.shot("03-queue-certification").await;
    op.find(&review).await.click().await.unwrap();
    op.wait_until("the certification left the queue", |_, page| !page.contains("data-phone")).await;
    op.goto("/portal/admin/outbox").await;
    assert!(op.text("#outbox tbody tr td.text").await.contains("已通过审核"));

    // Business filing: a wrong agreement file and bad CSV rows are shown beside their fields.
    ent.goto("/portal/filing").await;
    ent.wait("#filing-form").await;
    ent.shot("04-filing-form").await;
    ent.find("#business_type").await.select_by_value("marketing").await.unwrap();
    ent.attach("#agreement", &f.fake_pdf).await;
    ent.attach("#scripts", &f.script).await;
    ent.fill("#daily_limit", "3").await;
    ent.fill("#hours", "0:00-24:00").await;
    ent.attach("#numbers", &f.bad_numbers).await;
    ent.submit("#submit-filing", "#csv-errors").await;
    assert!(ent.text("#agreement-error").await.contains(".docx"));
    let rows = ent.text("#csv-errors").await;
    assert!(rows.contains("通信类型") && rows.contains("企业号码"), "{rows}");
    assert_eq!(ent.c.find_all(Locator::Css("#csv-errors tbody tr")).await.unwrap().len(), 2);
    ent.shot("05-filing-errors").await;
    ent.find("#business_type").await.select_by_value("marketing").await.unwrap();
    ent.attach("#agreement", &f.agreement).await;
    ent.attach("#scripts", &f.script).await;
    ent.fill("#daily_limit", "3").await;
    ent.fill("#hours", "0:00-24:00").await;
    ent.attach("#numbers", &f.numbers).await;
    ent.submit("#submit-filing", "#applications").await;
    assert!(ent.text("#applications .app-status").await.contains("审核中"));

    // The operator approves the filing: it goes on the chain with the client's registration.
    op.goto("/portal/admin").await;
    op.wait("a.open-filing").await.click().await.unwrap();
    op.wait("#approve-filing").await;
    assert!(op.text("#filing-numbers").await.contains("075512345678"));
    op.shot("04-filing-review").await;
    op.find("#approve-filing").await.click().await.unwrap();
    op.wait("#filing-status .approved").await;

    // The credentials: the key in full once, then masked.
    ent.goto("/portal/account").await;
    ent.wait("#client-key").await;
    let client_id = ent.text("#credentials #client-id").await;
    let client_key = ent.text("#client-key").await;
    ent.shot("06-credentials").await;
    ent.goto("/portal/account").await;
    ent.wait("#client-key-masked").await;
    assert!(!ent.source().await.contains(&client_key));

    // Deposits through the documented API with those credentials.
    let client = ApiClient::new(&api, &client_id, &client_key);
    let now = unix_now();
    let phone = md5_upper(SUBSCRIBER);
    let deposits = [
        (
            "voice.consent",
            json!({"phone": phone, "deposit_hash": "consent001", "sign_time": now - 120}),
        ),
        (
            "voice.call",
            json!({"phone": phone, "from_num": "075512345678", "start_time": now - 60, "end_time": now - 30, "deposit_hash": "call001"}),
        ),
        (
            "sms.message",
            json!({"phone": md5_upper("13700000000"), "channel_num": "106900001111", "send_time": now - 50, "deposit_hash": "sms001"}),
        ),
    ];
    for (kind, record) in &deposits {
        let answer = client
            .deposit(Endpoint::from_kind(kind).unwrap(), std::slice::from_ref(record))
            .await
            .unwrap();
        assert_eq!(answer.code, 0, "{kind}: {}", answer.msg);
    }

    // The records, searched by phone number: only its MD5 leaves the browser.
    ent.goto("/portal/records").await;
    ent.wait("#search-form").await;
    ent.fill("#phone", SUBSCRIBER).await;
    ent.find("#search").await.click().await.unwrap();
    ent.wait_until("the search by phone", |url, _| url.contains("phone_md5=")).await;
    ent.wait("#records").await;
    let url = ent.c.current_url().await.unwrap().to_string();
    assert!(!url.contains(SUBSCRIBER) && url.contains(&phone.to_lowercase()), "{url}");
    let rows = ent.c.find_all(Locator::Css("#records tr.record")).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(ent.text("#records").await.contains("合规"));
    ent.shot("07-records").await;
    // The SMS to a subscriber who never consented carries its flag.
    ent.goto("/portal/records?flag=no_consent").await;
    ent.wait("#records").await;
    assert!(ent.text("#records").await.contains("sms001"));

    // A certificate of a found record.
    ent.goto(&format!("/portal/records?phone_md5={phone}&kind=voice.call")).await;
    ent.wait("#records a.certificate").await;
    let href = ent.find("#records a.certificate").await.attr("href").await.unwrap().unwrap();
    ent.goto(&href).await;
    ent.wait("body").await;
    let certificate = ent.source().await;
    assert!(
        certificate.contains(href.rsplit('/').next().unwrap()),
        "the certificate names its record: {href} {certificate}"
    );
    ent.shot("08-certificate").await;

    // Overview and report count today's deposits.
    ent.goto("/portal/overview").await;
    ent.wait("#overview-counts").await;
    ent.shot("09-overview").await;
    ent.goto("/portal/reports").await;
    ent.wait("#daily-report").await;
    let (y, m, d) = civil_date(beijing_day(now));
    let today = format!("{y:04}-{m:02}-{d:02}");
    let report = ent.text("#daily-report").await;
    let line = report.lines().find(|l| l.starts_with(&today)).expect("today's row").to_owned();
    assert_eq!(
        line.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["1", "1", "0", "0", "1", "0", "1"]
    );
    ent.shot("10-reports").await;

    // The operator routes a complaint; the enterprise sees it with the matching records.
    op.goto("/portal/admin/complaints").await;
    op.wait("#complaint-form").await;
    op.fill("#phone", SUBSCRIBER).await;
    op.set("#time", &beijing_now_local()).await;
    op.find("#client_id").await.select_by_value(&client_id).await.unwrap();
    op.fill("#description", "用户称未同意即接到营销电话").await;
    op.shot("05-complaint-intake").await;
    op.submit("#open-complaint", "#complaint").await;

    ent.goto("/portal/complaints").await;
    ent.wait("#complaints a").await.click().await.unwrap();
    ent.wait("#answer-form").await;
    assert_eq!(ent.c.find_all(Locator::Css("#records tr.record")).await.unwrap().len(), 2);
    ent.fill("#text", "该用户已于通话前签署授权协议，见附件及存证记录。").await;
    ent.attach("#evidence", &f.evidence).await;
    ent.submit("#submit-answer", "#answer-text").await;
    assert_eq!(ent.text("#complaint-status").await, "已答复");
    ent.shot("11-complaint-answered").await;

    op.goto("/portal/admin/complaints").await;
    op.wait("#all-complaints a").await.click().await.unwrap();
    op.wait("#answer-text").await;
    op.find("#close-complaint").await.click().await.unwrap();
    op.wait_until("the complaint closed", |_, page| page.contains("已办结")).await;
    op.shot("06-complaint-closed").await;

    // Documents, the consortium page, English, and the enterprise kept out of operator pages.
    ent.goto("/portal/docs").await;
    ent.wait("article.docs").await;
    assert!(ent.source().await.contains("client_token"));
    ent.shot("12-docs").await;
    op.goto("/portal/admin/consortium").await;
    op.wait("#consortium").await;
    op.shot("07-consortium").await;
    ent.goto("/portal/lang/en").await;
    ent.goto("/portal/overview").await;
    ent.wait("#overview-counts").await;
    assert!(ent.source().await.contains("Overview"));
    ent.shot("13-overview-en").await;
    ent.goto("/portal/admin").await;
    ent.wait("p.error").await;
    assert!(ent.text("p.error").await.contains("operator staff"));

    ent.c.close().await.unwrap();
    op.c.close().await.unwrap();
    eprintln!("screenshots in {}", shots.display());
    drop(node);
}
