//! What the compiled read path answers, as data: for every object it compiles (named by the
//! field that reaches it, `Parent.field`), the fields of that object it leaves to the
//! resolvers. Every other field of the object in the schema is compiled, `__typename` always.
//!
//! This is the one list both sides are checked against. The unit test below walks the schema
//! (`schema::export_sdl`) from every covered root (`Query.leads`, `Query.campaigns`, …) and plans a document per field: a field the list
//! calls compiled must plan, a field it leaves to the resolvers must fall back. So a field added
//! to `Lead` (or any covered type) fails the test until it is compiled or listed here, and a
//! field the compiler stops covering fails it too. `tests/api/compiled_diff.rs` generates its
//! documents from the same list and the schema, and checks on PostgreSQL that the compiled
//! answers are the resolvers' answers, key order included.

/// An object the compiler answers.
#[derive(Debug, Clone, Copy)]
pub struct Covered {
    /// The field that reaches it, `Parent.field` (`Query.leads`, `Lead.notes`).
    pub via: &'static str,
    /// Its type name.
    pub type_name: &'static str,
    /// Its fields the compiler leaves to the resolvers (a document selecting one falls back).
    pub resolvers_only: &'static [&'static str],
}

/// `Lead` fields answered by the resolvers only.
const LEAD_RESOLVERS_ONLY: &[&str] = &[
    "analysis",
    "customFields",
    "emailStatus",
    "provenance",
    "scoreReasons",
    "validatedAt",
];

/// `Campaign` fields of the `campaigns` root answered by the resolvers only.
const CAMPAIGN_RESOLVERS_ONLY: &[&str] = &[
    "abTest", "abWinner", "counters", "events", "stats", "variants",
];

/// `ScrapeJob` fields answered by the resolvers only (JSON written by serde, counters computed
/// in Rust, crawl pages).
const SCRAPE_JOB_RESOLVERS_ONLY: &[&str] = &["pages", "params", "progress"];
/// `ApprovalRequest` fields answered by the resolvers only (users, the viewer's rights, JSON).
const APPROVAL_REQUEST_RESOLVERS_ONLY: &[&str] = &["assignees", "canAct", "payload", "requestedBy"];

/// `SearchGoal` fields answered by the resolvers only (JSON-backed, and the sources' pages).
const SEARCH_GOAL_RESOLVERS_ONLY: &[&str] = &[
    "jobs",
    "jobsDone",
    "jobsTotal",
    "leadsFound",
    "locations",
    "ranked",
    "sourcesSkipped",
    "strategy",
    "valid",
];

