//! The leads domain's root objects: `LeadQuery` and `LeadMutation`.

use async_graphql::{Context, Object, ID};

use super::{
    service::{self, actions, export, import, merge, query, stats, LeadConnection},
    types::{
        ColumnMappingInput, CreateLeadInput, DeleteResult, ExportFormat, ExportLink, Lead,
        LeadFilter, LeadNote, LeadOrder, LeadResult, LeadStats, LeadStatus, MergeLeadsPayload,
        OnConflict, UpdateLeadInput,
    },
};
use crate::{
    domains::audit::{self, AuditNote},
    error::{AppError, AppResult},
    graphql::{pagination::KeysetArgs, ContextExt},
    ids::parse_id,
};

fn note(ctx: &Context<'_>, id: uuid::Uuid, changes: Option<serde_json::Value>) {
    audit::note(
        ctx,
        AuditNote {
            resource_type: "lead",
            resource_id: id.to_string(),
            changes,
            ..Default::default()
        },
    );
}

/// Lead queries.
#[derive(Default)]
pub struct LeadQuery;

#[Object]
impl LeadQuery {
    /// Leads of the viewer's organization.
    #[allow(clippy::too_many_arguments)]
    async fn leads(
        &self,
        ctx: &Context<'_>,
        filter: Option<LeadFilter>,
        order_by: Option<LeadOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<LeadConnection<Lead>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let filter = filter.unwrap_or_default();
        query::list(
            state,
            viewer,
            &filter,
            order_by.unwrap_or_default(),
            KeysetArgs::new(first, after, last, before)?,
        )
        .await
    }

    /// One lead; null when it does not exist in the viewer's organization.
    async fn lead(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Lead>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(crate::auth::Permission::ReadLeads)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match service::get(&state.db, viewer, id).await {
            Ok(l) => Ok(Some(l.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Counts by status, source, score band and creation day (last 30 days).
    async fn lead_stats(
        &self,
        ctx: &Context<'_>,
        filter: Option<LeadFilter>,
    ) -> AppResult<LeadStats> {
        let (state, viewer) = ctx.state_and_viewer()?;
        stats::compute(state, viewer, &filter.unwrap_or_default()).await
    }
}

/// Lead mutations.
#[derive(Default)]
pub struct LeadMutation;

#[Object]
impl LeadMutation {
    /// Creates a lead. A duplicate email/phone is CONFLICT naming the existing lead, unless
    /// `onConflict` is MERGE or SKIP.
    async fn create_lead(
        &self,
        ctx: &Context<'_>,
        input: CreateLeadInput,
        on_conflict: Option<OnConflict>,
    ) -> AppResult<Lead> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let lead = service::create(
            state,
            viewer,
            "input.",
            input,
            on_conflict.unwrap_or_default(),
        )
        .await?;
        note(ctx, lead.id, None);
        Ok(lead.into())
    }

    /// Creates up to 200 leads; each item succeeds or fails on its own.
    async fn create_leads(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<CreateLeadInput>,
        on_conflict: Option<OnConflict>,
    ) -> AppResult<Vec<LeadResult>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let on_conflict = on_conflict.unwrap_or_default();
        let results = service::create_many(state, viewer, inputs, on_conflict).await?;
        Ok(lead_results(
            ctx,
            results.into_iter().map(|r| r.map(|l| (l, None))),
        ))
    }

    /// Changes the fields present in `input` (`null` clears a field).
    async fn update_lead(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLeadInput,
    ) -> AppResult<Lead> {
        update_one(ctx, &id, input).await
    }

    /// Applies one partial update to up to 200 leads; per-item results.
    async fn update_leads(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        input: UpdateLeadInput,
    ) -> AppResult<Vec<LeadResult>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let results = service::update_many(state, viewer, &ids, input).await?;
        let results = results.into_iter().map(|r| {
            r.map(|(before, after)| {
                let diff = lead_diff(&before, &after);
                (after, diff)
            })
        });
        Ok(lead_results(ctx, results))
    }

    /// Deletes a lead with its notes, tags and timeline (MANAGER+).
    async fn delete_lead(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let l = service::delete(state, viewer, parse_id(&id)?).await?;
        note(ctx, l.id, None);
        Ok(id)
    }

    /// Deletes up to 200 leads (MANAGER+); per-item results.
    async fn delete_leads(&self, ctx: &Context<'_>, ids: Vec<ID>) -> AppResult<Vec<DeleteResult>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let results = service::delete_many(state, viewer, &ids).await?;
        Ok(ids
            .into_iter()
            .zip(results)
            .map(|(id, r)| match r {
                Ok(l) => {
                    note(ctx, l.id, None);
                    DeleteResult {
                        id,
                        deleted: true,
                        error: None,
                    }
                }
                Err(e) => DeleteResult {
                    id,
                    deleted: false,
                    error: Some(e.into()),
                },
            })
            .collect())
    }

    /// Sets the pipeline status.
    async fn set_lead_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: LeadStatus,
    ) -> AppResult<Lead> {
        let input = UpdateLeadInput {
            status: Some(status),
            ..Default::default()
        };
        update_one(ctx, &id, input).await
    }

