//! Replies and conversation suggestions from templates and word lists: the greeting, opening
//! and sign-off come from the tone's phrases; the middle answers what the conversation context
//! asks about (pricing, a meeting, more information, not interested) as found by keyword
//! lists, and mentions the lead's company and industry. It fills templates; it does not
//! understand the conversation.

use super::{text::sentiment, words};
use crate::domains::ai::types::{
    ConversationSuggestion, LeadFacts, RenderedTemplate, ReplyDraft, ReplyTone, Suggestions,
    TimelineFact,
};

struct Voice {
    greeting: &'static str,
    thanks: &'static str,
    close: &'static str,
    sign_off: &'static str,
}

fn voice(tone: ReplyTone) -> Voice {
    match tone {
        ReplyTone::Professional => Voice {
            greeting: "Dear",
            thanks: "Thank you for your message.",
            close: "Would you be available for a short call next week?",
            sign_off: "Kind regards",
        },
        ReplyTone::Friendly => Voice {
            greeting: "Hi",
            thanks: "Thanks so much for getting back to me!",
            close: "Would a quick chat next week work for you?",
            sign_off: "Best wishes",
        },
        ReplyTone::Casual => Voice {
            greeting: "Hey",
            thanks: "Thanks for the note.",
            close: "Up for a quick call sometime next week?",
            sign_off: "Cheers",
        },
        ReplyTone::Enthusiastic => Voice {
            greeting: "Hi",
            thanks: "Great to hear from you!",
            close: "I'd love to show you more — does a call next week sound good?",
            sign_off: "All the best",
        },
    }
}

/// What the context is about, by keyword lists (first match wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    NotInterested,
    Pricing,
    Meeting,
    Information,
    Positive,
    Other,
}

const NOT_INTERESTED: &[&str] = &[
    "unsubscribe",
    "stop",
    "remove",
    "not interested",
    "no thanks",
    "no thank you",
];
const PRICING: &[&str] = &[
    "price",
    "pricing",
    "cost",
    "costs",
    "budget",
    "quote",
    "fee",
    "fees",
    "expensive",
];
const MEETING: &[&str] = &[
    "call",
    "meeting",
    "meet",
    "demo",
    "schedule",
    "calendar",
    "available",
    "availability",
];
const INFORMATION: &[&str] = &[
    "information",
    "info",
    "details",
    "brochure",
    "case study",
    "examples",
    "how does",
    "learn",
];

fn intent(context: &str) -> Intent {
    let lower = context.to_lowercase();
    let ws = words(&lower);
    let any = |list: &[&str]| {
        list.iter().any(|k| {
            if k.contains(' ') {
                lower.contains(k)
            } else {
                ws.iter().any(|w| w == k)
            }
        })
    };
    if any(NOT_INTERESTED) {
        Intent::NotInterested
    } else if any(PRICING) {
        Intent::Pricing
    } else if any(MEETING) {
        Intent::Meeting
    } else if any(INFORMATION) {
        Intent::Information
    } else if sentiment(context).sentiment == "positive" {
        Intent::Positive
    } else {
        Intent::Other
    }
}

fn first_name(l: &LeadFacts) -> Option<String> {
    l.name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(str::to_string)
}

fn greeting(v: &Voice, l: &LeadFacts) -> String {
    match first_name(l) {
        Some(n) => format!("{} {n},", v.greeting),
        None if v.greeting == "Dear" => "Hello,".to_string(),
        None => format!("{},", v.greeting),
    }
}

/// The sentence about the lead's company (and industry).
fn about(l: &LeadFacts) -> Option<String> {
    match (&l.company, &l.industry) {
        (Some(c), Some(i)) => Some(format!(
            "I've been looking at what {c} does in {}, and I think we could help.",
            i.to_lowercase()
        )),
        (Some(c), None) => Some(format!(
            "I've been looking at {c}, and I think we could help."
        )),
        (None, Some(i)) => Some(format!(
            "We work with a number of {} businesses like yours.",
            i.to_lowercase()
        )),
        (None, None) => None,
    }
}