/// Every object the compiler answers (see the module docs).
pub const COVERAGE: &[Covered] = &[
    Covered {
        via: "Query.leads",
        type_name: "LeadConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "LeadConnection.edges",
        type_name: "LeadEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "LeadConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "LeadConnection.nodes",
        type_name: "Lead",
        resolvers_only: LEAD_RESOLVERS_ONLY,
    },
    Covered {
        via: "LeadEdge.node",
        type_name: "Lead",
        resolvers_only: LEAD_RESOLVERS_ONLY,
    },
    Covered {
        via: "Lead.location",
        type_name: "Location",
        resolvers_only: &[],
    },
    Covered {
        via: "Lead.owner",
        type_name: "User",
        // A signed link made by places' files (identity's registered `ImageFiles`).
        resolvers_only: &["avatarUrl"],
    },
    Covered {
        via: "Lead.notes",
        type_name: "LeadNoteConnection",
        // Notes edges carry cursors, which the compiler does not write.
        resolvers_only: &["edges"],
    },
    Covered {
        via: "LeadNoteConnection.nodes",
        type_name: "LeadNote",
        resolvers_only: &[],
    },
    Covered {
        via: "LeadNoteConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &["startCursor", "endCursor"],
    },
    Covered {
        via: "Lead.timeline",
        type_name: "LeadInteractionConnection",
        // Timeline edges carry cursors, which the compiler does not write.
        resolvers_only: &["edges"],
    },
    Covered {
        via: "LeadInteractionConnection.nodes",
        type_name: "LeadInteraction",
        // JSON written by serde (key order).
        resolvers_only: &["data"],
    },
    Covered {
        via: "LeadInteractionConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &["startCursor", "endCursor"],
    },
    Covered {
        via: "Query.lead",
        type_name: "Lead",
        resolvers_only: LEAD_RESOLVERS_ONLY,
    },
    Covered {
        via: "Lead.campaigns",
        type_name: "LeadCampaign",
        resolvers_only: &[],
    },
    Covered {
        via: "LeadCampaign.campaign",
        type_name: "Campaign",
        resolvers_only: &[
            "abTest",
            "abWinner",
            "completedAt",
            "counters",
            "createdAt",
            "createdById",
            "events",
            "fromEmail",
            "fromName",
            "lastError",
            "launchedAt",
            "recipients",
            "replyTo",
            "requireValidatedRecipients",
            "scheduleAt",
            "sendRatePerMinute",
            "stats",
            "template",
            "updatedAt",
            "variants",
        ],
    },
    Covered {
        via: "Query.campaigns",
        type_name: "CampaignConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "CampaignConnection.edges",
        type_name: "CampaignEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "CampaignConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "CampaignConnection.nodes",
        type_name: "Campaign",
        resolvers_only: CAMPAIGN_RESOLVERS_ONLY,
    },
    Covered {
        via: "CampaignEdge.node",
        type_name: "Campaign",
        resolvers_only: CAMPAIGN_RESOLVERS_ONLY,
    },
    Covered {
        via: "Campaign.template",
        type_name: "Template",
        // Computed from the content in Rust.
        resolvers_only: &["variables"],
    },
    Covered {
        via: "Campaign.recipients",
        type_name: "CampaignRecipientConnection",
        // Nested edges carry cursors, which the compiler does not write.
        resolvers_only: &["edges"],
    },
    Covered {
        via: "CampaignRecipientConnection.nodes",
        type_name: "CampaignRecipient",
        resolvers_only: &[],
    },
    Covered {
        via: "CampaignRecipientConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &["startCursor", "endCursor"],
    },
    Covered {
        via: "CampaignRecipient.lead",
        type_name: "Lead",
        resolvers_only: LEAD_RESOLVERS_ONLY,
    },
    Covered {
        via: "Query.scrapeJobs",
        type_name: "ScrapeJobConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "ScrapeJobConnection.edges",
        type_name: "ScrapeJobEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "ScrapeJobConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "ScrapeJobConnection.nodes",
        type_name: "ScrapeJob",
        resolvers_only: SCRAPE_JOB_RESOLVERS_ONLY,
    },
    Covered {
        via: "ScrapeJobEdge.node",
        type_name: "ScrapeJob",
        resolvers_only: SCRAPE_JOB_RESOLVERS_ONLY,
    },
    Covered {
        via: "ScrapeJob.leads",
        type_name: "LeadConnection",
        // A nested page's cursors are the resolvers' (see `compiled::scrape::job_leads`).
        resolvers_only: &["edges", "pageInfo"],
    },
    Covered {
        via: "Query.notifications",
        type_name: "NotificationConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "NotificationConnection.edges",
        type_name: "NotificationEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "NotificationConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "NotificationConnection.nodes",
        type_name: "Notification",
        resolvers_only: &[],
    },
    Covered {
        via: "NotificationEdge.node",
        type_name: "Notification",
        resolvers_only: &[],
    },
    Covered {
        via: "Query.auditLogs",
        type_name: "AuditLogConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "AuditLogConnection.edges",
        type_name: "AuditLogEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "AuditLogConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "AuditLogConnection.nodes",
        type_name: "AuditLog",
        resolvers_only: &["changes"],
    },
    Covered {
        via: "AuditLogEdge.node",
        type_name: "AuditLog",
        resolvers_only: &["changes"],
    },
    Covered {
        via: "Query.approvalRequests",
        type_name: "ApprovalRequestConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "ApprovalRequestConnection.edges",
        type_name: "ApprovalRequestEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "ApprovalRequestConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "ApprovalRequestConnection.nodes",
        type_name: "ApprovalRequest",
        resolvers_only: APPROVAL_REQUEST_RESOLVERS_ONLY,
    },
    Covered {
        via: "ApprovalRequestEdge.node",
        type_name: "ApprovalRequest",
        resolvers_only: APPROVAL_REQUEST_RESOLVERS_ONLY,
    },
    Covered {
        via: "ApprovalRequest.rule",
        type_name: "ApprovalRule",
        resolvers_only: &["approvers", "condition", "createdBy"],
    },
    Covered {
        via: "ApprovalRequest.history",
        type_name: "ApprovalAction",
        resolvers_only: &["actor", "toUser"],
    },
    Covered {
        via: "Query.searchGoals",
        type_name: "SearchGoalConnection",
        resolvers_only: &[],
    },
    Covered {
        via: "SearchGoalConnection.edges",
        type_name: "SearchGoalEdge",
        resolvers_only: &[],
    },
    Covered {
        via: "SearchGoalConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &[],
    },
    Covered {
        via: "SearchGoalConnection.nodes",
        type_name: "SearchGoal",
        resolvers_only: SEARCH_GOAL_RESOLVERS_ONLY,
    },
    Covered {
        via: "SearchGoalEdge.node",
        type_name: "SearchGoal",
        resolvers_only: SEARCH_GOAL_RESOLVERS_ONLY,
    },
    Covered {
        via: "SearchGoal.results",
        type_name: "SearchGoalResultConnection",
        // Nested edges carry cursors, which the compiler does not write.
        resolvers_only: &["edges"],
    },
    Covered {
        via: "SearchGoalResultConnection.nodes",
        type_name: "SearchGoalResult",
        resolvers_only: &["reasons"],
    },
    Covered {
        via: "SearchGoalResultConnection.pageInfo",
        type_name: "PageInfo",
        resolvers_only: &["startCursor", "endCursor"],
    },
    Covered {
        via: "SearchGoalResult.lead",
        type_name: "Lead",
        resolvers_only: LEAD_RESOLVERS_ONLY,
    },
];

