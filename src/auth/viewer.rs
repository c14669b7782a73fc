//! The viewer: the authenticated principal of one request or WebSocket connection.

use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Organization roles, strongest first: OWNER > ADMIN > MANAGER > MEMBER > VIEWER.
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Read-only access.
    Viewer,
    /// Works leads and campaigns.
    Member,
    /// Manages work of a team: jobs, campaigns, approvals.
    Manager,
    /// Manages the organization, members and keys.
    Admin,
    /// Owns the organization, including billing and deletion.
    Owner,
}

impl Role {
    /// Parses the wire form (`OWNER`, `ADMIN`, ...).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "OWNER" => Some(Role::Owner),
            "ADMIN" => Some(Role::Admin),
            "MANAGER" => Some(Role::Manager),
            "MEMBER" => Some(Role::Member),
            "VIEWER" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Manager => "MANAGER",
            Role::Member => "MEMBER",
            Role::Viewer => "VIEWER",
        }
    }
}

/// Declares [`Permission`] with its minimum roles. `ALL` and `minimum_role` come from the same
/// list, so a new permission cannot be missing from either (the test walking `ALL` sees it).
macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident => $role:ident,)*) => {
        /// Operations guarded by role. The single table in [`Permission::minimum_role`] decides.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Permission {
            $($(#[$doc])* $name,)*
        }

        impl Permission {
            /// Every permission, in declaration order.
            pub const ALL: &'static [Permission] = &[$(Permission::$name,)*];

            /// The weakest role allowed to perform the operation.
            pub fn minimum_role(self) -> Role {
                match self {
                    $(Permission::$name => Role::$role,)*
                }
            }
        }
    };
}

permissions! {
    /// See background jobs of the organization.
    ReadJobs => Viewer,
    /// Cancel or retry background jobs.
    ManageJobs => Manager,
    /// Receive the organization's live events.
    SubscribeEvents => Viewer,
    /// Create, list and revoke API keys.
    ManageApiKeys => Admin,
    /// Read the audit log.
    ReadAuditLogs => Admin,
    /// Rename the organization.
    UpdateOrganization => Admin,
    /// See members and teams.
    ReadMembers => Viewer,
    /// Invite members, change roles, remove members.
    ManageMembers => Admin,
    /// Create, change and delete teams and their membership.
    ManageTeams => Manager,
    /// See leads.
    ReadLeads => Viewer,
    /// Create and change leads, their tags and notes.
    WriteLeads => Member,
    /// Delete leads (and other people's notes).
    DeleteLeads => Manager,
    /// Send notifications to a member, a team or the whole organization (broadcast).
    SendNotifications => Admin,
    /// See notification statistics of the whole organization.
    ReadNotificationStats => Admin,
    /// See scrape jobs, their pages and progress.
    ReadScrapeJobs => Viewer,
    /// Create, cancel and retry scrape jobs.
    RunScrapeJobs => Member,
    /// Delete scrape jobs (their pages and history; the leads stay).
    DeleteScrapeJobs => Manager,
    /// See email templates, campaigns, recipients and their statistics.
    ReadOutreach => Viewer,
    /// Create and change templates and campaigns, add recipients, send tests, launch, pause,
    /// resume and stop campaigns (launching passes through the approval gate).
    WriteOutreach => Member,
    /// Delete templates and campaigns.
    DeleteOutreach => Manager,
    /// Add, verify and remove the domains campaigns may send from.
    ManageSendingDomains => Admin,
    /// See approval requests, their history, previews and statistics.
    ReadApprovals => Viewer,
    /// Ask for approvals by hand, change and withdraw one's own requests; approve, reject,
    /// request changes and delegate (only as an assignee; ADMIN+ may act on any request).
    ActOnApprovals => Member,
    /// Create, change, toggle and delete approval rules.
    ManageApprovalRules => Admin,
    /// See search goals and lead analyses.
    ReadAi => Viewer,
    /// Call the AI operations (text tools, lead analysis, search goals): they spend the
    /// organization's AI budget.
    UseAi => Member,
    /// See the organization's AI usage and cost.
    ReadAiUsage => Admin,
    /// See saved locations and run the map and distance queries (leads also need `ReadLeads`).
    ReadPlaces => Viewer,
    /// Create and change saved locations.
    WritePlaces => Member,
    /// Delete saved locations.
    DeletePlaces => Manager,
    /// See the organization's files and get their download links.
    ReadFiles => Viewer,
    /// Upload files, and delete one's own.
    WriteFiles => Member,
    /// Delete anyone's files.
    DeleteFiles => Manager,
    /// See conversations (the inbox), their messages and private notes.
    ReadConversations => Viewer,
    /// Start, answer, assign, label and close conversations; write, edit and react to notes.
    WriteConversations => Member,
    /// Delete conversations and sent or received messages.
    DeleteConversations => Manager,
    /// Create, change and delete auto-responder rules.
    ManageAutoResponder => Manager,
    /// See sequences, their steps and statistics.
    ReadSequences => Viewer,
    /// Create, change, pause and resume sequences; enroll and unenroll leads.
    WriteSequences => Member,
    /// Delete sequences.
    DeleteSequences => Manager,
    /// See deals, pipelines and the analytics (dashboard and its live updates, lead and email
    /// analytics, funnel, attribution, ROI, LTV).
    ReadDeals => Viewer,
    /// Create and change deals, move them between stages, win or lose them.
    WriteDeals => Member,
    /// Create and change pipelines and their stages; set marketing costs (`setCost`, for ROI).
    ManagePipelines => Manager,
    /// Record analytics events (`trackEvents`: frontends and partners, e.g. through a MEMBER
    /// API key). Reading them (`analyticsEvents`) is `ReadDeals`.
    TrackEvents => Member,
    /// Create, change, rotate, test and delete outgoing webhook endpoints; see their deliveries
    /// and redeliver them.
    ManageWebhooks => Admin,
    /// Create, change, pause, resume and delete schedules; see their runs.
    ManageSchedules => Admin,
    /// See the n8n workflow registry and executions; execute workflows.
    RunWorkflows => Member,
    /// Create, change, activate, deactivate, delete and sync n8n workflows.
    ManageWorkflows => Admin,
    /// Configure the n8n connection and Slack integrations; see the integrations' status.
    ManageIntegrations => Admin,
    /// Post messages through the organization's Slack integrations.
    SendSlackMessages => Member,
    /// Validate contacts (email, phone, website) and save email verdicts on leads.
    ValidateContacts => Member,
    /// Enrich leads through the organization's providers (spends its enrichment budget); see
    /// the enrichment history and runs.
    EnrichLeads => Member,
}

