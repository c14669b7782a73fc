//! Analytics events: `trackEvents` (a validated batch stored in one multi-row INSERT that skips
//! client event ids already stored) and `analyticsEvents` (newest first, filtered).
//!
//! A batch is all or nothing: any invalid item (including a lead of another organization) fails
//! the whole call with BAD_USER_INPUT naming each bad item's field (`events[3].leadId`) and
//! stores nothing, so a client fixes and resends one batch rather than tracking which items got
//! in. Retrying a batch is safe: `(organization, clientEventId)` is unique and the INSERT ignores
//! conflicts, so each event is stored once and the answer counts accepted vs duplicate items.
//! Tracking records no domain event: a batch is high-volume telemetry, not a change other
//! viewers follow live.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use entity::{analytics_event, lead};
use sea_orm::{
    sea_query::{Expr, OnConflict, SimpleExpr},
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer, ViewerVia},
    domains::{
        insight::types::{
            AnalyticsEvent, AnalyticsEventFilter, TrackEventInput, TrackEventsResult,
        },
        leads,
    },
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{
        keyset_page, ByExprThenId, KeyCursor, KeysetArgs, ThenIdKey, TotalCount,
    },
    ids::parse_id,
    state::AppState,
};

/// Most events one `trackEvents` call takes.
pub const MAX_BATCH: usize = 500;
/// Longest client event id, name and session id, in characters.
const MAX_TEXT: usize = 100;
/// Largest `properties` object, serialized.
const MAX_PROPERTIES_BYTES: usize = 8 * 1024;

/// Every analytics event query starts here.
pub fn scoped(viewer: &Viewer) -> Select<analytics_event::Entity> {
    analytics_event::Entity::find().filter(analytics_event::Column::OrgId.eq(viewer.org_id))
}

/// A field error of item `i`, kept with its index so the answer lists items in order.
type ItemErrors = Vec<(usize, FieldError)>;

fn push(errors: &mut ItemErrors, i: usize, field: &str, message: &str) {
    errors.push((
        i,
        FieldError {
            field: format!("events[{i}].{field}"),
            message: message.into(),
        },
    ));
}

fn text_ok(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= MAX_TEXT
}

fn name_ok(s: &str) -> bool {
    text_ok(s)
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '$' | ' '))
}

/// One item checked (errors pushed with its index) and turned into a row; its lead, if any, is
/// returned to be checked with the batch's others in one statement.
fn row_of(
    viewer: &Viewer,
    i: usize,
    e: TrackEventInput,
    now: DateTime<Utc>,
    errors: &mut ItemErrors,
) -> (analytics_event::ActiveModel, Option<Option<Uuid>>) {
    if !text_ok(&e.client_event_id) {
        push(errors, i, "clientEventId", "must be 1–100 characters");
    }
    if !name_ok(&e.name) {
        push(
            errors,
            i,
            "name",
            "must be 1–100 characters: letters, digits, spaces and _ . : - $",
        );
    }
    if e.occurred_at > now + Duration::days(1) || e.occurred_at < now - Duration::days(730) {
        push(
            errors,
            i,
            "occurredAt",
            "must be at most 1 day ahead and 2 years back",
        );
    }
    let session = e.session_id.map(|s| s.trim().to_string());
    if session.as_deref().is_some_and(|s| !text_ok(s)) {
        push(errors, i, "sessionId", "must be 1–100 characters");
    }
    let properties = e
        .properties
        .map(|p| p.0)
        .unwrap_or_else(|| serde_json::json!({}));
    let size = serde_json::to_vec(&properties).map_or(usize::MAX, |b| b.len());
    if !properties.is_object() || size > MAX_PROPERTIES_BYTES {
        push(
            errors,
            i,
            "properties",
            "must be a JSON object of at most 8 KiB",
        );
    }
    let lead = e.lead_id.as_ref().map(|id| parse_id(id).ok());
    let row = analytics_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        client_event_id: Set(e.client_event_id),
        name: Set(e.name),
        occurred_at: Set(e.occurred_at),
        lead_id: Set(lead.flatten()),
        session_id: Set(session),
        properties: Set(properties),
        user_id: Set(Some(viewer.user_id)),
        api_key_id: Set(viewer
            .session_id
            .filter(|_| viewer.via == ViewerVia::ApiKey)),
        received_at: Set(now),
    };
    (row, lead)
}

