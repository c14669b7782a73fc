//! What every message of a `campaign.send` run shares ([`Run`]: the frozen content, variants,
//! sender and A/B phase) and the building of one recipient's message (personalised, links
//! tracked, open pixel, unsubscribe headers and footer).

use entity::{campaign, campaign_recipient, lead};
use lettre::{
    message::{
        header::{ContentType, HeaderName, HeaderValue},
        Mailbox, MultiPart, SinglePart,
    },
    Message,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    config::Config,
    domains::outreach::{
        templates::{lead_vars, render, render_context, Content},
        tracking::{instrument_html, Links},
    },
    jobs::JobError,
};

/// One A/B variant's frozen content.
pub(super) struct Variant {
    pub(super) name: String,
    weight: u128,
    content: Content,
}

/// What every message of the run shares.
pub(super) struct Run {
    pub(super) campaign: campaign::Model,
    content: Content,
    variants: Vec<Variant>,
    organization: String,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// Which recipients this run sends to and with which variant.
    pub(super) phase: Phase,
}

/// The A/B phase of a run (see `campaigns::service::ab`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Phase {
    /// No A/B test: each recipient's variant is a stable weighted choice by id.
    Plain,
    /// Sending the test group (rows that already have a variant) only.
    Test,
    /// The winner is chosen: every remaining recipient gets it.
    Rest(String),
}

impl Run {
    /// The variant a recipient gets in this run's phase.
    pub(super) fn variant_for(&self, r: &campaign_recipient::Model) -> Option<&Variant> {
        let named = |n: &str| self.variants.iter().find(|v| v.name == n);
        match (&self.phase, r.variant.as_deref()) {
            (Phase::Plain, _) => self.variant(r.id),
            // A test recipient keeps its variant (also when it is retried after the decision).
            (_, Some(n)) => named(n),
            (Phase::Rest(w), None) => named(w),
            (Phase::Test, None) => None,
        }
    }

    /// The variant of a recipient: a stable choice by id, proportional to the weights.
    fn variant(&self, id: Uuid) -> Option<&Variant> {
        let total: u128 = self.variants.iter().map(|v| v.weight).sum();
        if total == 0 {
            return None;
        }
        let mut pick = id.as_u128() % total;
        for v in &self.variants {
            if pick < v.weight {
                return Some(v);
            }
            pick -= v.weight;
        }
        None
    }
}

pub(super) fn prepare(c: campaign::Model, organization: String) -> Result<Run, JobError> {
    let snap = c
        .content
        .clone()
        .ok_or_else(|| JobError::Permanent("campaign has no content snapshot".into()))?;
    let content: Content = serde_json::from_value(snap["content"].clone())
        .map_err(|e| JobError::Permanent(format!("bad content snapshot: {e}")))?;
    let mut variants = Vec::new();
    if let Some(obj) = snap["variants"].as_object() {
        for (name, v) in obj {
            variants.push(Variant {
                name: name.clone(),
                weight: v["weight"].as_u64().unwrap_or(1).into(),
                content: serde_json::from_value(v["content"].clone())
                    .map_err(|e| JobError::Permanent(format!("bad variant snapshot: {e}")))?,
            });
        }
        variants.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let from = Mailbox::new(
        Some(c.from_name.clone()),
        c.from_email
            .parse()
            .map_err(|_| JobError::Permanent("invalid from address".into()))?,
    );
    let reply_to = c
        .reply_to
        .as_deref()
        .and_then(|r| r.parse().ok())
        .map(|a| Mailbox::new(None, a));
    Ok(Run {
        campaign: c,
        content,
        variants,
        organization,
        from,
        reply_to,
        phase: Phase::Plain,
    })
}

/// Builds one recipient's message.
pub(super) fn build(
    cfg: &Config,
    run: &Run,
    r: &campaign_recipient::Model,
    lead: Option<&lead::Model>,
    variant: Option<&Variant>,
) -> Result<Message, String> {
    let vars = match lead {
        Some(l) => lead_vars(l),
        None => json!({"email": r.email}),
    };
    compose(
        cfg,
        Parts {
            content: variant.map(|v| &v.content).unwrap_or(&run.content),
            vars,
            from: &run.from,
            reply_to: run.reply_to.as_ref(),
            organization: &run.organization,
            to: mailbox_of(&r.email, lead)?,
            message_id: &r.message_id,
            token: r.id,
        },
    )
}

/// What one outgoing message is made of (a campaign recipient's, or a single message's).
pub(super) struct Parts<'a> {
    pub(super) content: &'a Content,
    pub(super) vars: serde_json::Value,
    pub(super) from: &'a Mailbox,
    pub(super) reply_to: Option<&'a Mailbox>,
    pub(super) organization: &'a str,
    pub(super) to: Mailbox,
    pub(super) message_id: &'a str,
    /// The id the tracking tokens (open, clicks, unsubscribe) are signed for.
    pub(super) token: Uuid,
}

/// Renders and builds a message: personalised, links tracked, open pixel, unsubscribe headers
/// and footer.
pub(super) fn compose(cfg: &Config, p: Parts<'_>) -> Result<Message, String> {
    let links = Links::new(&cfg.public_url, &cfg.jwt_secret, p.token);
    let unsubscribe = links.unsubscribe();
    let ctx = render_context(
        p.vars,
        p.from.name.as_deref().unwrap_or_default(),
        p.from.email.as_ref(),
        p.organization,
        &unsubscribe,
    );
    let out = render(p.content, &ctx).map_err(|i| format!("template: {}", i.message))?;
    let mut text = out.text;
    if !text.contains(&unsubscribe) {
        text.push_str(&format!("\n\n--\nUnsubscribe: {unsubscribe}\n"));
    }
    let mut b = Message::builder()
        .from(p.from.clone())
        .to(p.to)
        .subject(out.subject)
        .message_id(Some(p.message_id.to_string()))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{unsubscribe}>"),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".into(),
        ));
    if let Some(rt) = p.reply_to {
        b = b.reply_to(rt.clone());
    }
    let message = if out.html.trim().is_empty() {
        b.header(ContentType::TEXT_PLAIN).body(text)
    } else {
        let html = with_footer(out.html, &unsubscribe);
        let html = instrument_html(&html, &links).map_err(|e| format!("html: {e}"))?;
        b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
    };
    message.map_err(|e| format!("message: {e}"))
}

/// The recipient's mailbox, named after the lead when it has a name.
pub(super) fn mailbox_of(email: &str, lead: Option<&lead::Model>) -> Result<Mailbox, String> {
    let to_name = lead.and_then(|l| {
        let n: Vec<&str> = [l.first_name.as_deref(), l.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        (!n.is_empty()).then(|| n.join(" "))
    });
    Ok(Mailbox::new(
        to_name,
        email
            .parse()
            .map_err(|_| format!("invalid recipient address {email}"))?,
    ))
}

/// The HTML body with an unsubscribe footer when the template has no unsubscribe link.
fn with_footer(html: String, unsubscribe: &str) -> String {
    if html.contains(unsubscribe) {
        return html;
    }
    let footer = format!(
        "<p style=\"font-size:12px;color:#888\"><a href=\"{unsubscribe}\">Unsubscribe</a></p>"
    );
    match html.rfind("</body>") {
        Some(i) => format!("{}{footer}{}", &html[..i], &html[i..]),
        None => format!("{html}{footer}"),
    }
}
