//! Outreach-wide glue that belongs to no one sub-domain: what outreach registers with lower
//! domains at start-up (the CAMPAIGN approval subject, the CAMPAIGN_FINISHED notification rule
//! and the `Lead.campaigns` field slot).

pub mod approval_subject;
pub mod lead_fields;
pub mod notify;