/// The entry for the object reached through `via` (`Parent.field`), if the compiler answers it.
pub fn covered(via: &str) -> Option<&'static Covered> {
    COVERAGE.iter().find(|c| c.via == via)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use async_graphql::{
        parser::{
            parse_schema,
            types::{TypeKind, TypeSystemDefinition},
        },
        Request,
    };

    use super::*;
    use crate::auth::{Role, Viewer, ViewerVia};

    /// Object type name → its fields (name, named result type).
    fn objects() -> HashMap<String, Vec<(String, String)>> {
        let doc = parse_schema(crate::graphql::schema::export_sdl()).unwrap();
        let mut out = HashMap::new();
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let t = t.node;
            if let TypeKind::Object(o) = t.kind {
                let fields = o
                    .fields
                    .iter()
                    .map(|f| {
                        let ty = f.node.ty.node.to_string();
                        let named = ty.trim_matches(|c| c == '[' || c == ']' || c == '!');
                        (f.node.name.node.to_string(), named.to_string())
                    })
                    .collect();
                out.insert(t.name.node.to_string(), fields);
            }
        }
        out
    }

    /// Plans the document built from `path` (field names from the root down) around `inner`
    /// (as an OWNER: every permission, so coverage is what the compiler can do at most; the
    /// differential test checks every role).
    fn plans(path: &[String], inner: &str, role: Role) -> bool {
        let mut q = inner.to_string();
        for field in path.iter().rev() {
            q = format!("{field} {{ {q} }}");
        }
        let viewer = Viewer {
            user_id: uuid::Uuid::now_v7(),
            org_id: uuid::Uuid::now_v7(),
            role,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        let mut request = Request::new(format!("{{ {q} }}"));
        // Coverage, not the query limits: deep paths with default page sizes are over the
        // complexity limit, which would make every field fall back.
        let mut limits = crate::graphql::schema::fixed_limits();
        limits.max_complexity = usize::MAX;
        crate::graphql::compiled::plan_for(&limits, &mut request, &viewer).is_some()
    }

    /// A root field as a document selects it (its required arguments given).
    fn root_call(root: &str) -> String {
        match root {
            "lead" => format!("lead(id: \"{}\")", uuid::Uuid::now_v7()),
            _ => root.to_string(),
        }
    }

    #[test]
    fn coverage_matches_the_schema() {
        let objects = objects();
        let mut visited = HashSet::new();
        let mut stack: Vec<(String, Vec<String>)> = COVERAGE
            .iter()
            .filter_map(|c| c.via.strip_prefix("Query."))
            .map(|root| (format!("Query.{root}"), vec![root_call(root)]))
            .collect();
        let mut wrong = Vec::new();
        while let Some((via, path)) = stack.pop() {
            let c = covered(&via).unwrap();
            visited.insert(c.via);
            let fields = objects.get(c.type_name).unwrap();
            for name in c.resolvers_only {
                assert!(
                    fields.iter().any(|(f, _)| f == name),
                    "{via}: {name} is not a field of {}",
                    c.type_name
                );
            }
            for (name, ty) in fields {
                let child = format!("{}.{name}", c.type_name);
                let object = objects.contains_key(ty);
                let inner = if object {
                    format!("{name} {{ __typename }}")
                } else {
                    name.clone()
                };
                let expected = !c.resolvers_only.contains(&name.as_str());
                if plans(&path, &inner, Role::Owner) != expected {
                    wrong.push(format!(
                        "{via} {{ {inner} }}: expected compiled = {expected}"
                    ));
                }
                if object && expected {
                    let mut p = path.clone();
                    p.push(name.clone());
                    assert!(
                        covered(&child).is_some(),
                        "{child}: compiled, but not in COVERAGE"
                    );
                    stack.push((child, p));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "coverage differs from the compiler: {wrong:#?}"
        );
        let unvisited: Vec<_> = COVERAGE
            .iter()
            .filter(|c| !visited.contains(c.via))
            .collect();
        assert!(unvisited.is_empty(), "unreachable entries: {unvisited:?}");
    }
}
