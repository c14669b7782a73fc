//! Organizations: settings, members, invitations (emailed, 7 days, accepted as an existing
//! account — with its password or a session of it — or by creating one), role changes (nobody
//! raises anyone above their own role; the last OWNER stays), removal (ends the member's
//! sessions in that organization), `switchOrganization`, and teams (`Team.members` through two
//! batch loaders: member ids by team, users by id).

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{OrgMutation, OrgQuery};
