//! Pipelines and their stages: list, one, create, update (stages kept, added, re-ordered or
//! removed in one transaction).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{deal, deal_stage, pipeline};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    domains::insight::types::{CreatePipelineInput, Pipeline, StageInput, UpdatePipelineInput},
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{keyset_rows, newest_first, IdConnection, PageArgs, TotalCount},
    ids::parse_id,
    state::AppState,
};

/// Most stages a pipeline may have.
pub const MAX_STAGES: usize = 20;

/// Every pipeline query starts here.
pub fn scoped(viewer: &Viewer) -> Select<pipeline::Entity> {
    pipeline::Entity::find().filter(pipeline::Column::OrgId.eq(viewer.org_id))
}

/// A pipeline of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<pipeline::Model> {
    scoped(viewer)
        .filter(pipeline::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("pipeline"))
}

/// The stages of `ids` (stages of the viewer's organization), in one statement, by pipeline and
/// in order.
pub async fn stages_of(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<deal_stage::Model>>> {
    let mut by: HashMap<Uuid, Vec<deal_stage::Model>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by);
    }
    let rows = deal_stage::Entity::find()
        .filter(deal_stage::Column::OrgId.eq(viewer.org_id))
        .filter(deal_stage::Column::PipelineId.is_in(ids.iter().copied()))
        .order_by_asc(deal_stage::Column::Position)
        .all(conn)
        .await?;
    for s in rows {
        by.entry(s.pipeline_id).or_default().push(s);
    }
    Ok(by)
}

/// A page of pipelines, newest first: two statements at any page size (pipelines, stages).
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<Pipeline>> {
    viewer.require(Permission::ReadDeals)?;
    let q = scoped(viewer);
    let total = TotalCount::of(state.db.clone(), q.clone());
    let order = newest_first::<pipeline::Entity>(pipeline::Column::Id, |m| m.id);
    let page = keyset_rows(&state.db, q, &order, &args).await?;
    let ids: Vec<Uuid> = page.rows.iter().map(|m| m.id).collect();
    let mut stages = stages_of(&state.db, viewer, &ids).await?;
    Ok(page.into_connection_batch(
        total,
        |m| m.id,
        |rows| {
            rows.into_iter()
                .map(|m| {
                    let s = stages.remove(&m.id).unwrap_or_default();
                    Pipeline::new(m, s)
                })
                .collect::<Vec<_>>()
        },
    ))
}

/// One pipeline with its stages.
pub async fn one(conn: &impl ConnectionTrait, viewer: &Viewer, id: Uuid) -> AppResult<Pipeline> {
    viewer.require(Permission::ReadDeals)?;
    let p = get(conn, viewer, id).await?;
    let stages = stages_of(conn, viewer, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Pipeline::new(p, stages))
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError {
            field: "input.name".into(),
            message: "must be 1–100 characters".into(),
        });
    }
    name.to_string()
}

/// Checks the list of stages (count, names, probabilities); field errors name each stage.
fn check_stages(stages: &[StageInput], errors: &mut Vec<FieldError>) {
    if stages.is_empty() || stages.len() > MAX_STAGES {
        errors.push(FieldError {
            field: "input.stages".into(),
            message: format!("give 1–{MAX_STAGES} stages"),
        });
    }
    let mut names = HashSet::new();
    for (i, s) in stages.iter().enumerate() {
        let name = s.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError {
                field: format!("input.stages[{i}].name"),
                message: "must be 1–100 characters".into(),
            });
        } else if !names.insert(name.to_lowercase()) {
            errors.push(FieldError {
                field: format!("input.stages[{i}].name"),
                message: "is used by another stage of the pipeline".into(),
            });
        }
        if !(0..=100).contains(&s.win_probability) {
            errors.push(FieldError {
                field: format!("input.stages[{i}].winProbability"),
                message: "must be between 0 and 100".into(),
            });
        }
    }
}

fn stage_row(
    org: Uuid,
    pipeline: Uuid,
    i: usize,
    s: &StageInput,
    id: Uuid,
) -> deal_stage::ActiveModel {
    deal_stage::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        pipeline_id: Set(pipeline),
        name: Set(s.name.trim().to_string()),
        position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
        win_probability: Set(s.win_probability),
    }
}

