//! `POST /webhooks/inbound-email`: inbound email — replies matched to their recipient by
//! In-Reply-To/References (`mail-parser`), RFC 3464 delivery status notifications turned into
//! hard/soft bounces by their `Status:` class — as a raw message or JSON
//! `{from, subject, inReplyTo, references}`. `INBOUND_EMAIL_SECRET` protects it when set
//! (`?secret=` or `X-Webhook-Secret`); the same message posted again is a replay (409).

use axum::{
    body::Bytes,
    extract::{Query, State},
    response::Response,
};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    record::{recipient_by_message_id, record, Activity},
    sink::{deliver, InboundMail},
    webhooks::{answer, claim_or_refuse, not_enabled, production, release, sha256_hex},
};
use crate::{http::HttpState, state::AppState};

/// Every `<…>` token of a header value (Message-IDs).
fn ids_in(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(a) = rest.find('<') {
        let Some(b) = rest[a..].find('>') else { break };
        let id = &rest[a + 1..a + b];
        if !id.is_empty() && !id.contains(char::is_whitespace) {
            out.push(id.to_string());
        }
        rest = &rest[a + b + 1..];
    }
    out
}

/// What an inbound message is: a delivery status notification (bounce) or a reply.
#[derive(Debug, PartialEq)]
enum Inbound {
    Bounce {
        hard: bool,
        reason: String,
        ids: Vec<String>,
    },
    Reply {
        from: Option<String>,
        subject: Option<String>,
        ids: Vec<String>,
    },
}

/// Parses a raw RFC 5322 message.
fn parse_raw(raw: &[u8]) -> Option<Inbound> {
    let text = String::from_utf8_lossy(raw);
    let lower = text.to_ascii_lowercase();
    if lower.contains("multipart/report") && lower.contains("delivery-status") {
        // RFC 3464: per-recipient `Status: 5.x.x` (permanent) or `4.x.x` (transient); the
        // original message's headers (with our Message-ID) are attached.
        let mut status = None;
        let mut reason = String::new();
        for line in text.lines() {
            let l = line.trim();
            let ll = l.to_ascii_lowercase();
            if ll.starts_with("status:") && status.is_none() {
                status = l[7..].trim().chars().next();
            } else if ll.starts_with("diagnostic-code:") && reason.is_empty() {
                reason = l[16..].trim().to_string();
            }
        }
        let ids: Vec<String> = text
            .lines()
            .filter(|l| {
                let ll = l.to_ascii_lowercase();
                ll.starts_with("message-id:")
                    || ll.starts_with("in-reply-to:")
                    || ll.starts_with("references:")
            })
            .flat_map(ids_in)
            .collect();
        return Some(Inbound::Bounce {
            hard: status != Some('4'),
            reason,
            ids,
        });
    }
    let m = mail_parser::MessageParser::default().parse(raw)?;
    let mut ids = Vec::new();
    for h in [m.in_reply_to(), m.references()] {
        if let Some(list) = h.as_text_list() {
            ids.extend(list.iter().map(|s| s.to_string()));
        } else if let Some(one) = h.as_text() {
            ids.push(one.to_string());
        }
    }
    Some(Inbound::Reply {
        from: m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(String::from),
        subject: m.subject().map(String::from),
        ids,
    })
}

/// Query string of the inbound endpoint.
#[derive(Deserialize)]
pub struct InboundParams {
    secret: Option<String>,
}

/// `POST /webhooks/inbound-email`: a raw message (`message/rfc822` or any non-JSON body), or
/// JSON `{from, subject, inReplyTo, references}` (as inbound-parse services post it). Replies
/// are matched to the recipient by In-Reply-To/References; DSNs become bounces.
pub async fn inbound(
    State(s): State<HttpState>,
    Query(q): Query<InboundParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &s.app;
    let receipt = match &state.config.inbound_email_secret {
        Some(secret) => {
            let given = q.secret.as_deref().or_else(|| {
                headers
                    .get("x-webhook-secret")
                    .and_then(|v| v.to_str().ok())
            });
            let ok = given.is_some_and(|g| {
                crate::auth::secrets::digest(g) == crate::auth::secrets::digest(secret)
            });
            if !ok {
                return answer(StatusCode::UNAUTHORIZED, json!({"error": "bad secret"}));
            }
            // No provider timestamp to check; the same message posted again is a replay.
            let key = sha256_hex(&[&body]);
            if let Err(r) = claim_or_refuse(state, "inbound", &key).await {
                return r;
            }
            Some(key)
        }
        None if production(state) => return not_enabled(),
        None => None,
    };
    let response = inbound_message(state, &headers, &body).await;
    if response.status().is_server_error() {
        if let Some(key) = &receipt {
            release(state, "inbound", key).await;
        }
    }
    response
}