    /// Adds tags (normalized to lowercase).
    async fn add_lead_tags(&self, ctx: &Context<'_>, id: ID, tags: Vec<String>) -> AppResult<Lead> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let l = actions::change_tags(state, viewer, parse_id(&id)?, &tags, true).await?;
        note(ctx, l.id, None);
        Ok(l.into())
    }

    /// Removes tags.
    async fn remove_lead_tags(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tags: Vec<String>,
    ) -> AppResult<Lead> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let l = actions::change_tags(state, viewer, parse_id(&id)?, &tags, false).await?;
        note(ctx, l.id, None);
        Ok(l.into())
    }

    /// Adds a note.
    async fn add_lead_note(
        &self,
        ctx: &Context<'_>,
        lead_id: ID,
        body: String,
    ) -> AppResult<LeadNote> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let n = actions::add_note(state, viewer, parse_id(&lead_id)?, &body).await?;
        note(ctx, n.lead_id, None);
        Ok(n.into())
    }

    /// Edits a note (its author, or MANAGER+).
    async fn update_lead_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
    ) -> AppResult<LeadNote> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let n = actions::update_note(state, viewer, parse_id(&id)?, &body).await?;
        note(ctx, n.lead_id, None);
        Ok(n.into())
    }

    /// Deletes a note (its author, or MANAGER+).
    async fn delete_lead_note(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let n = actions::delete_note(state, viewer, parse_id(&id)?).await?;
        note(ctx, n.lead_id, None);
        Ok(id)
    }

    /// Records a contact (`channel`: email, phone, linkedin, meeting, …); NEW leads become
    /// CONTACTED.
    async fn mark_lead_contacted(
        &self,
        ctx: &Context<'_>,
        id: ID,
        channel: String,
        #[graphql(name = "note")] note_text: Option<String>,
    ) -> AppResult<Lead> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let l = actions::mark_contacted(state, viewer, parse_id(&id)?, &channel, note_text).await?;
        note(ctx, l.id, None);
        Ok(l.into())
    }

    /// Assigns the lead to a member (`userId: null` unassigns).
    async fn assign_lead(&self, ctx: &Context<'_>, id: ID, user_id: Option<ID>) -> AppResult<Lead> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let owner = user_id
            .map(|u| parse_id(&u).map_err(|_| AppError::NotFound("member")))
            .transpose()?;
        let l = actions::assign(state, viewer, parse_id(&id)?, owner).await?;
        note(ctx, l.id, None);
        Ok(l.into())
    }

    /// Merges duplicates into a primary lead (MANAGER+): empty fields are filled, tags united,
    /// notes and timeline moved, the duplicates deleted. `dryRun` shows the result and writes
    /// nothing.
    async fn merge_leads(
        &self,
        ctx: &Context<'_>,
        primary_id: ID,
        duplicate_ids: Vec<ID>,
        dry_run: Option<bool>,
    ) -> AppResult<MergeLeadsPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let dups = duplicate_ids
            .iter()
            .map(parse_id)
            .collect::<AppResult<Vec<_>>>()?;
        let dry_run = dry_run.unwrap_or(false);
        let m = merge::merge(state, viewer, parse_id(&primary_id)?, &dups, dry_run).await?;
        if !dry_run {
            note(ctx, m.lead.id, None);
        }
        Ok(MergeLeadsPayload {
            lead: m.lead.into(),
            changed_fields: m.changed_fields,
            added_tags: m.added_tags,
            moved_notes: m.moved_notes as i64,
            dry_run,
        })
    }

    /// A short-lived signed link that streams the matching leads as CSV (UTF-8, header row,
    /// tags joined with `;`, formula-like cells escaped).
    async fn export_leads(
        &self,
        ctx: &Context<'_>,
        filter: Option<LeadFilter>,
        format: Option<ExportFormat>,
    ) -> AppResult<ExportLink> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (url, expires_at) = export::sign(
            state,
            viewer,
            filter.unwrap_or_default(),
            format.unwrap_or_default(),
        )?;
        audit::note(
            ctx,
            AuditNote {
                resource_type: "lead_export",
                ..Default::default()
            },
        );
        Ok(ExportLink { url, expires_at })
    }

    /// Imports a CSV file as a background job: `file` (a multipart upload) or `fileId` (an
    /// IMPORT file uploaded with `uploadFile`), exactly one of them. Any instance's worker may
    /// run it (the CSV is read from object storage). Follow it with `job(id)` or the `events`
    /// subscription. Without `mapping`, columns are matched by header name. Its result lists
    /// imported/merged/skipped counts and every rejected row (row number, field, reason).
    async fn import_leads(
        &self,
        ctx: &Context<'_>,
        file: Option<async_graphql::Upload>,
        file_id: Option<ID>,
        mapping: Option<Vec<ColumnMappingInput>>,
        on_conflict: Option<OnConflict>,
    ) -> AppResult<crate::domains::jobs::types::Job> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(crate::auth::Permission::WriteLeads)?;
        let source = match (file, file_id) {
            (Some(file), None) => import::ImportSource::Upload(
                file.value(ctx)
                    .map_err(|_| AppError::invalid("file", "missing upload"))?,
            ),
            (None, Some(id)) => {
                import::ImportSource::File(parse_id(&id).map_err(|_| AppError::NotFound("file"))?)
            }
            _ => {
                return Err(AppError::invalid(
                    "fileId",
                    "pass exactly one of file and fileId",
                ))
            }
        };
        let job = import::start(
            state,
            viewer,
            source,
            mapping,
            on_conflict.unwrap_or_default(),
        )
        .await?;
        audit::note(
            ctx,
            AuditNote {
                resource_type: "job",
                resource_id: job.id.to_string(),
                ..Default::default()
            },
        );
        Ok(job.into())
    }

    /// Recomputes the score now.
    async fn score_lead(&self, ctx: &Context<'_>, id: ID) -> AppResult<Lead> {
        let (state, viewer) = ctx.state_and_viewer()?;
        Ok(actions::score_now(state, viewer, parse_id(&id)?)
            .await?
            .into())
    }
}

