//! `leads`: the core record.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Lowercased; unique per organization.
    pub email: Option<String>,
    /// E.164; unique per organization.
    pub phone: Option<String>,
    /// `""` when unknown.
    pub company: String,
    pub title: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub source: String,
    pub status: String,
    pub score: i32,
    pub score_reasons: Json,
    pub custom_fields: Json,
    /// `{field: {kind, ref, at}}`: where each field's value came from.
    pub provenance: Json,
    pub owner_id: Option<Uuid>,
    pub last_contacted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The latest email verdict: DELIVERABLE | RISKY | UNDELIVERABLE | UNKNOWN (enrichment).
    pub email_status: Option<String>,
    /// When the email was last validated.
    pub validated_at: Option<DateTimeUtc>,
    /// The phone's line type as a look-up found it: MOBILE, FIXED_LINE, FIXED_LINE_OR_MOBILE,
    /// VOIP, TOLL_FREE, PREMIUM_RATE, SATELLITE, PAGING, SPECIAL_SERVICES or OTHER.
    pub phone_type: Option<String>,
    /// The phone's carrier (a look-up).
    pub phone_carrier: Option<String>,
    /// The phone's country, ISO 3166-1 alpha-2 (a look-up).
    pub phone_country: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