/// The parsed message and what the registered sinks (conversations) get of it: bodies, ids,
/// attachments.
type Read = (Option<Inbound>, Option<InboundMail>);

/// Reads a raw or JSON body; `None` for a JSON body that does not parse.
fn read(is_json: bool, body: &Bytes) -> Option<Read> {
    if !is_json {
        return Some((parse_raw(body), InboundMail::parse(body)));
    }
    let v = serde_json::from_slice::<Value>(body).ok()?;
    if let Some(raw) = v["raw"].as_str() {
        return Some((
            parse_raw(raw.as_bytes()),
            InboundMail::parse(raw.as_bytes()),
        ));
    }
    let mut ids = Vec::new();
    for k in ["inReplyTo", "references"] {
        ids.extend(ids_in(v[k].as_str().unwrap_or("")));
    }
    let reply = Inbound::Reply {
        from: v["from"].as_str().map(String::from),
        subject: v["subject"].as_str().map(String::from),
        ids,
    };
    Some((Some(reply), Some(InboundMail::from_json(&v, ids_in))))
}

/// Parses and records one inbound message (after the secret and replay checks). A reply goes
/// to the registered sinks first (with the campaign recipient it matched), then is recorded.
async fn inbound_message(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Response {
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let Some((parsed, mut mail)) = read(is_json, body) else {
        return answer(StatusCode::BAD_REQUEST, json!({"error": "invalid JSON"}));
    };
    let Some(parsed) = parsed else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "unreadable message"}),
        );
    };
    let (ids, activity) = match parsed {
        Inbound::Bounce { hard, reason, ids } => (
            ids,
            Activity::Bounce {
                hard,
                reason,
                source: "dsn".into(),
            },
        ),
        Inbound::Reply { from, subject, ids } => (ids, Activity::Reply { from, subject }),
    };
    // DSNs never reach the sinks.
    if !matches!(activity, Activity::Reply { .. }) {
        mail = None;
    }
    for id in ids.iter().take(50) {
        match recipient_by_message_id(state, id).await {
            Ok(Some(rid)) => {
                if let Some(mail) = mail.as_mut() {
                    mail.recipient_id = Some(rid);
                    if let Err(e) = deliver(state, mail).await {
                        tracing::error!(error = ?e, "inbound email sink failed");
                        return try_again();
                    }
                }
                return match record(state, rid, activity).await {
                    Ok(m) => answer(StatusCode::OK, json!({"matched": m})),
                    Err(e) => {
                        tracing::error!(error = ?e, "inbound email failed");
                        try_again()
                    }
                };
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = ?e, "inbound email lookup failed");
                return try_again();
            }
        }
    }
    // Not a reply to a campaign: a new mail (or a reply in a thread a sink knows).
    let kept = match &mail {
        Some(mail) => match deliver(state, mail).await {
            Ok(kept) => kept,
            Err(e) => {
                tracing::error!(error = ?e, "inbound email sink failed");
                return try_again();
            }
        },
        None => false,
    };
    answer(StatusCode::OK, json!({"matched": false, "kept": kept}))
}

fn try_again() -> Response {
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "try again"}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_and_reply_parsing() {
        let dsn = "From: MAILER-DAEMON@x\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.c\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 no such user\r\n\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <abc.def@x.io>\r\n--b--\r\n";
        assert_eq!(
            parse_raw(dsn.as_bytes()),
            Some(Inbound::Bounce {
                hard: true,
                reason: "smtp; 550 no such user".into(),
                ids: vec!["abc.def@x.io".into()]
            })
        );
        let reply = "From: Ada <ada@x.io>\r\nSubject: Re: hi\r\nIn-Reply-To: <abc.def@x.io>\r\nReferences: <zzz@x> <abc.def@x.io>\r\n\r\nthanks\r\n";
        match parse_raw(reply.as_bytes()) {
            Some(Inbound::Reply { from, subject, ids }) => {
                assert_eq!(from.as_deref(), Some("ada@x.io"));
                assert_eq!(subject.as_deref(), Some("Re: hi"));
                assert!(ids.contains(&"abc.def@x.io".to_string()));
            }
            other => panic!("{other:?}"),
        }
    }
}
