//! The rules of the outreach settings: the organization's SMTP server, its sending domains and
//! its suppression list.

pub mod sending_domains;
pub mod smtp;
pub mod suppressions;
