//! Inbound mail sinks: what `POST /webhooks/inbound-email` hands every inbound message that is
//! not a delivery status notification (a reply to a campaign, or a new mail to one of the
//! organization's addresses), behind a trait so outreach never names the domain that keeps it
//! (conversations, above outreach, implements [`InboundMailSink`] and registers it at start-up).
//!
//! A sink runs *before* the reply is recorded on its campaign recipient, so a sink that fails
//! makes the endpoint answer 500 with nothing recorded (the sender retries); sinks must be
//! idempotent by Message-ID. Registration is process-wide (tests build many applications in one
//! process) and idempotent by name.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use mail_parser::MimeHeaders;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{error::AppResult, state::AppState};

/// Largest body part kept (characters); longer bodies are cut.
pub const MAX_BODY_CHARS: usize = 200_000;

/// One inbound message, as parsed from the raw RFC 5322 text or the JSON form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundMail {
    /// Sender address (lowercase).
    pub from: Option<String>,
    /// Sender display name.
    pub from_name: Option<String>,
    /// Recipient addresses (lowercase).
    pub to: Vec<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Plain-text body (at most [`MAX_BODY_CHARS`]).
    pub text: String,
    /// HTML body, when there is one.
    pub html: Option<String>,
    /// Its Message-ID, `<…>`.
    pub message_id: Option<String>,
    /// In-Reply-To ids, `<…>`.
    pub in_reply_to: Vec<String>,
    /// References ids, `<…>`.
    pub references: Vec<String>,
    /// Attachments' metadata `{name, contentType, size}` (contents are not kept).
    pub attachments: Vec<Value>,
    /// The campaign recipient the reply matched, when it did.
    pub recipient_id: Option<Uuid>,
    /// `Auto-Submitted` (RFC 3834), lowercase, when present (auto-responders skip anything but
    /// `no`).
    pub auto_submitted: Option<String>,
    /// `Precedence` (`bulk`, `list`, `junk`), lowercase, when present.
    pub precedence: Option<String>,
}

/// A header's value, trimmed and lowercase (its first word; RFC 3834 allows parameters).
fn header_word(m: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    m.header_raw(name)
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

fn bracket(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty() && id.len() <= 250 && !id.contains(char::is_whitespace))
        .then(|| format!("<{id}>"))
}

fn cut(s: &str) -> String {
    s.chars().take(MAX_BODY_CHARS).collect()
}

fn id_list(h: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    if let Some(list) = h.as_text_list() {
        list.iter().filter_map(|s| bracket(s)).collect()
    } else {
        h.as_text().and_then(bracket).into_iter().collect()
    }
}

impl InboundMail {
    /// Parses a raw message; `None` when it is not a message.
    pub fn parse(raw: &[u8]) -> Option<InboundMail> {
        let m = mail_parser::MessageParser::default().parse(raw)?;
        let from = m.from().and_then(|a| a.first());
        let attachments = m
            .attachments()
            .take(50)
            .map(|a| {
                let ct = a.content_type().map(|c| match c.subtype() {
                    Some(s) => format!("{}/{}", c.ctype(), s),
                    None => c.ctype().to_string(),
                });
                json!({"name": a.attachment_name(), "contentType": ct, "size": a.len()})
            })
            .collect();
        Some(InboundMail {
            from: from.and_then(|a| a.address()).map(str::to_lowercase),
            from_name: from.and_then(|a| a.name()).map(String::from),
            to: m
                .to()
                .map(|t| {
                    t.iter()
                        .filter_map(|a| a.address())
                        .map(str::to_lowercase)
                        .collect()
                })
                .unwrap_or_default(),
            subject: m.subject().map(String::from),
            text: m.body_text(0).map(|t| cut(&t)).unwrap_or_default(),
            // A text-only message has no HTML part (mail-parser would convert the text).
            html: m
                .html_part(0)
                .filter(|p| p.is_text_html())
                .and_then(|_| m.body_html(0))
                .map(|h| cut(&h)),
            message_id: m.message_id().and_then(bracket),
            in_reply_to: id_list(m.in_reply_to()),
            references: id_list(m.references()),
            attachments,
            recipient_id: None,
            auto_submitted: header_word(&m, "Auto-Submitted"),
            precedence: header_word(&m, "Precedence"),
        })
    }

