//! Enrichment's GraphQL types: providers, the waterfall's per-field outcome, batch runs and the
//! call history.

use async_graphql::{Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{enrichment_call, enrichment_provider, enrichment_run};

use crate::domains::leads::{types::LeadFilter, Lead};

/// An enrichment provider with a documented HTTP API (stored by its wire name in 16-character
/// columns: keep new names that short).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnrichmentProviderKind {
    /// Hunter (API v2 email finder): email, title, phone, company from a name and a domain.
    Hunter,
    /// Apollo (people match): email, title, phone, company and website.
    Apollo,
    /// Apollo organization enrichment (by the lead's domain): company, website and industry.
    ApolloCompany,
    /// Numverify phone validation (by the lead's phone): line type, carrier and country.
    Numverify,
    /// This server, no network and no key: the phone's line type and country from the
    /// numbering plan (`phonenumber`). Its values are labelled `local`.
    Local,
}

crate::wire_enum!(EnrichmentProviderKind { Hunter => "HUNTER", Apollo => "APOLLO", ApolloCompany => "APOLLO_COMPANY", Numverify => "NUMVERIFY", Local => "LOCAL" });

/// A lead field enrichment can fill.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnrichmentField {
    /// `Lead.email`.
    Email,
    /// `Lead.phone`.
    Phone,
    /// `Lead.title`.
    Title,
    /// `Lead.company`.
    Company,
    /// `Lead.website` (the company's domain).
    Website,
    /// `Lead.industry`.
    Industry,
    /// `Lead.phoneType` (a phone look-up; the lead needs a phone).
    PhoneType,
    /// `Lead.phoneCarrier` (a phone look-up; the lead needs a phone).
    PhoneCarrier,
    /// `Lead.phoneCountry` (a phone look-up; the lead needs a phone).
    PhoneCountry,
}

crate::wire_enum!(EnrichmentField { Email => "EMAIL", Phone => "PHONE", Title => "TITLE", Company => "COMPANY", Website => "WEBSITE", Industry => "INDUSTRY", PhoneType => "PHONE_TYPE", PhoneCarrier => "PHONE_CARRIER", PhoneCountry => "PHONE_COUNTRY" });

impl EnrichmentField {
    /// The lead field's name (`leads::ENRICHABLE_FIELDS`).
    pub fn lead_field(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Title => "title",
            Self::Company => "company",
            Self::Website => "website",
            Self::Industry => "industry",
            Self::PhoneType => "phoneType",
            Self::PhoneCarrier => "phoneCarrier",
            Self::PhoneCountry => "phoneCountry",
        }
    }
}

/// What one provider call gave.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrichmentCallOutcome {
    /// The provider answered with a value for the field sought.
    Found,
    /// The provider answered without one.
    NotFound,
    /// The call failed (HTTP error, refused key, timeout, rate limit after retries).
    Error,
}

crate::wire_enum!(EnrichmentCallOutcome { Found => "FOUND", NotFound => "NOT_FOUND", Error => "ERROR" });

/// How one field of one lead ended.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldEnrichmentStatus {
    /// A provider filled it (`provider` names it; so does the lead's provenance).
    Filled,
    /// It had a value already (manual values win unless `overwrite`); no call was made.
    AlreadyFilled,
    /// Every provider answered, none had it.
    NotFound,
    /// Every provider that was asked failed.
    Failed,
    /// The organization's monthly budget is used up: no call was made.
    BudgetExhausted,
    /// No enabled provider can look this field up for this lead.
    NoProvider,
    /// The value found belongs to another lead of the organization (email or phone).
    Conflict,
}

crate::wire_enum!(FieldEnrichmentStatus { Filled => "FILLED", AlreadyFilled => "ALREADY_FILLED", NotFound => "NOT_FOUND", Failed => "FAILED", BudgetExhausted => "BUDGET_EXHAUSTED", NoProvider => "NO_PROVIDER", Conflict => "CONFLICT" });

/// A batch run's status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrichmentRunStatus {
    /// Waiting for a job runner.
    Queued,
    /// Being processed.
    Running,
    /// Every lead × field is done.
    Succeeded,
    /// Stopped: the organization's monthly budget is used up.
    BudgetExhausted,
    /// Stopped by an error.
    Failed,
}

crate::wire_enum!(EnrichmentRunStatus { Queued => "QUEUED", Running => "RUNNING", Succeeded => "SUCCEEDED", BudgetExhausted => "BUDGET_EXHAUSTED", Failed => "FAILED" });

impl EnrichmentRunStatus {
    /// Nothing more happens to the run.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::BudgetExhausted | Self::Failed)
    }
}

