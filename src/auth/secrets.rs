//! Opaque secrets (refresh tokens, email tokens, API keys): random, shown once, stored as SHA-256.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random secret: `prefix` + base64url of 32 random bytes.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// SHA-256 hex digest, the stored form of a secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_random_and_digests_stable() {
        let a = super::generate("lg_");
        assert!(a.starts_with("lg_") && a.len() > 40);
        assert_ne!(a, super::generate("lg_"));
        assert_eq!(super::digest("x"), super::digest("x"));
        assert_eq!(super::digest("x").len(), 64);
    }
}
