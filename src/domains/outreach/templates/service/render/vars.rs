//! The variables a template sees: a lead's fields (`lead.*`, camelCase, absent when empty),
//! sample values for previews, and the full context with sender, organization and unsubscribe
//! URL.

use super::*;

/// The `lead` variable: camelCase fields, absent when empty.
pub fn lead_vars(l: &lead::Model) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.into(), Value::String(v.to_string()));
        }
    };
    let id = l.id.to_string();
    put("id", Some(&id));
    put("firstName", l.first_name.as_deref());
    put("lastName", l.last_name.as_deref());
    let full: Vec<&str> = [l.first_name.as_deref(), l.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let full = full.join(" ");
    put("fullName", Some(&full));
    put("email", l.email.as_deref());
    put("phone", l.phone.as_deref());
    put("company", Some(&l.company));
    put("title", l.title.as_deref());
    put("website", l.website.as_deref());
    put("industry", l.industry.as_deref());
    put("city", l.city.as_deref());
    put("region", l.region.as_deref());
    put("country", l.country.as_deref());
    put("status", Some(&l.status));
    put("source", Some(&l.source));
    m.insert("score".into(), json!(l.score));
    m.insert(
        "customFields".into(),
        if l.custom_fields.is_object() {
            l.custom_fields.clone()
        } else {
            json!({})
        },
    );
    Value::Object(m)
}

/// Sample values for previews without a lead.
pub fn sample_lead() -> Value {
    json!({
        "id": "00000000-0000-0000-0000-000000000000",
        "firstName": "Ada", "lastName": "Lovelace", "fullName": "Ada Lovelace",
        "email": "ada@example.com", "company": "Analytical Engines Ltd", "title": "Head of Research",
        "website": "https://example.com/", "industry": "Computing", "city": "London",
        "country": "GB", "status": "NEW", "source": "MANUAL", "score": 50, "customFields": {}
    })
}

/// The full render context.
pub fn context(
    lead: Value,
    sender_name: &str,
    sender_email: &str,
    organization: &str,
    unsubscribe_url: &str,
) -> Value {
    json!({
        "lead": lead,
        "sender": {"name": sender_name, "email": sender_email},
        "organization": {"name": organization},
        "unsubscribeUrl": unsubscribe_url,
    })
}

/// Deep-merges `over` into `base` (objects merge, anything else replaces).
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}
