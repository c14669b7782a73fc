//! `recentActivity`: one feed merged from the leads' timelines, campaigns, approvals, scrapes
//! and deals, newest first, in one statement.
//!
//! Each source moment is an arm (`lead`: a timeline entry; `campaign_created`,
//! `campaign_launched`, `campaign_ended`; `approval_requested`, `approval_resolved`;
//! `scrape_created`, `scrape_finished`; `deal_created`, `deal_closed`) reading its own table's
//! newest `first + 1` rows after the cursor; a `UNION ALL` of the arms is ordered and limited
//! once more. The order is `(occurred_at, source rank, id)` descending, which is total (an id
//! is unique within its table, and each arm yields a row at most once), so the cursor
//! `(occurred_at, source, id)` is stable across sources: a page never repeats or skips an item, whatever was
//! written between pages at other times. The moments are timestamps that do not move once set
//! (creation, launch, end, resolution, close). Sources the viewer may not read are left out
//! (`ReadLeads`, `ReadOutreach`, `ReadApprovals`, `ReadScrapeJobs`, `ReadDeals`).

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    ID,
};
use chrono::{DateTime, Utc};
use sea_orm::{FromQueryResult, Statement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    db::placeholder,
    domains::insight::types::{ActivityItem, ActivityType},
    error::{AppError, AppResult},
    graphql::pagination::{KeyCursor, KeysetArgs, KeysetRows},
    state::AppState,
};

/// The cursor of the feed: occurred time, source and the row's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityKey(pub DateTime<Utc>, pub String, pub Uuid);

/// A page of the feed.
pub type ActivityConnection = Connection<KeyCursor<ActivityKey>, ActivityItem, EmptyFields>;

/// One source moment of the feed (SQL fragments over its table aliased `t`).
struct Arm {
    source: &'static str,
    kind: ActivityType,
    from: &'static str,
    at: &'static str,
    action: &'static str,
    subject: &'static str,
    label: &'static str,
}

const fn arm(
    source: &'static str,
    kind: ActivityType,
    from: &'static str,
    at: &'static str,
    action: &'static str,
) -> Arm {
    Arm {
        source,
        kind,
        from,
        at,
        action,
        subject: "t.id",
        label: "t.name",
    }
}

/// Every arm, by rank: the feed's tie-break after the time (higher first), so that at equal
/// times a consequence comes before its cause (a campaign launched before the approval that let
/// it, a deal before the timeline entry of its lead).
const ARMS: &[Arm] = &[
    Arm {
        label: "t.title",
        ..arm(
            "approval_requested",
            ActivityType::Approval,
            "approval_requests t",
            "t.created_at",
            "'requested'",
        )
    },
    Arm {
        label: "t.title",
        ..arm(
            "approval_resolved",
            ActivityType::Approval,
            "approval_requests t",
            "t.resolved_at",
            "LOWER(t.status)",
        )
    },
    arm(
        "scrape_created",
        ActivityType::Scrape,
        "scrape_jobs t",
        "t.created_at",
        "'created'",
    ),
    arm(
        "scrape_finished",
        ActivityType::Scrape,
        "scrape_jobs t",
        "t.finished_at",
        "LOWER(t.status)",
    ),
    Arm {
        source: "lead",
        kind: ActivityType::Lead,
        from: "lead_interactions t JOIN leads l ON l.id = t.lead_id AND l.org_id = t.org_id",
        at: "t.created_at",
        action: "t.kind",
        subject: "t.lead_id",
        label: "l.company",
    },
    arm(
        "campaign_created",
        ActivityType::Campaign,
        "campaigns t",
        "t.created_at",
        "'created'",
    ),
    arm(
        "campaign_launched",
        ActivityType::Campaign,
        "campaigns t",
        "t.launched_at",
        "'launched'",
    ),
    arm(
        "campaign_ended",
        ActivityType::Campaign,
        "campaigns t",
        "t.completed_at",
        "LOWER(t.status)",
    ),
    Arm {
        label: "t.title",
        ..arm(
            "deal_created",
            ActivityType::Deal,
            "deals t",
            "t.created_at",
            "'created'",
        )
    },
    Arm {
        label: "t.title",
        ..arm(
            "deal_closed",
            ActivityType::Deal,
            "deals t",
            "t.closed_at",
            "LOWER(t.status)",
        )
    },
];

/// The rank of a source (its place in [`ARMS`]), None for a name that is no source.
fn rank_of(source: &str) -> Option<usize> {
    ARMS.iter().position(|a| a.source == source)
}

/// What a viewer must hold to see a source.
fn permission(kind: ActivityType) -> Permission {
    match kind {
        ActivityType::Lead => Permission::ReadLeads,
        ActivityType::Campaign => Permission::ReadOutreach,
        ActivityType::Approval => Permission::ReadApprovals,
        ActivityType::Scrape => Permission::ReadScrapeJobs,
        ActivityType::Deal => Permission::ReadDeals,
    }
}

