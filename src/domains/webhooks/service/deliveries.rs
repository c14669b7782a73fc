//! Observability: an endpoint's deliveries with their attempts (one statement for the page's
//! attempts), manual redelivery, a test send answered synchronously, and statistics.

use chrono::Utc;
use entity::{webhook_attempt, webhook_delivery};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use super::{deliver, endpoints, fanout};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::types::{
        WebhookDelivery, WebhookDeliveryFilter, WebhookDeliveryStatus as Status, WebhookStats,
        WebhookTestResult,
    },
    error::{AppError, AppResult},
    events::EventType,
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::{AppState, Wakes},
};

/// Every delivery query starts here.
fn scoped(viewer: &Viewer) -> Select<webhook_delivery::Entity> {
    webhook_delivery::Entity::find().filter(webhook_delivery::Column::OrgId.eq(viewer.org_id))
}

/// A page of an endpoint's deliveries, newest first, each with its attempts.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    endpoint_id: Uuid,
    filter: WebhookDeliveryFilter,
    args: PageArgs,
) -> AppResult<IdConnection<WebhookDelivery>> {
    viewer.require(Permission::ManageWebhooks)?;
    let ep = endpoints::get(&state.db, viewer, endpoint_id).await?;
    let mut select = scoped(viewer).filter(webhook_delivery::Column::EndpointId.eq(ep.id));
    if let Some(s) = filter.status {
        select = select.filter(webhook_delivery::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = filter.event_type {
        select = select.filter(webhook_delivery::Column::EventType.eq(t.type_name()));
    }
    let mut page = page_by_id_desc(
        &state.db,
        select,
        webhook_delivery::Column::Id,
        &args,
        |m| m.id,
        |row| WebhookDelivery {
            row,
            attempts: Vec::new(),
        },
    )
    .await?;
    let ids: Vec<Uuid> = page.edges.iter().map(|e| e.node.row.id).collect();
    if ids.is_empty() {
        return Ok(page);
    }
    let attempts = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(ids))
        .order_by_asc(webhook_attempt::Column::DeliveryId)
        .order_by_asc(webhook_attempt::Column::Attempt)
        .all(&state.db)
        .await?;
    for edge in &mut page.edges {
        let id = edge.node.row.id;
        edge.node.attempts = attempts
            .iter()
            .filter(|a| a.delivery_id == id)
            .cloned()
            .collect();
    }
    Ok(page)
}

/// One delivery with its attempts.
async fn one(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<WebhookDelivery> {
    let row = scoped(viewer)
        .filter(webhook_delivery::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("webhook delivery"))?;
    let attempts = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.eq(row.id))
        .order_by_asc(webhook_attempt::Column::Attempt)
        .all(&state.db)
        .await?;
    Ok(WebhookDelivery { row, attempts })
}

/// Sends a settled delivery again now (same `webhook-id`): it becomes PENDING and its next
/// attempt is queued; a failure is retried while the retry schedule has entries left.
/// CONFLICT while it is still pending or when its endpoint is disabled.
pub async fn redeliver(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<WebhookDelivery> {
    viewer.require(Permission::ManageWebhooks)?;
    let d = one(state, viewer, id).await?.row;
    let ep = endpoints::get(&state.db, viewer, d.endpoint_id).await?;
    if !ep.enabled {
        return Err(AppError::Conflict("the endpoint is disabled".into()));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let updated = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(Status::Pending.as_str()),
        )
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(Some(now)),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .filter(webhook_delivery::Column::Status.ne(Status::Pending.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::Conflict(
            "the delivery is still pending; its next attempt is queued".into(),
        ));
    }
    deliver::enqueue(&txn, d.id, d.attempts + 1, now).await?;
    state.commit(txn, Wakes::Jobs).await?;
    one(state, viewer, id).await
}

/// Sends a sample event of `event_type` to the endpoint now (enabled or not) and answers with
/// the response; the send is recorded as a delivery, never retried.
pub async fn test(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    event_type: EventType,
) -> AppResult<WebhookTestResult> {
    viewer.require(Permission::ManageWebhooks)?;
    let ep = endpoints::get(&state.db, viewer, id).await?;
    let now = Utc::now();
    let delivery_id = Uuid::now_v7();
    let data = serde_json::json!({ "test": true, "endpointId": ep.id.to_string() });
    let row = webhook_delivery::ActiveModel {
        id: Set(delivery_id),
        org_id: Set(ep.org_id),
        endpoint_id: Set(ep.id),
        event_id: Set(None),
        message_id: Set(format!("msg_{}", delivery_id.simple())),
        event_type: Set(event_type.type_name().to_string()),
        body: Set(fanout::body(event_type.type_name(), now, data)?),
        status: Set(Status::Pending.as_str().to_string()),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        last_status_code: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    let client = deliver::client(&state.config).map_err(AppError::internal)?;
    let secrets = endpoints::signing_secrets(&state.secrets, &ep, now)?;
    let sent = deliver::send(&client, &secrets, &ep, &row).await;
    deliver::record(state, &ep, &row, 1, &sent, false).await?;
    Ok(WebhookTestResult {
        success: sent.success(),
        status_code: sent.status.map(i32::from),
        response_body: sent.excerpt.clone(),
        error: sent.error.clone(),
        duration_ms: sent.duration_ms,
        delivery: one(state, viewer, delivery_id).await?,
    })
}

/// Counts by status, attempt durations, and the last success and failure.
pub async fn stats(
    state: &AppState,
    viewer: &Viewer,
    endpoint_id: Uuid,
) -> AppResult<WebhookStats> {
    viewer.require(Permission::ManageWebhooks)?;
    let ep = endpoints::get(&state.db, viewer, endpoint_id).await?;
    let by_status: Vec<(String, i64)> = scoped(viewer)
        .filter(webhook_delivery::Column::EndpointId.eq(ep.id))
        .select_only()
        .column(webhook_delivery::Column::Status)
        .expr(Expr::cust("COUNT(*)"))
        .group_by(webhook_delivery::Column::Status)
        .into_tuple::<(String, i64)>()
        .all(&state.db)
        .await?;
    let count = |s: Status| {
        by_status
            .iter()
            .filter(|(k, _)| k == s.as_str())
            .map(|(_, n)| *n)
            .sum::<i64>()
    };
    let (succeeded, failed, pending) = (
        count(Status::Succeeded),
        count(Status::Failed),
        count(Status::Pending),
    );
    let (attempts, total_ms): (i64, i64) = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::OrgId.eq(viewer.org_id))
        .filter(
            webhook_attempt::Column::DeliveryId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(webhook_delivery::Column::Id)
                    .from(webhook_delivery::Entity)
                    .and_where(webhook_delivery::Column::EndpointId.eq(ep.id))
                    .to_owned(),
            ),
        )
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust("CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT)"))
        .into_tuple::<(i64, i64)>()
        .one(&state.db)
        .await?
        .unwrap_or((0, 0));
    let last = |s: Status| {
        scoped(viewer)
            .filter(webhook_delivery::Column::EndpointId.eq(ep.id))
            .filter(webhook_delivery::Column::Status.eq(s.as_str()))
            .order_by_desc(webhook_delivery::Column::UpdatedAt)
            .one(&state.db)
    };
    let finished = succeeded + failed;
    Ok(WebhookStats {
        total: succeeded + failed + pending,
        succeeded,
        failed,
        pending,
        success_rate: (finished > 0).then(|| succeeded as f64 / finished as f64),
        attempts,
        average_duration_ms: (attempts > 0).then(|| total_ms as f64 / attempts as f64),
        last_success_at: last(Status::Succeeded).await?.map(|d| d.updated_at),
        last_failure_at: last(Status::Failed).await?.map(|d| d.updated_at),
    })
}