/// `createPipeline` (MANAGER+).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreatePipelineInput,
) -> AppResult<Pipeline> {
    viewer.require(Permission::ManagePipelines)?;
    let mut errors = Vec::new();
    let name = check_name(&input.name, &mut errors);
    check_stages(&input.stages, &mut errors);
    for (i, s) in input.stages.iter().enumerate() {
        if s.id.is_some() {
            errors.push(FieldError {
                field: format!("input.stages[{i}].id"),
                message: "a new pipeline's stages have no id".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let p = pipeline::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let rows: Vec<deal_stage::ActiveModel> = input
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| stage_row(viewer.org_id, p.id, i, s, Uuid::now_v7()))
        .collect();
    deal_stage::Entity::insert_many(rows).exec(&txn).await?;
    txn.commit().await?;
    one(&state.db, viewer, p.id).await
}

/// Which existing stage each input stage keeps (`None`: a new one); field errors for ids that
/// are not stages of this pipeline or are listed twice.
fn kept_ids(
    stages: &[StageInput],
    existing: &[deal_stage::Model],
    errors: &mut Vec<FieldError>,
) -> Vec<Option<Uuid>> {
    let mine: HashSet<Uuid> = existing.iter().map(|s| s.id).collect();
    let mut seen = HashSet::new();
    stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = s.id.as_ref()?;
            match parse_id(id) {
                Ok(u) if mine.contains(&u) && seen.insert(u) => Some(u),
                _ => {
                    errors.push(FieldError {
                        field: format!("input.stages[{i}].id"),
                        message: "is not a stage of this pipeline (or is listed twice)".into(),
                    });
                    None
                }
            }
        })
        .collect()
}

/// `updatePipeline` (MANAGER+): name and/or the full list of stages. A stage left out that a
/// deal is in is CONFLICT.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdatePipelineInput,
) -> AppResult<Pipeline> {
    viewer.require(Permission::ManagePipelines)?;
    let p = get(&state.db, viewer, id).await?;
    let existing = stages_of(&state.db, viewer, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let mut errors = Vec::new();
    let name = input.name.as_deref().map(|n| check_name(n, &mut errors));
    let kept = match &input.stages {
        Some(stages) => {
            check_stages(stages, &mut errors);
            Some(kept_ids(stages, &existing, &mut errors))
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let txn = state.db.begin().await?;
    if let (Some(stages), Some(kept)) = (&input.stages, kept) {
        replace_stages(&txn, viewer, id, stages, &kept, &existing).await?;
    }
    let mut a: pipeline::ActiveModel = p.into();
    if let Some(name) = name {
        a.name = Set(name);
    }
    a.updated_at = Set(Utc::now());
    a.update(&txn).await?;
    txn.commit().await?;
    one(&state.db, viewer, id).await
}

async fn replace_stages(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    pipeline_id: Uuid,
    stages: &[StageInput],
    kept: &[Option<Uuid>],
    existing: &[deal_stage::Model],
) -> AppResult<()> {
    let keep: HashSet<Uuid> = kept.iter().flatten().copied().collect();
    let removed: Vec<Uuid> = existing
        .iter()
        .map(|s| s.id)
        .filter(|s| !keep.contains(s))
        .collect();
    if !removed.is_empty() {
        let in_use = deal::Entity::find()
            .filter(deal::Column::OrgId.eq(viewer.org_id))
            .filter(deal::Column::StageId.is_in(removed.clone()))
            .count(txn)
            .await?;
        if in_use > 0 {
            return Err(AppError::Conflict(format!(
                "{in_use} deal(s) are in a stage this change removes; move them first"
            )));
        }
        deal_stage::Entity::delete_many()
            .filter(deal_stage::Column::Id.is_in(removed))
            .exec(txn)
            .await?;
    }
    for (i, (s, id)) in stages.iter().zip(kept).enumerate() {
        let row = stage_row(
            viewer.org_id,
            pipeline_id,
            i,
            s,
            id.unwrap_or_else(Uuid::now_v7),
        );
        if id.is_some() {
            row.update(txn).await?;
        } else {
            row.insert(txn).await?;
        }
    }
    Ok(())
}