/// The arm's rows strictly after the cursor `(T, K, I)` in feed order (time, rank, id; all
/// descending): the arm's rank `R` being a constant, `(at, R, id) < (T, rank(K), I)` is
/// `at <= T` when R < rank(K), `at < T` when R > rank(K), and `at < T OR (at = T AND id < I)`
/// when the cursor is of this arm. Ranks are compared here, not in SQL: no collation decides.
fn bound(
    rank: usize,
    a: &Arm,
    key: Option<(usize, &ActivityKey)>,
    p: &impl Fn(usize) -> String,
) -> String {
    let Some((cursor_rank, _)) = key else {
        return String::new();
    };
    let at = a.at;
    match rank.cmp(&cursor_rank) {
        std::cmp::Ordering::Less => format!(" AND {at} <= {}", p(2)),
        std::cmp::Ordering::Greater => format!(" AND {at} < {}", p(2)),
        std::cmp::Ordering::Equal => format!(
            " AND ({at} < {t} OR ({at} = {t} AND t.id < {i}))",
            t = p(2),
            i = p(3)
        ),
    }
}

fn arm_sql(
    rank: usize,
    a: &Arm,
    key: Option<(usize, &ActivityKey)>,
    limit: u64,
    p: &impl Fn(usize) -> String,
) -> String {
    format!(
        "SELECT * FROM (SELECT t.id AS item_id, '{source}' AS item_source, {rank} AS item_rank, \
         {at} AS item_at, {action} AS item_action, {subject} AS item_subject, \
         {label} AS item_label FROM {from} WHERE t.org_id = {o} AND {at} IS NOT NULL{bound} \
         ORDER BY {at} DESC, t.id DESC LIMIT {limit}) AS arm_{rank}",
        source = a.source,
        at = a.at,
        action = a.action,
        subject = a.subject,
        label = a.label,
        from = a.from,
        o = p(1),
        bound = bound(rank, a, key, p),
    )
}

#[derive(FromQueryResult, Debug)]
struct Row {
    item_id: Uuid,
    item_source: String,
    item_at: DateTime<Utc>,
    item_action: String,
    item_subject: Uuid,
    item_label: String,
}

fn noun(kind: ActivityType) -> &'static str {
    match kind {
        ActivityType::Lead => "Lead",
        ActivityType::Campaign => "Campaign",
        ActivityType::Approval => "Approval",
        ActivityType::Scrape => "Scrape",
        ActivityType::Deal => "Deal",
    }
}

fn item(r: Row) -> Option<(ActivityKey, ActivityItem)> {
    let kind = ARMS.get(rank_of(&r.item_source)?)?.kind;
    let action = r.item_action.to_lowercase();
    let title = format!(
        "{} {}: {}",
        noun(kind),
        r.item_label,
        action.replace('_', " ")
    );
    let node = ActivityItem {
        id: ID(format!("{}:{}", r.item_source, r.item_id)),
        kind,
        action,
        occurred_at: r.item_at,
        title,
        subject_id: ID(r.item_subject.to_string()),
    };
    Some((ActivityKey(r.item_at, r.item_source, r.item_id), node))
}

/// `recentActivity(first, after, types)`: one statement for any page (none when the viewer may
/// read none of the asked sources).
pub async fn feed(
    state: &AppState,
    viewer: &Viewer,
    types: Option<Vec<ActivityType>>,
    args: KeysetArgs<ActivityKey>,
) -> AppResult<ActivityConnection> {
    if types.as_ref().is_some_and(Vec::is_empty) {
        return Err(AppError::invalid(
            "types",
            "give at least one type, or leave it out for all",
        ));
    }
    let key = match &args.after {
        Some(k) => Some((
            rank_of(&k.1).ok_or_else(|| AppError::invalid("after", "invalid cursor"))?,
            k,
        )),
        None => None,
    };
    let arms: Vec<(usize, &Arm)> = ARMS
        .iter()
        .enumerate()
        .filter(|(_, a)| types.as_ref().is_none_or(|t| t.contains(&a.kind)))
        .filter(|(_, a)| viewer.require(permission(a.kind)).is_ok())
        .collect();
    let rows = if arms.is_empty() || args.limit == 0 {
        Vec::new()
    } else {
        let backend = state.db.get_database_backend();
        let p = |i: usize| placeholder(backend, i);
        let limit = args.limit + 1;
        let sql = format!(
            "{} ORDER BY item_at DESC, item_rank DESC, item_id DESC LIMIT {limit}",
            arms.iter()
                .map(|(rank, a)| arm_sql(*rank, a, key, limit, &p))
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        );
        let mut values: Vec<sea_orm::Value> = vec![viewer.org_id.into()];
        if let Some((cursor_rank, k)) = key {
            values.push(k.0.into());
            // `$3` appears only in the arm of the cursor's own source (PostgreSQL refuses a
            // parameter no placeholder uses).
            if arms.iter().any(|(rank, _)| *rank == cursor_rank) {
                values.push(k.2.into());
            }
        }
        Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(&state.db)
            .await?
    };
    let page = KeysetRows::new(&args, rows);
    let mut connection = Connection::new(page.has_prev, page.has_next);
    connection.edges.extend(
        page.rows
            .into_iter()
            .filter_map(item)
            .map(|(k, n)| Edge::new(KeyCursor(k), n)),
    );
    Ok(connection)
}
