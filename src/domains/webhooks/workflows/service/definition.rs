//! A workflow definition's checks and what the registry reads from n8n's JSON.

use serde_json::{json, Value};

use crate::error::{AppError, AppResult};

/// Largest definition (serialized).
const MAX_BYTES: usize = 256 * 1024;
/// Most nodes.
const MAX_NODES: usize = 500;
/// Longest name.
pub const MAX_NAME: usize = 200;
/// n8n's Webhook trigger node.
const WEBHOOK_NODE: &str = "n8n-nodes-base.webhook";

/// A trimmed name of 1–200 characters, or BAD_USER_INPUT on `input.name`.
pub fn clean_name(raw: &str) -> AppResult<String> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME {
        return Err(AppError::invalid(
            "input.name",
            format!("must be 1–{MAX_NAME} characters"),
        ));
    }
    Ok(n.to_string())
}

/// Why `d` is not an n8n workflow definition, if it is not.
pub fn problem(d: &Value) -> Option<String> {
    let Some(obj) = d.as_object() else {
        return Some("must be a JSON object {nodes, connections, settings}".into());
    };
    if serde_json::to_vec(d).map_or(true, |b| b.len() > MAX_BYTES) {
        return Some(format!("must be at most {} KiB", MAX_BYTES / 1024));
    }
    let Some(nodes) = obj.get("nodes").and_then(Value::as_array) else {
        return Some("`nodes` must be an array".into());
    };
    if nodes.len() > MAX_NODES {
        return Some(format!("at most {MAX_NODES} nodes"));
    }
    for (i, n) in nodes.iter().enumerate() {
        let named = n["name"].as_str().is_some_and(|s| !s.trim().is_empty());
        if !named || n["type"].as_str().is_none() {
            return Some(format!("nodes[{i}] needs a `name` and a `type`"));
        }
    }
    if !obj.get("connections").is_some_and(Value::is_object) {
        return Some("`connections` must be an object".into());
    }
    if obj
        .get("settings")
        .is_some_and(|s| !s.is_object() && !s.is_null())
    {
        return Some("`settings` must be an object".into());
    }
    None
}

/// `{nodes, connections, settings}` of a valid definition, or BAD_USER_INPUT on
/// `input.definition`.
pub fn clean(d: &Value) -> AppResult<Value> {
    if let Some(p) = problem(d) {
        return Err(AppError::invalid("input.definition", p));
    }
    Ok(of_remote(d))
}

/// The stored definition of an n8n workflow object.
pub fn of_remote(w: &Value) -> Value {
    json!({
        "nodes": w.get("nodes").cloned().unwrap_or_else(|| json!([])),
        "connections": w.get("connections").cloned().unwrap_or_else(|| json!({})),
        "settings": w.get("settings").filter(|s| s.is_object()).cloned().unwrap_or_else(|| json!({})),
    })
}

/// The trigger of a definition: the `path` of its first enabled Webhook node and whether it
/// takes POST (n8n's default method is GET).
pub fn webhook(d: &Value) -> Option<(String, bool)> {
    d["nodes"].as_array()?.iter().find_map(|n| {
        if n["type"].as_str() != Some(WEBHOOK_NODE) || n["disabled"].as_bool() == Some(true) {
            return None;
        }
        let path = n["parameters"]["path"].as_str()?.trim().trim_matches('/');
        let method = n["parameters"]["httpMethod"].as_str().unwrap_or("GET");
        (!path.is_empty()).then(|| (path.to_string(), method.eq_ignore_ascii_case("POST")))
    })
}

/// n8n's id of a workflow object (a string in v1; numbers in old versions).
pub fn remote_id(w: &Value) -> Option<String> {
    match &w["id"] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_checked_and_the_trigger_found() {
        assert!(clean(&json!([])).is_err());
        assert!(clean(&json!({"nodes": {}, "connections": {}})).is_err());
        assert!(clean(&json!({"nodes": [{"name": "x"}], "connections": {}})).is_err());
        assert!(clean(&json!({"nodes": [], "connections": []})).is_err());
        let d = json!({"nodes": [
            {"name": "Hook", "type": WEBHOOK_NODE, "parameters": {"path": "/lead-in/", "httpMethod": "POST"}}
        ], "connections": {}});
        let c = clean(&d).unwrap();
        assert_eq!(c["settings"], json!({}));
        assert_eq!(webhook(&c), Some(("lead-in".into(), true)));
        assert_eq!(remote_id(&json!({"id": 7})), Some("7".into()));
    }
}
