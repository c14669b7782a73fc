//! One signing key per token kind, derived from the configured secret (Security S22).
//!
//! Access tokens, export links and tracking links are all HMAC-signed. With one shared key, a
//! token minted for one purpose could be replayed as another whenever its claims happen to pass
//! the other's checks. Each kind therefore signs with `HMAC-SHA256(secret, "leadgraph/v1/" +
//! kind)`: a token of one kind never verifies as another, and rotating `JWT_SECRET` still
//! rotates them all.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Access tokens (`Authorization: Bearer …`).
pub const ACCESS_TOKEN: &str = "access-token";
/// Signed lead-export download links.
pub const EXPORT_LINK: &str = "export-link";
/// Open-pixel, click and unsubscribe links in sent mail.
pub const TRACKING_LINK: &str = "tracking-link";
/// Signed file download links (`GET /files/{id}`).
pub const FILE_LINK: &str = "file-link";

/// The signing key of token kind `kind`.
pub fn derive(secret: &str, kind: &str) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(b"leadgraph/v1/");
            mac.update(kind.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this arm is unreachable but must not panic.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_get_distinct_stable_keys() {
        let a = derive("s", ACCESS_TOKEN);
        assert_eq!(a.len(), 32);
        assert_eq!(a, derive("s", ACCESS_TOKEN));
        assert_ne!(a, derive("s", EXPORT_LINK));
        assert_ne!(a, derive("s", TRACKING_LINK));
        assert_ne!(a, derive("t", ACCESS_TOKEN));
        assert_ne!(a, b"s".to_vec());
    }
}
