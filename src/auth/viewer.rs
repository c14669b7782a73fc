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

/// Operations guarded by role. The single table in [`Permission::minimum_role`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See background jobs of the organization.
    ReadJobs,
    /// Cancel or retry background jobs.
    ManageJobs,
    /// Receive the organization's live events.
    SubscribeEvents,
    /// Create, list and revoke API keys.
    ManageApiKeys,
    /// Read the audit log.
    ReadAuditLogs,
    /// Rename the organization.
    UpdateOrganization,
    /// See members and teams.
    ReadMembers,
    /// Invite members, change roles, remove members.
    ManageMembers,
    /// Create, change and delete teams and their membership.
    ManageTeams,
    /// See leads.
    ReadLeads,
    /// Create and change leads, their tags and notes.
    WriteLeads,
    /// Delete leads (and other people's notes).
    DeleteLeads,
    /// Send notifications to a member, a team or the whole organization (broadcast).
    SendNotifications,
    /// See notification statistics of the whole organization.
    ReadNotificationStats,
    /// See scrape jobs, their pages and progress.
    ReadScrapeJobs,
    /// Create, cancel and retry scrape jobs.
    RunScrapeJobs,
    /// Delete scrape jobs (their pages and history; the leads stay).
    DeleteScrapeJobs,
    /// See email templates, campaigns, recipients and their statistics.
    ReadOutreach,
    /// Create and change templates and campaigns, add recipients, send tests, launch, pause,
    /// resume and stop campaigns (launching passes through the approval gate).
    WriteOutreach,
    /// Delete templates and campaigns.
    DeleteOutreach,
    /// See approval requests, their history, previews and statistics.
    ReadApprovals,
    /// Ask for approvals by hand, change and withdraw one's own requests; approve, reject,
    /// request changes and delegate (only as an assignee; ADMIN+ may act on any request).
    ActOnApprovals,
    /// Create, change, toggle and delete approval rules.
    ManageApprovalRules,
    /// See search goals and lead analyses.
    ReadAi,
    /// Call the AI operations (text tools, lead analysis, search goals): they spend the
    /// organization's AI budget.
    UseAi,
    /// See the organization's AI usage and cost.
    ReadAiUsage,
}

impl Permission {
    /// Every permission, for the test that walks the table.
    pub const ALL: &'static [Permission] = &[
        Permission::ReadJobs,
        Permission::ManageJobs,
        Permission::SubscribeEvents,
        Permission::SendNotifications,
        Permission::ReadNotificationStats,
        Permission::ReadScrapeJobs,
        Permission::RunScrapeJobs,
        Permission::DeleteScrapeJobs,
        Permission::ReadOutreach,
        Permission::WriteOutreach,
        Permission::DeleteOutreach,
        Permission::ReadApprovals,
        Permission::ActOnApprovals,
        Permission::ManageApprovalRules,
        Permission::ReadAi,
        Permission::UseAi,
        Permission::ReadAiUsage,
    ];

    /// The weakest role allowed to perform the operation.
    pub fn minimum_role(self) -> Role {
        match self {
            Permission::ReadJobs => Role::Viewer,
            Permission::ManageJobs => Role::Manager,
            Permission::SubscribeEvents => Role::Viewer,
            Permission::ManageApiKeys => Role::Admin,
            Permission::ReadAuditLogs => Role::Admin,
            Permission::UpdateOrganization => Role::Admin,
            Permission::ReadMembers => Role::Viewer,
            Permission::ManageMembers => Role::Admin,
            Permission::ManageTeams => Role::Manager,
            Permission::ReadLeads => Role::Viewer,
            Permission::WriteLeads => Role::Member,
            Permission::DeleteLeads => Role::Manager,
            Permission::SendNotifications => Role::Admin,
            Permission::ReadNotificationStats => Role::Admin,
            Permission::ReadScrapeJobs => Role::Viewer,
            Permission::RunScrapeJobs => Role::Member,
            Permission::DeleteScrapeJobs => Role::Manager,
            Permission::ReadOutreach => Role::Viewer,
            Permission::WriteOutreach => Role::Member,
            Permission::DeleteOutreach => Role::Manager,
            Permission::ReadApprovals => Role::Viewer,
            Permission::ActOnApprovals => Role::Member,
            Permission::ManageApprovalRules => Role::Admin,
            Permission::ReadAi => Role::Viewer,
            Permission::UseAi => Role::Member,
            Permission::ReadAiUsage => Role::Admin,
        }
    }
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

    #[test]
    fn role_order_and_table() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Manager);
        assert!(Role::Manager > Role::Member && Role::Member > Role::Viewer);
        let roles = [
            Role::Viewer,
            Role::Member,
            Role::Manager,
            Role::Admin,
            Role::Owner,
        ];
        for p in Permission::ALL {
            for r in roles {
                let v = Viewer {
                    user_id: Uuid::nil(),
                    org_id: Uuid::nil(),
                    role: r,
                    via: ViewerVia::Jwt,
                    session_id: None,
                };
                assert_eq!(v.require(*p).is_ok(), r >= p.minimum_role(), "{p:?} {r:?}");
            }
        }
        for r in roles {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