/// How the viewer authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerVia {
    /// A JWT access token.
    Jwt,
    /// A partner API key.
    ApiKey,
}

/// The authenticated principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user (for API keys: the key's creator).
    pub user_id: Uuid,
    /// The organization every query is scoped to.
    pub org_id: Uuid,
    /// The role within that organization.
    pub role: Role,
    /// Credential kind.
    pub via: ViewerVia,
    /// Session (refresh-token family) or API key id, used to revoke live connections.
    pub session_id: Option<Uuid>,
}

impl Viewer {
    /// FORBIDDEN for API keys: a key acts for an integration, not as its creator, so it has no
    /// `me`, no personal inbox and cannot change the creator's account.
    pub fn require_person(&self) -> AppResult<()> {
        match self.via {
            ViewerVia::Jwt => Ok(()),
            ViewerVia::ApiKey => Err(AppError::Forbidden {
                message: "API keys cannot use a person's own account or inbox".into(),
                reason: Some("API_KEY_NOT_A_PERSON"),
            }),
        }
    }

    /// FORBIDDEN unless the role is at least the permission's minimum.
    pub fn require(&self, permission: Permission) -> AppResult<()> {
        if self.role >= permission.minimum_role() {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "role {} may not perform this operation",
                self.role.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The role table as docs/SECURITY.md shows it: one row per permission.
    fn table_rows() -> Vec<String> {
        Permission::ALL
            .iter()
            .map(|p| format!("| `{p:?}` | {} |", p.minimum_role().as_str()))
            .collect()
    }

    #[test]
    fn every_permission_is_documented_with_its_role() {
        // `ALL` is generated from the same list as `minimum_role` (the `permissions!` macro), so
        // this walks every permission there is. The documented table must match the code's.
        let doc = include_str!("../../docs/SECURITY.md");
        let missing: Vec<String> = table_rows()
            .into_iter()
            .filter(|row| !doc.contains(row.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/SECURITY.md's role table lacks or contradicts these rows:\n{}",
            missing.join("\n")
        );
        let mut seen = std::collections::HashSet::new();
        assert!(
            Permission::ALL.iter().all(|p| seen.insert(*p)),
            "duplicates in ALL"
        );
    }

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Manager);
        assert!(Role::Manager > Role::Member && Role::Member > Role::Viewer);
        for r in [
            Role::Viewer,
            Role::Member,
            Role::Manager,
            Role::Admin,
            Role::Owner,
        ] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn api_keys_are_not_people() {
        let mut v = Viewer {
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            role: Role::Owner,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        assert!(v.require_person().is_ok());
        v.via = ViewerVia::ApiKey;
        assert!(v.require_person().is_err());
    }

    /// Prints the table for the docs: `cargo test --lib role_table -- --nocapture --ignored`.
    #[test]
    #[ignore]
    fn role_table() {
        println!("{}", table_rows().join("\n"));
    }
}
