//! Rule conditions: a small typed expression tree, parsed from JSON and evaluated in Rust
//! against a JSON object of facts (e.g. `{recipientCount: 600, aiGenerated: false}`).
//!
//! ```json
//! {"all": [{"field": "recipientCount", "operator": "GT", "value": 500},
//!          {"any": [{"field": "aiGenerated", "operator": "EQ", "value": true},
//!                   {"field": "firstCampaign", "operator": "EQ", "value": true}]}]}
//! ```
//!
//! `all` of nothing is true, `any` of nothing is false. Leaves compare one fact (a dotted path
//! into the facts) with a JSON value. A fact that is missing or of another type than the value
//! never matches (except with `NE` and `EXISTS: false`). Parse errors name their path, e.g.
//! `input.condition.all[0].operator`.

use serde_json::{json, Map, Value};

use crate::{
    domains::approvals::rules::types::{LeafExplanation, Operator},
    error::FieldError,
};

/// Deepest nesting of `all`/`any`.
pub const MAX_DEPTH: usize = 8;
/// Most leaves in one condition.
pub const MAX_LEAVES: usize = 50;

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// Dotted path into the facts (`recipientCount`, `template.aiGenerated`).
    pub field: String,
    /// How to compare.
    pub operator: Operator,
    /// What to compare with.
    pub value: Value,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every child matches (true when empty).
    All(Vec<Condition>),
    /// At least one child matches (false when empty).
    Any(Vec<Condition>),
    /// A comparison.
    Leaf(Leaf),
}

fn err(path: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: path.to_string(),
        message: message.into(),
    }
}

impl Condition {
    /// Parses `v`; errors name the path under `root` (e.g. `input.condition`).
    pub fn parse(v: &Value, root: &str) -> Result<Condition, FieldError> {
        let mut leaves = 0;
        Self::parse_at(v, root, 0, &mut leaves)
    }

    fn parse_at(
        v: &Value,
        path: &str,
        depth: usize,
        leaves: &mut usize,
    ) -> Result<Condition, FieldError> {
        let Some(obj) = v.as_object() else {
            return Err(err(
                path,
                "must be an object: {all: [...]}, {any: [...]} or {field, operator, value}",
            ));
        };
        if depth > MAX_DEPTH {
            return Err(err(path, format!("nests deeper than {MAX_DEPTH} levels")));
        }
        for (key, ctor) in [
            ("all", Condition::All as fn(Vec<Condition>) -> Condition),
            ("any", Condition::Any),
        ] {
            if let Some(children) = obj.get(key) {
                if obj.len() != 1 {
                    return Err(err(path, format!("`{key}` must be the only key")));
                }
                let Some(list) = children.as_array() else {
                    return Err(err(&format!("{path}.{key}"), "must be an array"));
                };
                let parsed = list
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        Self::parse_at(c, &format!("{path}.{key}[{i}]"), depth + 1, leaves)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(ctor(parsed));
            }
        }
        let leaf = Self::parse_leaf(obj, path)?;
        *leaves += 1;
        if *leaves > MAX_LEAVES {
            return Err(err(path, format!("more than {MAX_LEAVES} comparisons")));
        }
        Ok(Condition::Leaf(leaf))
    }

    /// A leaf `{field, operator, value}`.
    fn parse_leaf(obj: &Map<String, Value>, path: &str) -> Result<Leaf, FieldError> {
        for k in obj.keys() {
            if !matches!(k.as_str(), "field" | "operator" | "value") {
                return Err(err(
                    &format!("{path}.{k}"),
                    "unknown key (expected all, any, or field/operator/value)",
                ));
            }
        }
        let field = match obj.get("field") {
            Some(Value::String(f)) if valid_field(f) => f.clone(),
            Some(Value::String(_)) => {
                return Err(err(
                    &format!("{path}.field"),
                    "must be a dotted path of letters, digits and _ (at most 100 characters)",
                ))
            }
            Some(_) => return Err(err(&format!("{path}.field"), "must be a string")),
            None => return Err(err(&format!("{path}.field"), "is required")),
        };
        let operator = match obj.get("operator") {
            Some(Value::String(o)) => Operator::parse(o).ok_or_else(|| {
                err(
                    &format!("{path}.operator"),
                    "must be one of EQ, NE, GT, GTE, LT, LTE, IN, CONTAINS, EXISTS",
                )
            })?,
            Some(_) => return Err(err(&format!("{path}.operator"), "must be a string")),
            None => return Err(err(&format!("{path}.operator"), "is required")),
        };
        let vpath = format!("{path}.value");
        let value = Self::leaf_value(operator, obj.get("value").cloned(), &vpath)?;
        Ok(Leaf {
            field,
            operator,
            value,
        })
    }

