//! The GENERATE_REPORT schedule action. Payload: `{"reportId": ID, "mailTo": [emails]}`, where
//! the report is one of the organization's and each address is a member's (at most
//! [`MAX_MAIL_TO`]; reports are not mailed outside the organization). Each occurrence queues a
//! run of the report as the member who created the schedule, with their current role, in the
//! transaction that claims the occurrence (insight's `queue_report_run`: the daily limit
//! applies); the run mails its download link to `mailTo` when it succeeds. An occurrence that
//! cannot queue its run (the report deleted, the creator gone or no longer allowed, the limit
//! reached) is stored FAILED with the reason.

use serde_json::Value;
use uuid::Uuid;

use super::endpoints::Checks;
use crate::{
    auth::{Permission, Viewer},
    domains::{
        identity::{member_viewer, non_member_emails},
        insight::{get_report, queue_report_run},
    },
    error::{AppError, AppResult},
};
use entity::schedule;
use sea_orm::ConnectionTrait;

/// Most addresses a scheduled report is mailed to.
pub const MAX_MAIL_TO: usize = 20;

/// A GENERATE_REPORT payload, read.
#[derive(Debug, PartialEq)]
pub struct ReportAction {
    pub report_id: Uuid,
    pub mail_to: Vec<String>,
}

/// The payload's shape: field errors (relative to `payload`) or the action.
fn parse(payload: &Value) -> Result<ReportAction, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let report_id = match payload.get("reportId").and_then(Value::as_str) {
        Some(s) => Uuid::parse_str(s.trim()).ok().or_else(|| {
            errors.push(("payload.reportId".into(), "is not a report id".into()));
            None
        }),
        None => {
            errors.push((
                "payload.reportId".into(),
                "is required for GENERATE_REPORT".into(),
            ));
            None
        }
    };
    let mut mail_to = Vec::new();
    match payload.get("mailTo") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() > MAX_MAIL_TO => errors.push((
            "payload.mailTo".into(),
            format!("must hold at most {MAX_MAIL_TO} addresses"),
        )),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(|s| s.trim().to_lowercase()) {
                    Some(e) if e.contains('@') && !mail_to.contains(&e) => mail_to.push(e),
                    Some(e) if mail_to.contains(&e) => {}
                    _ => errors.push((
                        format!("payload.mailTo.{i}"),
                        "is not an email address".into(),
                    )),
                }
            }
        }
        Some(_) => errors.push((
            "payload.mailTo".into(),
            "must be a list of email addresses".into(),
        )),
    }
    for key in payload.as_object().into_iter().flat_map(|m| m.keys()) {
        if key != "reportId" && key != "mailTo" {
            errors.push((
                format!("payload.{key}"),
                "is not a GENERATE_REPORT field".into(),
            ));
        }
    }
    match report_id {
        Some(report_id) if errors.is_empty() => Ok(ReportAction { report_id, mail_to }),
        _ => Err(errors),
    }
}

/// Checks a GENERATE_REPORT payload for `viewer` (who must be allowed to generate reports):
/// its shape, that the report is the organization's and that every address is a member's.
/// Problems go to `checks` by field.
pub(super) async fn check(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    payload: &Value,
    checks: &mut Checks,
) -> AppResult<()> {
    viewer.require(Permission::WriteDeals)?;
    let action = match parse(payload) {
        Ok(a) => a,
        Err(errors) => {
            for (field, message) in errors {
                checks.push(&field, message);
            }
            return Ok(());
        }
    };
    match get_report(conn, viewer, action.report_id).await {
        Ok(_) => {}
        Err(AppError::NotFound(_)) => checks.push("payload.reportId", "no such report".into()),
        Err(e) => return Err(e),
    }
    for i in non_member_emails(conn, viewer.org_id, &action.mail_to).await? {
        checks.push(
            &format!("payload.mailTo.{i}"),
            "is not the address of a member of the organization".into(),
        );
    }
    Ok(())
}

/// Queues the report run of occurrence of `s` in `txn`; `Some(reason)` when it could not be
/// queued (the occurrence is then FAILED), an error only when the database failed.
pub async fn fire(txn: &impl ConnectionTrait, s: &schedule::Model) -> AppResult<Option<String>> {
    let action = match parse(&s.payload) {
        Ok(a) => a,
        Err(_) => {
            return Ok(Some(
                "the schedule's payload is not a valid report action".into(),
            ))
        }
    };
    let Some(creator) = s.created_by else {
        return Ok(Some("the schedule has no creator to act as".into()));
    };
    let Some(viewer) = member_viewer(txn, s.org_id, creator).await? else {
        return Ok(Some(
            "the member who created the schedule is no longer in the organization".into(),
        ));
    };
    match queue_report_run(txn, &viewer, action.report_id, &action.mail_to).await {
        Ok(_) => Ok(None),
        Err(AppError::NotFound(_)) => Ok(Some("the report was deleted".into())),
        Err(AppError::RateLimited { .. }) => Ok(Some(
            "the organization reached its daily report limit".into(),
        )),
        Err(AppError::Forbidden { message, .. }) => Ok(Some(format!(
            "the member who created the schedule may not generate it: {message}"
        ))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_payload_shape_names_each_bad_field() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse(&json!({"reportId": id.to_string(), "mailTo": ["A@x.test", "a@x.test"]})),
            Ok(ReportAction {
                report_id: id,
                mail_to: vec!["a@x.test".into()],
            })
        );
        let fields = |v: Value| -> Vec<String> {
            parse(&v).unwrap_err().into_iter().map(|(f, _)| f).collect()
        };
        assert_eq!(fields(json!({})), ["payload.reportId"]);
        assert_eq!(fields(json!({"reportId": "nope"})), ["payload.reportId"]);
        assert_eq!(
            fields(json!({"reportId": id.to_string(), "mailTo": ["ok@x.test", 3, "no-at"]})),
            ["payload.mailTo.1", "payload.mailTo.2"]
        );
        assert_eq!(
            fields(json!({"reportId": id.to_string(), "mailTo": "a@x.test"})),
            ["payload.mailTo"]
        );
        assert_eq!(
            fields(json!({"reportId": id.to_string(), "extra": 1})),
            ["payload.extra"]
        );
        let many: Vec<String> = (0..=MAX_MAIL_TO).map(|i| format!("m{i}@x.test")).collect();
        assert_eq!(
            fields(json!({"reportId": id.to_string(), "mailTo": many})),
            ["payload.mailTo"]
        );
    }
}
