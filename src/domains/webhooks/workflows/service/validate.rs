//! `validateWorkflow`: the structural checks of an n8n definition, every problem as a field of
//! one BAD_USER_INPUT — the shape (`definition`), a trigger node, unique node names
//! (`definition.nodes[i].name`) and connections that name existing nodes
//! (`definition.connections.<source>` and `….<source>.<type>[o][j].node`).

use std::collections::HashSet;

use serde_json::Value;

use super::definition;
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::workflows::types::WorkflowValidation,
    error::{AppError, AppResult, FieldError},
};

/// n8n's trigger nodes without the `Trigger` suffix.
const TRIGGERS: [&str; 4] = [
    "n8n-nodes-base.webhook",
    "n8n-nodes-base.cron",
    "n8n-nodes-base.interval",
    "n8n-nodes-base.start",
];

fn is_trigger(ty: &str) -> bool {
    TRIGGERS.contains(&ty) || ty.to_ascii_lowercase().ends_with("trigger")
}

fn field(errors: &mut Vec<FieldError>, field: String, message: &str) {
    errors.push(FieldError {
        field,
        message: message.into(),
    });
}

/// The problems of `connections` given the node names.
fn connection_errors(connections: &Value, names: &HashSet<&str>, errors: &mut Vec<FieldError>) {
    let Some(sources) = connections.as_object() else {
        return;
    };
    for (source, outputs) in sources {
        let at = format!("definition.connections.{source}");
        if !names.contains(source.as_str()) {
            field(errors, at.clone(), "names no node of the workflow");
        }
        let Some(outputs) = outputs.as_object() else {
            field(errors, at, "must be an object of output types");
            continue;
        };
        for (ty, lists) in outputs {
            let lists = lists.as_array().map(Vec::as_slice).unwrap_or_default();
            for (o, list) in lists.iter().enumerate() {
                let targets = list.as_array().map(Vec::as_slice).unwrap_or_default();
                for (j, t) in targets.iter().enumerate() {
                    let ok = t["node"].as_str().is_some_and(|n| names.contains(n));
                    if !ok {
                        let f = format!("{at}.{ty}[{o}][{j}].node");
                        field(errors, f, "names no node of the workflow");
                    }
                }
            }
        }
    }
}

/// Checks `d` without saving or sending it anywhere (MEMBER+).
pub fn validate(viewer: &Viewer, d: &Value) -> AppResult<WorkflowValidation> {
    viewer.require(Permission::RunWorkflows)?;
    if let Some(p) = definition::problem(d) {
        return Err(AppError::invalid("definition", p));
    }
    let d = definition::of_remote(d);
    let nodes = d["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut triggers = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let name = n["name"].as_str().unwrap_or_default();
        if !names.insert(name) {
            field(
                &mut errors,
                format!("definition.nodes[{i}].name"),
                "another node has this name",
            );
        }
        let enabled = n["disabled"].as_bool() != Some(true);
        if enabled && n["type"].as_str().is_some_and(is_trigger) {
            triggers.push(name.to_string());
        }
    }
    if triggers.is_empty() {
        field(
            &mut errors,
            "definition.nodes".into(),
            "needs an enabled trigger node (Webhook, Schedule Trigger, …)",
        );
    }
    connection_errors(&d["connections"], &names, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(WorkflowValidation {
        valid: true,
        node_count: i32::try_from(nodes.len()).unwrap_or(i32::MAX),
        trigger_nodes: triggers,
    })
}