    /// A leaf's value, checked against its operator (EXISTS defaults to true).
    fn leaf_value(
        operator: Operator,
        value: Option<Value>,
        vpath: &str,
    ) -> Result<Value, FieldError> {
        Ok(match (operator, value) {
            (Operator::Exists, None) => Value::Bool(true),
            (Operator::Exists, Some(Value::Bool(b))) => Value::Bool(b),
            (Operator::Exists, Some(_)) => return Err(err(vpath, "must be true or false")),
            (_, None) => return Err(err(vpath, "is required")),
            (Operator::In, Some(Value::Array(a))) => Value::Array(a),
            (Operator::In, Some(_)) => return Err(err(vpath, "must be an array for IN")),
            (Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte, Some(v))
                if !(v.is_number() || v.is_string()) =>
            {
                return Err(err(vpath, "must be a number or a string for ordering"))
            }
            (Operator::Contains, Some(v)) if v.is_array() || v.is_object() => {
                return Err(err(
                    vpath,
                    "must be a string, number or boolean for CONTAINS",
                ))
            }
            (_, Some(v)) => v,
        })
    }

    /// The JSON form (what [`Condition::parse`] reads).
    pub fn to_json(&self) -> Value {
        match self {
            Condition::All(c) => {
                json!({"all": c.iter().map(Condition::to_json).collect::<Vec<_>>()})
            }
            Condition::Any(c) => {
                json!({"any": c.iter().map(Condition::to_json).collect::<Vec<_>>()})
            }
            Condition::Leaf(l) => {
                json!({"field": l.field, "operator": l.operator.as_str(), "value": l.value})
            }
        }
    }

    /// Whether the facts satisfy the condition.
    pub fn matches(&self, facts: &Value) -> bool {
        match self {
            Condition::All(c) => c.iter().all(|c| c.matches(facts)),
            Condition::Any(c) => c.iter().any(|c| c.matches(facts)),
            Condition::Leaf(l) => l.matches(facts),
        }
    }

    /// The result and every leaf's outcome (all leaves, also those a short-circuit would skip).
    pub fn explain(&self, facts: &Value) -> (bool, Vec<LeafExplanation>) {
        let mut out = Vec::new();
        self.explain_at(facts, "condition", &mut out);
        (self.matches(facts), out)
    }

    fn explain_at(&self, facts: &Value, path: &str, out: &mut Vec<LeafExplanation>) {
        match self {
            Condition::All(c) => {
                for (i, c) in c.iter().enumerate() {
                    c.explain_at(facts, &format!("{path}.all[{i}]"), out);
                }
            }
            Condition::Any(c) => {
                for (i, c) in c.iter().enumerate() {
                    c.explain_at(facts, &format!("{path}.any[{i}]"), out);
                }
            }
            Condition::Leaf(l) => {
                let actual = lookup(facts, &l.field).cloned().unwrap_or(Value::Null);
                let matched = l.matches(facts);
                let shown = if lookup(facts, &l.field).is_some() {
                    actual.to_string()
                } else {
                    "missing".to_string()
                };
                let reason = format!(
                    "{} = {} {} {} → {}",
                    l.field,
                    shown,
                    l.operator.as_str(),
                    l.value,
                    if matched { "matched" } else { "not matched" }
                );
                out.push(LeafExplanation {
                    path: path.to_string(),
                    field: l.field.clone(),
                    operator: l.operator,
                    expected: async_graphql::Json(l.value.clone()),
                    actual: async_graphql::Json(actual),
                    matched,
                    reason,
                });
            }
        }
    }
}

