//! `searchGoals` compiled to one statement (see `graphql::compiled::newest`): the goal rows of
//! the ai domain's own list select (`goals::list_select`) and each goal's first page of ranked
//! results in the resolvers' order (`goals::best_first`), each result's lead as the `leads`
//! compiler writes it. The JSON-backed fields (`locations`, `strategy`, the progress counters,
//! a result's `reasons`) and the goal's `jobs` are left to the resolvers.

use async_graphql::resolver_utils::EnumType as _;
use entity::search_goal;
use sea_orm::IdenStatic;

use super::{
    frame::Layout,
    leads::lead_field,
    newest::{ordered_child_connection, page_args, NewestPlan},
    object_sql, timestamp_sql, Sel,
};
use crate::{
    auth::{Permission, Viewer},
    domains::ai::{
        service::goals::{best_first, list_select},
        types::SearchGoalStatus,
    },
};

/// The goal row of the root page.
const G: &str = "\"search_goals\"";

/// Plans the root `searchGoals` field, or `None` when the resolvers must run it.
pub fn plan_search_goals(viewer: &Viewer, field: &Sel) -> Option<NewestPlan> {
    if !field.only_args(&["first", "after", "last", "before"]) {
        return None;
    }
    let args = page_args(field)?;
    let select = list_select(viewer).ok()?;
    let layout = Layout::plan(field, "SearchGoalConnection", "SearchGoalEdge", |sel| {
        object_sql(sel, "SearchGoal", |f| goal_field(viewer, f))
    })?;
    Some(NewestPlan::new(
        select,
        search_goal::Column::Id,
        args,
        layout,
    ))
}

/// SQL for the goal's `status`: the GraphQL name of the stored form, FAILED when unknown (as
/// the resolver's `parse(…).unwrap_or(Failed)`).
fn status_sql(expr: &str) -> String {
    let arms: String = SearchGoalStatus::items()
        .iter()
        .map(|i| format!(" WHEN '{}' THEN '{}'", i.value.as_str(), i.name))
        .collect();
    let failed = SearchGoalStatus::items()
        .iter()
        .find(|i| i.value == SearchGoalStatus::Failed)
        .map_or("FAILED", |i| i.name);
    format!("CASE {expr}{arms} ELSE '{failed}' END")
}

/// The SQL of one selected `SearchGoal` field of the row [`G`].
fn goal_field(viewer: &Viewer, f: &Sel) -> Option<String> {
    let col = |c: &str| format!("{G}.\"{c}\"");
    if f.is_leaf() {
        return Some(match f.name.as_str() {
            "id" | "text" | "error" | "provider" | "model" => col(&f.name),
            "targetMarket" => col("target_market"),
            "maxLeads" => col("max_leads"),
            "status" => status_sql(&col("status")),
            "startedAt" => timestamp_sql(&col("started_at")),
            "finishedAt" => timestamp_sql(&col("finished_at")),
            "createdAt" => timestamp_sql(&col("created_at")),
            "updatedAt" => timestamp_sql(&col("updated_at")),
            _ => return None,
        });
    }
    if f.name != "results" {
        return None;
    }
    // The goal's results in its organization (`goals::org_results`), best rank first.
    let order = best_first();
    let order = format!(
        "lg_gr.{} {}",
        order.column.as_str(),
        if order.desc { "DESC" } else { "ASC" }
    );
    ordered_child_connection(
        f,
        "SearchGoalResultConnection",
        &format!(
            "search_goal_results lg_gr WHERE lg_gr.goal_id = {} AND lg_gr.org_id = {}",
            col("id"),
            col("org_id")
        ),
        &order,
        |sel| object_sql(sel, "SearchGoalResult", |r| result_field(viewer, r)),
    )
}

/// A `SearchGoalResult` field of the row `lg_gr`.
fn result_field(viewer: &Viewer, f: &Sel) -> Option<String> {
    if f.name == "lead" && f.args.is_empty() {
        // Without READ on leads the resolvers answer null: left to them.
        viewer.require(Permission::ReadLeads).ok()?;
        // The lead by primary key in the result's organization (`goals::leads_of`: a lead of
        // another organization reads as null).
        let obj = object_sql(&f.children, "Lead", |l| lead_field(viewer, l))?;
        return Some(format!(
            "(SELECT {obj} FROM leads WHERE \"leads\".\"id\" = lg_gr.lead_id AND \"leads\".\"org_id\" = lg_gr.org_id)"
        ));
    }
    if !f.is_leaf() {
        return None;
    }
    Some(match f.name.as_str() {
        "id" | "rank" | "score" | "provider" | "model" => format!("lg_gr.{}", f.name),
        "leadId" => "lg_gr.lead_id".into(),
        // Stored lowercase (`valid`, `rejected`); the resolver upper-cases it.
        "validationStatus" => "upper(lg_gr.validation)".into(),
        // `reasons` (JSON read by serde) is left to the resolvers.
        _ => return None,
    })
}