/// A provider as the organization configured it. The API key never comes back.
#[derive(SimpleObject, Debug, Clone)]
pub struct EnrichmentProviderConfig {
    /// The provider.
    pub provider: EnrichmentProviderKind,
    /// Its place in the waterfall (lower first).
    pub position: i32,
    /// What one call costs, in cents (credits).
    pub cost_cents: i32,
    /// Used by the waterfall.
    pub enabled: bool,
    /// An API key is stored (sealed).
    pub key_configured: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<enrichment_provider::Model> for EnrichmentProviderConfig {
    fn from(m: enrichment_provider::Model) -> Self {
        EnrichmentProviderConfig {
            provider: EnrichmentProviderKind::parse(&m.provider)
                .unwrap_or(EnrichmentProviderKind::Hunter),
            position: m.position,
            cost_cents: i32::try_from(m.cost_cents).unwrap_or(i32::MAX),
            enabled: m.enabled,
            key_configured: !m.api_key.is_empty(),
            updated_at: m.updated_at,
        }
    }
}

/// Adds or changes a provider (ADMIN+).
#[derive(InputObject, Debug, Clone)]
pub struct ConfigureEnrichmentProviderInput {
    /// The provider.
    pub provider: EnrichmentProviderKind,
    /// Its API key (at most 500 characters); required the first time (but for `LOCAL`, which
    /// needs none), kept when left out.
    pub api_key: Option<String>,
    /// Its place in the waterfall, 0–100 (lower first).
    pub position: i32,
    /// What one call costs, in cents (credits), 0–100000.
    pub cost_cents: i32,
    /// Used by the waterfall (default true).
    pub enabled: Option<bool>,
}

/// Fields of one lead to enrich.
#[derive(InputObject, Debug, Clone)]
pub struct EnrichLeadInput {
    /// A lead of the viewer's organization.
    pub lead_id: ID,
    /// 1–9 distinct fields.
    pub fields: Vec<EnrichmentField>,
    /// Replace values already there (default false: manual values win).
    pub overwrite: Option<bool>,
}

/// How one field ended.
#[derive(SimpleObject, Debug, Clone)]
pub struct FieldEnrichment {
    /// The field.
    pub field: EnrichmentField,
    /// How it ended.
    pub status: FieldEnrichmentStatus,
    /// The provider that filled it.
    pub provider: Option<EnrichmentProviderKind>,
    /// Provider calls made for it.
    pub calls: i32,
}

/// The result of `enrichLead`.
#[derive(SimpleObject)]
pub struct EnrichLeadPayload {
    /// The lead after enrichment.
    pub lead: Lead,
    /// One outcome per field asked for, in order.
    pub fields: Vec<FieldEnrichment>,
}

/// Leads to enrich in a batch: `leadIds` or `filter`, not both.
#[derive(InputObject, Debug, Clone)]
pub struct EnrichLeadsInput {
    /// 1–10000 leads of the viewer's organization.
    pub lead_ids: Option<Vec<ID>>,
    /// The leads matching this filter (at most 10000).
    pub filter: Option<LeadFilter>,
    /// 1–9 distinct fields.
    pub fields: Vec<EnrichmentField>,
}

/// A batch enrichment run (`enrichLeads`).
#[derive(Debug, Clone)]
pub struct EnrichmentRun {
    /// The stored run.
    pub row: enrichment_run::Model,
}

#[Object]
impl EnrichmentRun {
    /// The run.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Its status.
    async fn status(&self) -> EnrichmentRunStatus {
        EnrichmentRunStatus::parse(&self.row.status).unwrap_or(EnrichmentRunStatus::Failed)
    }
    /// The fields asked for.
    async fn fields(&self) -> Vec<EnrichmentField> {
        serde_json::from_value::<Vec<String>>(self.row.fields.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| EnrichmentField::parse(f))
            .collect()
    }
    /// The job processing it.
    async fn job_id(&self) -> Option<ID> {
        self.row.job_id.map(|j| ID(j.to_string()))
    }
    /// Lead × field pairs.
    async fn total(&self) -> i32 {
        self.row.total
    }
    /// Pairs finished.
    async fn done(&self) -> i32 {
        self.row.done
    }
    /// Pairs a provider filled.
    async fn filled(&self) -> i32 {
        self.row.filled
    }
    /// Pairs every provider failed on.
    async fn failed(&self) -> i32 {
        self.row.failed
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// Finished.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.row.finished_at
    }
}

/// One provider call (the enrichment history).
#[derive(Debug, Clone)]
pub struct EnrichmentCall {
    /// The stored call.
    pub row: enrichment_call::Model,
}

#[Object]
impl EnrichmentCall {
    /// The call.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// The lead.
    async fn lead_id(&self) -> ID {
        ID(self.row.lead_id.to_string())
    }
    /// The batch run that made it.
    async fn run_id(&self) -> Option<ID> {
        self.row.run_id.map(|r| ID(r.to_string()))
    }
    /// The provider.
    async fn provider(&self) -> Option<EnrichmentProviderKind> {
        EnrichmentProviderKind::parse(&self.row.provider)
    }
    /// The field sought.
    async fn field(&self) -> Option<EnrichmentField> {
        EnrichmentField::parse(&self.row.field)
    }
    /// What it gave.
    async fn outcome(&self) -> EnrichmentCallOutcome {
        EnrichmentCallOutcome::parse(&self.row.outcome).unwrap_or(EnrichmentCallOutcome::Error)
    }
    /// What it cost, in cents (0 when it failed).
    async fn cost_cents(&self) -> i32 {
        i32::try_from(self.row.cost_cents).unwrap_or(i32::MAX)
    }
    /// The fields the answer held values for.
    async fn returned(&self) -> Vec<EnrichmentField> {
        serde_json::from_value::<Vec<String>>(self.row.filled.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| EnrichmentField::parse(f))
            .collect()
    }
    /// The provider's reference, or why the call failed.
    async fn detail(&self) -> Option<&str> {
        self.row.detail.as_deref()
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.row.at
    }
}
