//! Single-object roots compiled to one statement (see `graphql::compiled`): `lead(id)`, the
//! lead by primary key in the viewer's organization with its fields as the `leads` compiler
//! writes them (nested campaigns, notes and timeline included). A missing lead, another
//! organization's, or an id that is not a UUID reads as `null`, as in the resolvers.

use async_graphql::ID;
use sea_orm::{sqlx::Row as _, ConnectionTrait, DatabaseBackend, DbErr, Statement};
use uuid::Uuid;

use super::{leads::lead_field, object_sql, Sel};
use crate::{
    auth::{Permission, Viewer},
    state::AppState,
};

/// A planned single-object root: a statement of zero or one row whose only column is the
/// object's JSON.
pub struct OnePlan {
    statement: Statement,
}

/// Plans the root `lead(id)`, or `None` when the resolvers must run it (no permission: they
/// report the error).
pub fn plan_lead(viewer: &Viewer, field: &Sel) -> Option<OnePlan> {
    if !field.only_args(&["id"]) || viewer.require(Permission::ReadLeads).is_err() {
        return None;
    }
    let id: ID = field.arg("id", "ID", true)??;
    // Not a UUID: the resolvers answer null without a statement.
    let id = Uuid::parse_str(id.as_str()).ok()?;
    let obj = object_sql(&field.children, "Lead", |f| lead_field(viewer, f))?;
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        format!(
            "SELECT ({obj})::text AS lg_node0 FROM leads WHERE \"leads\".\"id\" = $1 AND \"leads\".\"org_id\" = $2"
        ),
        [id.into(), viewer.org_id.into()],
    );
    Some(OnePlan { statement })
}

impl OnePlan {
    /// The statement it runs.
    pub fn statement(&self) -> Statement {
        self.statement.clone()
    }

    /// Runs the statement and writes the object, or `null`.
    pub async fn execute(&self, state: &AppState, out: &mut String) -> Result<(), DbErr> {
        match state.db.query_one_raw(self.statement.clone()).await? {
            Some(row) => {
                let pg = row
                    .try_as_pg_row()
                    .ok_or_else(|| DbErr::Type("compiled reads need PostgreSQL rows".into()))?;
                let json: String = pg.try_get(0).map_err(|e| DbErr::Type(e.to_string()))?;
                out.push_str(&json);
            }
            None => out.push_str("null"),
        }
        Ok(())
    }
}
