//! Authentication and authorization: who the viewer is and what their role allows.

pub mod credentials;
pub mod keys;
pub mod passwords;
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod viewer;

pub use viewer::{Permission, Role, Viewer, ViewerVia};
