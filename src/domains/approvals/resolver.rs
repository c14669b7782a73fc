//! The approval root objects, merged from the sub-domains' (requests, rules).

use async_graphql::{MergedObject, MergedSubscription};

use super::{
    requests::{RequestMutation, RequestQuery, RequestSubscription},
    rules::{RuleMutation, RuleQuery},
};

/// Approval queries.
#[derive(MergedObject, Default)]
pub struct ApprovalQuery(RequestQuery, RuleQuery);

/// Approval mutations.
#[derive(MergedObject, Default)]
pub struct ApprovalMutation(RequestMutation, RuleMutation);

/// Approval subscriptions.
#[derive(MergedSubscription, Default)]
pub struct ApprovalSubscription(RequestSubscription);