async fn update_one(ctx: &Context<'_>, id: &ID, input: UpdateLeadInput) -> AppResult<Lead> {
    let (state, viewer) = ctx.state_and_viewer()?;
    let (before, after) = service::update(state, viewer, parse_id(id)?, "input.", input).await?;
    note(ctx, after.id, lead_diff(&before, &after));
    Ok(after.into())
}

/// Per-item results of a batch, with an audit note (and its diff) per changed lead.
fn lead_results(
    ctx: &Context<'_>,
    results: impl Iterator<Item = AppResult<(entity::lead::Model, Option<serde_json::Value>)>>,
) -> Vec<LeadResult> {
    results
        .enumerate()
        .map(|(i, r)| match r {
            Ok((l, diff)) => {
                note(ctx, l.id, diff);
                LeadResult {
                    index: i as i32,
                    lead: Some(l.into()),
                    error: None,
                }
            }
            Err(e) => LeadResult {
                index: i as i32,
                lead: None,
                error: Some(e.into()),
            },
        })
        .collect()
}

fn lead_diff(
    before: &entity::lead::Model,
    after: &entity::lead::Model,
) -> Option<serde_json::Value> {
    let snap = |m: &entity::lead::Model| {
        serde_json::json!({
            "firstName": m.first_name, "lastName": m.last_name, "email": m.email, "phone": m.phone,
            "company": m.company, "title": m.title, "website": m.website, "industry": m.industry,
            "city": m.city, "region": m.region, "country": m.country, "source": m.source,
            "status": m.status, "customFields": m.custom_fields,
        })
    };
    audit::diff(&snap(before), &snap(after))
}
