//! Plans: what a compilable request runs (one root plan per root field), and the cache of
//! recent plans (see `graphql::compiled`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::Request;

use super::{approvals, flat, goals, leads, newest, outreach, push_key, scrape, selection, single};
use crate::{auth::Viewer, state::AppState};

/// The compiled form of a request, ready to run.
pub struct Plan {
    operation_name: Option<String>,
    roots: Vec<(String, Root)>,
}

enum Root {
    Typename,
    Leads(Box<leads::LeadsPlan>),
    Newest(Box<newest::NewestPlan>),
    One(Box<single::OnePlan>),
}

/// Plans of recent requests. A plan depends only on the document, the operation, the variables
/// and the viewer (its organization scopes the statement, its role decides what is covered),
/// not on data, so a repeated request (a dashboard polling, a client paging with the same
/// cursor) skips parsing, which was ~10 % of the server's CPU on the figure (a) load, and
/// planning. Bounded: at most `PLAN_CACHE_MAX` plans of documents up to `PLAN_CACHE_MAX_KEY`
/// bytes, emptied when full.
#[derive(Default)]
pub struct PlanCache(Mutex<HashMap<PlanKey, Arc<Plan>>>);

#[derive(PartialEq, Eq, Hash)]
struct PlanKey {
    query: String,
    operation: Option<String>,
    variables: String,
    user: uuid::Uuid,
    org: uuid::Uuid,
    role: crate::auth::Role,
}

const PLAN_CACHE_MAX: usize = 512;

/// Largest document + variables cached (bytes), so the cache stays small (512 × 16 KiB) however
/// large the request bodies it is sent; larger requests are planned every time.
const PLAN_CACHE_MAX_KEY: usize = 16 * 1024;

impl PlanCache {
    fn get(&self, key: &PlanKey) -> Option<Arc<Plan>> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: PlanKey, plan: Arc<Plan>) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= PLAN_CACHE_MAX {
                map.clear();
            }
            map.insert(key, plan);
        }
    }
}

/// Plans `request` for `viewer`, or `None` when the resolvers must run it.
pub fn plan(state: &AppState, request: &mut Request, viewer: Option<&Viewer>) -> Option<Arc<Plan>> {
    if !state.config.reads.compiled
        || state.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres
        || request.extensions.contains_key("persistedQuery")
    {
        return None;
    }
    let viewer = viewer?;
    let key = PlanKey {
        query: request.query.clone(),
        operation: request.operation_name.clone(),
        variables: serde_json::to_string(&request.variables).ok()?,
        user: viewer.user_id,
        org: viewer.org_id,
        role: viewer.role,
    };
    let cacheable = key.query.len() + key.variables.len() <= PLAN_CACHE_MAX_KEY;
    if cacheable {
        if let Some(plan) = state.plans.get(&key) {
            return Some(plan);
        }
    }
    let plan = Arc::new(plan_for(&state.config.limits, request, viewer)?);
    if cacheable {
        state.plans.put(key, plan.clone());
    }
    Some(plan)
}

/// [`plan`] without the configuration and backend checks (`leadgraph compile-query`).
pub fn plan_for(
    limits: &crate::config::GraphqlLimits,
    request: &mut Request,
    viewer: &Viewer,
) -> Option<Plan> {
    let (operation_name, roots) = selection(limits, request)?;
    let mut planned = Vec::with_capacity(roots.len());
    for root in &roots {
        if !root.applies_to("Query") {
            return None;
        }
        let p = match root.name.as_str() {
            "__typename" if root.is_leaf() => Root::Typename,
            "leads" => Root::Leads(Box::new(leads::plan(viewer, root)?)),
            "campaigns" => Root::Newest(Box::new(outreach::plan_campaigns(viewer, root)?)),
            "notifications" => Root::Newest(Box::new(flat::plan_notifications(viewer, root)?)),
            "auditLogs" => Root::Newest(Box::new(flat::plan_audit_logs(viewer, root)?)),
            "lead" => Root::One(Box::new(single::plan_lead(viewer, root)?)),
            "scrapeJobs" => Root::Newest(Box::new(scrape::plan_scrape_jobs(viewer, root)?)),
            "approvalRequests" => {
                Root::Newest(Box::new(approvals::plan_approval_requests(viewer, root)?))
            }
            "searchGoals" => Root::Newest(Box::new(goals::plan_search_goals(viewer, root)?)),
            _ => return None,
        };
        planned.push((root.key.clone(), p));
    }
    Some(Plan {
        operation_name,
        roots: planned,
    })
}

impl Plan {
    /// The operation's name (metrics label).
    pub fn operation_name(&self) -> Option<&str> {
        self.operation_name.as_deref()
    }

    /// The statements the plan runs, with their values inlined (for `leadgraph compile-query`
    /// and the pgbench side of `bench/nested.sh`).
    pub fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, root) in &self.roots {
            match root {
                Root::Leads(p) => {
                    out.push(p.page_statement().to_string());
                    out.extend(p.count_statement().map(|s| s.to_string()));
                }
                Root::Newest(p) => out.extend(p.statements().iter().map(|s| s.to_string())),
                Root::One(p) => out.push(p.statement().to_string()),
                Root::Typename => {}
            }
        }
        out
    }

    /// Runs the plan; the body of a GraphQL response (`{"data":…}`).
    /// The response key of the first root field (where an error of the whole read is reported).
    pub fn first_key(&self) -> Option<&str> {
        self.roots.first().map(|(key, _)| key.as_str())
    }

    pub async fn execute(&self, state: &AppState) -> Result<String, sea_orm::DbErr> {
        let mut out = String::with_capacity(16 * 1024);
        out.push_str("{\"data\":{");
        for (i, (key, root)) in self.roots.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_key(&mut out, key);
            match root {
                Root::Typename => out.push_str("\"Query\""),
                Root::Leads(p) => p.execute(state, &mut out).await?,
                Root::Newest(p) => p.execute(state, &mut out).await?,
                Root::One(p) => p.execute(state, &mut out).await?,
            }
        }
        out.push_str("}}");
        Ok(out)
    }
}
