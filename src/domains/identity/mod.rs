//! Identity: accounts, organizations, sessions and API keys.
//!
//! Avatars and logos (`service/images.rs`): `users.avatar_file_id` and
//! `organizations.logo_file_id` name files of places' `files`, which is above identity. So
//! identity defines the registered trait [`ImageFiles`] (`check` before `updateMe(avatarFileId)`
//! / `updateOrganization(logoFileId)`, `stored` + `link` for `User.avatarUrl` /
//! `Organization.logoUrl`, read for a whole page at once by the loader `ImageById`) and files
//! registers it at start-up; files asks [`image_file_uses`] before a delete. There are no
//! `user.updated` / `organization.updated` events: the audit log records these changes.

pub mod loader;
pub mod organizations;
pub mod resolver;
pub mod service;
pub mod types;

pub use loader::{users_by_id, IdentityLoaders};
pub use organizations::service::{org_timezone, parse_timezone};
pub use resolver::{IdentityMutation, IdentityQuery};
pub use service::images::{
    clear_image_file, image_file_uses, register_image_files, ImageFiles, ImagePurpose, StoredImage,
};
pub use service::members::{member_viewer, non_member_emails};