/// A reply (or a first email when there is no context).
pub fn reply(
    l: &LeadFacts,
    context: Option<&str>,
    tone: ReplyTone,
    template: Option<&RenderedTemplate>,
) -> ReplyDraft {
    let v = voice(tone);
    let company = l.company.clone().unwrap_or_else(|| "your team".into());
    let intent = context.map(intent);
    let mut paragraphs: Vec<String> = vec![greeting(&v, l)];
    let mut subject = match (template, intent) {
        (Some(t), _) => t.subject.clone(),
        (None, Some(_)) => "Re: our conversation".to_string(),
        (None, None) => format!("A quick idea for {company}"),
    };
    match intent {
        Some(Intent::NotInterested) => {
            paragraphs.push(v.thanks.to_string());
            paragraphs.push(
                "Understood — I won't follow up on this again. If anything changes, just reply to this email."
                    .to_string(),
            );
        }
        Some(i) => {
            paragraphs.push(v.thanks.to_string());
            paragraphs.push(
                match i {
                    Intent::Pricing => format!(
                        "On pricing: it depends on the size of {company}'s team and what you need, so I'd rather give you an exact quote than a guess."
                    ),
                    Intent::Meeting => "Happy to set up a call — send me two or three times that suit you, or pick one from my calendar.".to_string(),
                    Intent::Information => "I've put together the details you asked for and can walk you through them.".to_string(),
                    Intent::Positive => "I'm glad this sounds useful.".to_string(),
                    _ => "Let me answer your questions properly.".to_string(),
                },
            );
            if let Some(a) = about(l) {
                paragraphs.push(a);
            }
            paragraphs.push(v.close.to_string());
        }
        None => {
            if let Some(t) = template {
                paragraphs.push(t.body.trim().to_string());
            } else {
                if let Some(a) = about(l) {
                    paragraphs.push(a);
                }
                paragraphs.push(v.close.to_string());
            }
        }
    }
    if let (Some(t), Some(i)) = (template, intent) {
        if i != Intent::NotInterested {
            paragraphs.insert(paragraphs.len() - 1, t.body.trim().to_string());
        }
    }
    if subject.trim().is_empty() {
        subject = format!("A quick idea for {company}");
    }
    paragraphs.push(v.sign_off.to_string());
    ReplyDraft {
        subject,
        body: paragraphs.join("\n\n"),
    }
}

fn suggestion(action: &str, message: String, reason: String) -> ConversationSuggestion {
    ConversationSuggestion {
        action: action.into(),
        message,
        reason,
    }
}

/// Next steps from the timeline (newest first) and the lead's status: a reply waiting for an
/// answer, an opened but unanswered email, a quiet lead, a lead never contacted.
pub fn suggestions(l: &LeadFacts, timeline: &[TimelineFact]) -> Suggestions {
    let who = first_name(l).unwrap_or_else(|| "there".into());
    let company = l.company.clone().unwrap_or_else(|| "your team".into());
    let is = |f: &TimelineFact, kinds: &[&str]| kinds.iter().any(|k| f.kind.contains(k));
    let newest = timeline.first();
    let mut out = Vec::new();
    let contacted = timeline
        .iter()
        .find(|f| is(f, &["contacted", "email_sent", "sent"]));
    if let Some(r) = timeline.iter().find(|f| is(f, &["replied", "reply"])) {
        if newest.is_some_and(|n| std::ptr::eq(n, r)) {
            out.push(suggestion(
                "Answer their reply",
                format!("Hi {who},\n\nThanks for your reply — let me answer your questions and suggest a next step for {company}."),
                format!("their reply {} day(s) ago is the newest entry on the timeline", r.days_ago),
            ));
        }
    }
    if let Some(o) = timeline
        .iter()
        .find(|f| is(f, &["opened", "open", "clicked", "click"]))
    {
        if !timeline.iter().any(|f| is(f, &["replied", "reply"])) {
            out.push(suggestion(
                "Follow up on the opened email",
                format!("Hi {who},\n\nI saw you had a look at my last email — would it help if I sent a short summary of how this would work for {company}?"),
                format!("they opened or clicked an email {} day(s) ago but have not replied", o.days_ago),
            ));
        }
    }
    match contacted {
        Some(c) if c.days_ago >= 3 && !timeline.iter().any(|f| is(f, &["replied", "reply"])) => {
            out.push(suggestion(
                "Send a follow-up",
                format!("Hi {who},\n\nJust following up on my last message — is improving this a priority for {company} this quarter?"),
                format!("the last contact was {} day(s) ago with no reply", c.days_ago),
            ))
        }
        None if l.status == "NEW" => out.push(suggestion(
            "Send an introduction",
            format!("Hi {who},\n\nI work with companies like {company} and had an idea I'd like to share — open to a quick chat?"),
            "the lead is NEW and has not been contacted yet".into(),
        )),
        _ => {}
    }
    if out.is_empty() {
        out.push(suggestion(
            "Check in",
            format!("Hi {who},\n\nHow are things at {company}? Happy to help whenever the timing is right."),
            match newest {
                Some(n) => format!("nothing needs an answer; the newest entry ({}) is {} day(s) old", n.kind, n.days_ago),
                None => "the timeline is empty".into(),
            },
        ));
    }
    out.truncate(3);
    Suggestions { suggestions: out }
}
