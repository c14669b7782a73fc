//! Email templates: CRUD, duplicate (also in batches of ≤ 200 with per-item results), category,
//! favorite, validation, rendering for a lead or sample data, and test sends. Deleting a template
//! an unfinished campaign uses is CONFLICT. Roles: `ReadOutreach` (VIEWER) reads and previews,
//! `WriteOutreach` (MEMBER) writes and sends tests, `DeleteOutreach` (MANAGER) deletes; every
//! query starts from [`scoped`], so another organization's template reads as missing.
//!
//! Rendering ([`render`], minijinja 2): no loader (`include`/`import`/`extends` find nothing),
//! strict undefined, fuel of 200,000 instructions, recursion limit 50, 200 KiB sources and
//! 512 KiB outputs; the HTML part is auto-escaped. Variables: `lead.*` (camelCase; absent when
//! empty so `default(...)` applies), `sender.name/email`, `organization.name`, `unsubscribeUrl`.
//! Memory stays bounded whoever writes the source (S7): `*` is refused from the tokens; `set`,
//! `with`, namespaces, macros, capture blocks, recursive loops and more than 64 `~`/`+` per part
//! from the compiled instructions (UNSUPPORTED); built-in filters are wrapped with size caps;
//! previews run on the blocking pool, 4 at once, within 2 s. This uses minijinja's
//! `unstable_machinery` API: an upgrade may need the scan adjusted (the unit tests will say).
//! `validateTemplate` reports syntax errors and unknown variables with line and column;
//! `createTemplate`/`updateTemplate` refuse the same problems as BAD_USER_INPUT naming the part.
//! `sendTestEmail` goes to members of the organization only, directly through the mailer.
//!
//! Lowest outreach sub-domain: imports only `outreach::types` and lower domains.

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{TemplateMutation, TemplateQuery};
pub use service::{
    content_of, get, preview_context,
    render::{
        context as render_context, lead_vars, render, sample_lead, validate as validate_content,
        Content, Rendered,
    },
    render_or_invalid, scoped,
};
pub use types::{RenderedEmail, Template};