    /// The JSON form `{from, to, subject, text, html, messageId, inReplyTo, references}`.
    pub fn from_json(v: &Value, ids_in: impl Fn(&str) -> Vec<String>) -> InboundMail {
        let s = |k: &str| v[k].as_str().map(String::from);
        let ids = |k: &str| -> Vec<String> {
            ids_in(v[k].as_str().unwrap_or(""))
                .iter()
                .filter_map(|i| bracket(i))
                .collect()
        };
        InboundMail {
            from: s("from").map(|f| f.trim().to_lowercase()),
            from_name: None,
            to: s("to")
                .map(|t| t.split(',').map(|a| a.trim().to_lowercase()).collect())
                .unwrap_or_default(),
            subject: s("subject"),
            text: s("text").map(|t| cut(&t)).unwrap_or_default(),
            html: s("html").map(|h| cut(&h)),
            message_id: s("messageId").as_deref().and_then(bracket),
            in_reply_to: ids("inReplyTo"),
            references: ids("references"),
            attachments: Vec::new(),
            recipient_id: None,
            auto_submitted: s("autoSubmitted").map(|v| v.trim().to_ascii_lowercase()),
            precedence: s("precedence").map(|v| v.trim().to_ascii_lowercase()),
        }
    }
}

/// A domain that keeps inbound mail.
#[async_trait]
pub trait InboundMailSink: Send + Sync + 'static {
    /// Stores `mail` (idempotent by Message-ID); returns whether it kept it.
    async fn receive(&self, state: &AppState, mail: &InboundMail) -> AppResult<bool>;
}

type Registered = (&'static str, Arc<dyn InboundMailSink>);

static SINKS: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

/// Registers `sink` under `name`; a second registration of a name is ignored.
pub fn register_inbound_sink(name: &'static str, sink: impl InboundMailSink) {
    let mut sinks = SINKS.write().unwrap_or_else(|e| e.into_inner());
    if sinks.iter().all(|(n, _)| *n != name) {
        sinks.push((name, Arc::new(sink)));
    }
}

/// Hands `mail` to every registered sink; true when one kept it.
pub async fn deliver(state: &AppState, mail: &InboundMail) -> AppResult<bool> {
    let sinks: Vec<Arc<dyn InboundMailSink>> = {
        let sinks = SINKS.read().unwrap_or_else(|e| e.into_inner());
        sinks.iter().map(|(_, s)| s.clone()).collect()
    };
    let mut kept = false;
    for s in sinks {
        kept |= s.receive(state, mail).await?;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bodies_ids_and_attachments() {
        let raw = "From: Ada <Ada@X.io>\r\nTo: Sales <sales@us.test>\r\nSubject: Re: hi\r\nMessage-ID: <r1@x.io>\r\nIn-Reply-To: <abc@us.test>\r\nReferences: <zzz@us.test> <abc@us.test>\r\nContent-Type: text/plain\r\n\r\nthanks\r\n";
        let m = InboundMail::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.from.as_deref(), Some("ada@x.io"));
        assert_eq!(m.from_name.as_deref(), Some("Ada"));
        assert_eq!(m.to, vec!["sales@us.test".to_string()]);
        assert_eq!(m.message_id.as_deref(), Some("<r1@x.io>"));
        assert_eq!(m.in_reply_to, vec!["<abc@us.test>".to_string()]);
        assert_eq!(m.references.len(), 2);
        assert_eq!(m.text.trim(), "thanks");
        assert!(m.html.is_none());
        assert_eq!(m.auto_submitted, None);
        let auto = "From: a@x.io\r\nAuto-Submitted: Auto-Replied; owner-email=a@x.io\r\nPrecedence: bulk\r\nSubject: away\r\n\r\nout of office\r\n";
        let m = InboundMail::parse(auto.as_bytes()).unwrap();
        assert_eq!(m.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(m.precedence.as_deref(), Some("bulk"));
    }
}
