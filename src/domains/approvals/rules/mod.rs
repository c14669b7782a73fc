//! Approval rules: which actions need an approval and from whom.
//!
//! - **Table** `approval_rules`: resource type, `condition` JSON (stored normalized),
//!   `approver_role` *or* `approver_ids` JSON, `required_approvals` (1–10, at most the named
//!   approvers), `sla_hours` (1–8,760), `enabled`.
//! - **Conditions** (`service/condition.rs`): a typed tree parsed from JSON — `{all: [...]}`,
//!   `{any: [...]}` (nesting ≤ 8, ≤ 50 leaves), leaves `{field, operator, value}` with EQ, NE, GT,
//!   GTE, LT, LTE, IN, CONTAINS, EXISTS; `field` is a dotted path into the facts. Evaluated in
//!   Rust: numbers compare by value, ordering works on numbers or strings, a missing fact or a type
//!   mismatch never matches (except NE and `EXISTS: false`). Parse errors are BAD_USER_INPUT naming
//!   the path (`input.condition.all[0].operator`).
//! - **API**: `approvalRules`, `approvalRule`, `create/update/deleteApprovalRule` (ADMIN+,
//!   `ManageApprovalRules`; requests already created keep what they were created with, a deleted
//!   rule's requests stay with `rule` null), `toggleApprovalRule` (flips `enabled`),
//!   `testApprovalRule(id | input, sample)` → `matched` and per leaf `{path, field, operator,
//!   expected, actual, matched, reason}` (a query: it writes nothing).
//! - **Matching** ([`service::matching`]): the gate's question — the first enabled rule of the
//!   organization for the resource type (oldest first) whose condition the facts satisfy.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{RuleMutation, RuleQuery};
pub use service::{by_ids, get, matching, parse_members, MAX_APPROVERS, MAX_REQUIRED};