/// Each item's lead must be one of the organization's (one statement for the batch).
async fn check_leads(
    state: &AppState,
    viewer: &Viewer,
    leads_of: Vec<(usize, Option<Uuid>)>,
    errors: &mut ItemErrors,
) -> AppResult<()> {
    let wanted: HashSet<Uuid> = leads_of.iter().filter_map(|(_, l)| *l).collect();
    let found: HashSet<Uuid> = if wanted.is_empty() {
        HashSet::new()
    } else {
        leads::scoped(viewer)
            .select_only()
            .column(lead::Column::Id)
            .filter(lead::Column::Id.is_in(wanted))
            .into_tuple::<Uuid>()
            .all(&state.db)
            .await?
            .into_iter()
            .collect()
    };
    for (i, l) in leads_of {
        if !l.is_some_and(|l| found.contains(&l)) {
            push(errors, i, "leadId", "is not a lead of the organization");
        }
    }
    Ok(())
}

/// `trackEvents` (TrackEvents, MEMBER+; API keys of that role): 1–500 events, all valid or
/// none stored; one statement reads the batch's leads, one INSERT stores it.
pub async fn track(
    state: &AppState,
    viewer: &Viewer,
    events: Vec<TrackEventInput>,
) -> AppResult<TrackEventsResult> {
    viewer.require(Permission::TrackEvents)?;
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(AppError::invalid(
            "events",
            format!("give 1–{MAX_BATCH} events per call"),
        ));
    }
    let total = events.len();
    let now = Utc::now();
    let mut errors = ItemErrors::new();
    let mut rows = Vec::with_capacity(total);
    let mut leads_of: Vec<(usize, Option<Uuid>)> = Vec::new();
    for (i, e) in events.into_iter().enumerate() {
        let (row, lead) = row_of(viewer, i, e, now, &mut errors);
        if let Some(l) = lead {
            leads_of.push((i, l));
        }
        rows.push(row);
    }
    check_leads(state, viewer, leads_of, &mut errors).await?;
    if !errors.is_empty() {
        errors.sort_by_key(|(i, _)| *i);
        return Err(AppError::invalid_fields(
            errors.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    // The first item of each client event id stays; repeats within the batch are duplicates.
    let mut seen: HashSet<String> = HashSet::new();
    rows.retain(|r| match &r.client_event_id {
        sea_orm::ActiveValue::Set(id) => seen.insert(id.clone()),
        _ => true,
    });
    let accepted = analytics_event::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                analytics_event::Column::OrgId,
                analytics_event::Column::ClientEventId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await?;
    let accepted = usize::try_from(accepted).unwrap_or(total).min(total);
    Ok(TrackEventsResult {
        accepted: accepted as i32,
        duplicates: (total - accepted) as i32,
    })
}

/// The sort key of `analyticsEvents`: occurred time, then id (newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventKey(pub DateTime<Utc>, pub Uuid);

impl ThenIdKey for EventKey {
    fn sort_value(&self) -> SimpleExpr {
        Expr::value(self.0)
    }

    fn id_value(&self) -> sea_orm::Value {
        self.1.into()
    }
}

/// A page of `analyticsEvents`.
pub type EventConnection =
    async_graphql::connection::Connection<KeyCursor<EventKey>, AnalyticsEvent, TotalCount>;

/// `analyticsEvents(filter)` (ReadDeals): newest first by occurred time, one statement per page
/// (plus the count when `totalCount` is selected).
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: AnalyticsEventFilter,
    args: KeysetArgs<EventKey>,
) -> AppResult<EventConnection> {
    viewer.require(Permission::ReadDeals)?;
    let mut q = scoped(viewer);
    if let Some(n) = filter.name {
        q = q.filter(analytics_event::Column::Name.eq(n));
    }
    if let Some(s) = filter.session_id {
        q = q.filter(analytics_event::Column::SessionId.eq(s.trim().to_string()));
    }
    if let Some(id) = filter.lead_id {
        let l =
            parse_id(&id).map_err(|_| AppError::invalid("filter.leadId", "is not a valid id"))?;
        q = q.filter(analytics_event::Column::LeadId.eq(l));
    }
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        if f >= t {
            return Err(AppError::invalid("filter.to", "must be after filter.from"));
        }
    }
    if let Some(f) = filter.from {
        q = q.filter(analytics_event::Column::OccurredAt.gte(f));
    }
    if let Some(t) = filter.to {
        q = q.filter(analytics_event::Column::OccurredAt.lt(t));
    }
    let order = ByExprThenId {
        expr: Expr::col(analytics_event::Column::OccurredAt),
        id: analytics_event::Column::Id,
        desc: true,
        key_of: |m: &analytics_event::Model| EventKey(m.occurred_at, m.id),
    };
    keyset_page(&state.db, q, &order, &args, AnalyticsEvent::from).await
}
