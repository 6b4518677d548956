//! Text messages to enterprises: verification codes and review decisions. A sender is chosen
//! by configuration: the log sender keeps messages in the portal's outbox (development), the
//! HTTP sender posts them to an SMS provider. Neither writes a message's text to the log.

use std::sync::atomic::{AtomicU32, Ordering};

use cunzheng_types::unix_now_ms;
use tracing::info;

use super::{
    checks::mask,
    data::{outbox_key, Db, Sent},
};

/// How the portal sends text messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SmsConfig {
    /// Keep messages in the outbox; the operator sees them there when the node runs `--dev`.
    #[default]
    Log,
    /// POST each message to `url`, with `template` as the body after replacing `{phone}` and
    /// `{message}` by the JSON-escaped values (without their quotes).
    Http { url: String, template: String, content_type: String },
}

/// Sends one message; an error means the message was not accepted.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, phone: &str, text: &str) -> Result<(), String>;
}

/// Keeps messages in the outbox.
pub struct LogSender {
    db: Db,
}

impl LogSender {
    pub fn new(db: Db) -> Self {
        LogSender { db }
    }
}

#[async_trait::async_trait]
impl SmsSender for LogSender {
    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let at_ms = unix_now_ms();
        let sent = Sent { phone: phone.into(), text: text.into(), at_ms };
        self.db
            .put(outbox_key(at_ms, SEQ.fetch_add(1, Ordering::Relaxed)), &sent)
            .map_err(|e| e.to_string())?;
        info!(target: "portal", to = %mask(phone), "text message kept in the outbox");
        Ok(())
    }
}

/// Posts messages to an SMS provider.
pub struct HttpSender {
    http: reqwest::Client,
    url: String,
    template: String,
    content_type: String,
}

impl HttpSender {
    pub fn new(url: String, template: String, content_type: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("http client");
        HttpSender { http, url, template, content_type }
    }

    /// The request body for one message.
    pub fn body(&self, phone: &str, text: &str) -> String {
        let escape = |s: &str| {
            let quoted = serde_json::to_string(s).expect("strings serialize");
            quoted[1..quoted.len() - 1].to_owned()
        };
        self.template.replace("{phone}", &escape(phone)).replace("{message}", &escape(text))
    }
}

#[async_trait::async_trait]
impl SmsSender for HttpSender {
    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", &self.content_type)
            .body(self.body(phone, text))
            .send()
            .await
            .map_err(|e| format!("sms provider unreachable: {e}"))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("sms provider answered {status}"));
        }
        info!(target: "portal", to = %mask(phone), "text message sent");
        Ok(())
    }
}

/// The sender a configuration names.
pub fn sender(config: &SmsConfig, db: Db) -> Box<dyn SmsSender> {
    match config {
        SmsConfig::Log => Box::new(LogSender::new(db)),
        SmsConfig::Http { url, template, content_type } => {
            Box::new(HttpSender::new(url.clone(), template.clone(), content_type.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::{body::Bytes, routing::post, Router};
    use parking_lot::Mutex;

    use super::*;

    #[tokio::test]
    async fn the_http_sender_posts_the_template_to_the_provider() {
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = got.clone();
        let app = Router::new().route(
            "/send",
            post(move |body: Bytes| async move {
                seen.lock().push(String::from_utf8_lossy(&body).into_owned());
                "ok"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let sender = HttpSender::new(
            format!("http://{addr}/send"),
            r#"{"to":"{phone}","text":"{message}","sign":"存证"}"#.into(),
            "application/json".into(),
        );
        sender.send("13800138000", "验证码 \"123456\"").await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&got.lock()[0]).unwrap();
        assert_eq!(body["to"], "13800138000");
        assert_eq!(body["text"], "验证码 \"123456\"");

        let refused = HttpSender::new(
            format!("http://{addr}/missing"),
            "{}".into(),
            "application/json".into(),
        );
        assert!(refused.send("13800138000", "x").await.unwrap_err().contains("404"));
    }
}