fn valid_field(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= 100
        && f.split('.').all(|seg| {
            !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The value at a dotted path, if present.
fn lookup<'a>(facts: &'a Value, field: &str) -> Option<&'a Value> {
    field
        .split('.')
        .try_fold(facts, |v, seg| v.as_object().and_then(|o| o.get(seg)))
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

fn ordering(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Leaf {
    fn matches(&self, facts: &Value) -> bool {
        use std::cmp::Ordering::*;
        let actual = lookup(facts, &self.field).filter(|v| !v.is_null());
        match self.operator {
            Operator::Exists => actual.is_some() == (self.value == Value::Bool(true)),
            Operator::Ne => actual.is_none_or(|a| !json_eq(a, &self.value)),
            op => {
                let Some(a) = actual else {
                    return false;
                };
                match op {
                    Operator::Eq => json_eq(a, &self.value),
                    Operator::Gt => ordering(a, &self.value) == Some(Greater),
                    Operator::Gte => matches!(ordering(a, &self.value), Some(Greater | Equal)),
                    Operator::Lt => ordering(a, &self.value) == Some(Less),
                    Operator::Lte => matches!(ordering(a, &self.value), Some(Less | Equal)),
                    Operator::In => self
                        .value
                        .as_array()
                        .is_some_and(|vs| vs.iter().any(|v| json_eq(a, v))),
                    Operator::Contains => match (a, &self.value) {
                        (Value::String(s), Value::String(needle)) => s.contains(needle.as_str()),
                        (Value::Array(items), v) => items.iter().any(|i| json_eq(i, v)),
                        _ => false,
                    },
                    Operator::Exists | Operator::Ne => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Condition {
        Condition::parse(&v, "c").unwrap()
    }

    #[test]
    fn nested_all_any_against_facts() {
        let c = parse(json!({"all": [
            {"field": "recipientCount", "operator": "GT", "value": 500},
            {"any": [
                {"field": "aiGenerated", "operator": "EQ", "value": true},
                {"field": "fromDomain", "operator": "IN", "value": ["a.io", "b.io"]}
            ]}
        ]}));
        assert!(c.matches(&json!({"recipientCount": 600, "aiGenerated": true})));
        assert!(c.matches(&json!({"recipientCount": 600.0, "fromDomain": "b.io"})));
        assert!(!c.matches(&json!({"recipientCount": 500, "aiGenerated": true})));
        assert!(!c.matches(&json!({"recipientCount": 600, "aiGenerated": false})));
        assert!(!c.matches(&json!({"recipientCount": "600", "aiGenerated": true})));
        let (m, ex) = c.explain(&json!({"recipientCount": 600}));
        assert!(!m);
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].path, "condition.all[0]");
        assert!(ex[0].matched);
        assert_eq!(ex[1].path, "condition.all[1].any[0]");
        assert!(!ex[1].matched);
        assert!(ex[1].reason.contains("missing"), "{}", ex[1].reason);
        assert_eq!(Condition::parse(&c.to_json(), "c").unwrap(), c);
    }

    #[test]
    fn operators() {
        let f = json!({"n": 3, "s": "hello world", "tags": ["vip", "eu"], "nested": {"x": 1}, "nul": null});
        let m = |field: &str, op: &str, value: Value| {
            parse(json!({"field": field, "operator": op, "value": value})).matches(&f)
        };
        assert!(m("n", "EQ", json!(3.0)));
        assert!(m("n", "NE", json!(4)));
        assert!(m("missing", "NE", json!(4)));
        assert!(m("n", "GTE", json!(3)) && m("n", "LTE", json!(3)));
        assert!(m("n", "LT", json!(4)) && !m("n", "LT", json!(3)));
        assert!(m("s", "CONTAINS", json!("world")) && !m("s", "CONTAINS", json!("xyz")));
        assert!(m("tags", "CONTAINS", json!("vip")));
        assert!(m("s", "GT", json!("hello")));
        assert!(m("nested.x", "EQ", json!(1)));
        assert!(m("n", "IN", json!([1, 2, 3])));
        assert!(parse(json!({"field": "n", "operator": "EXISTS"})).matches(&f));
        assert!(!parse(json!({"field": "nul", "operator": "EXISTS"})).matches(&f));
        assert!(m("nul", "EXISTS", json!(false)));
        assert!(parse(json!({"all": []})).matches(&f));
        assert!(!parse(json!({"any": []})).matches(&f));
    }

    #[test]
    fn parse_errors_name_their_path() {
        let e = |v: Value| Condition::parse(&v, "input.condition").unwrap_err().field;
        assert_eq!(
            e(json!({"all": [{"field": "n", "operator": "BIGGER", "value": 1}]})),
            "input.condition.all[0].operator"
        );
        assert_eq!(
            e(json!({"any": [{"all": [{"operator": "EQ", "value": 1}]}]})),
            "input.condition.any[0].all[0].field"
        );
        assert_eq!(e(json!({"all": {}})), "input.condition.all");
        assert_eq!(e(json!([1])), "input.condition");
        assert_eq!(
            e(json!({"field": "n", "operator": "IN", "value": 3})),
            "input.condition.value"
        );
        assert_eq!(
            e(json!({"field": "n", "operator": "GT"})),
            "input.condition.value"
        );
        assert_eq!(
            e(json!({"field": "bad field", "operator": "EQ", "value": 1})),
            "input.condition.field"
        );
        assert_eq!(
            e(json!({"field": "n", "operator": "EQ", "value": 1, "extra": 2})),
            "input.condition.extra"
        );
        let mut deep = json!({"field": "n", "operator": "EQ", "value": 1});
        for _ in 0..=MAX_DEPTH {
            deep = json!({"all": [deep]});
        }
        assert!(Condition::parse(&deep, "c").is_err());
    }
}
