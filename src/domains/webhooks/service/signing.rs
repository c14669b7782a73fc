//! The Standard Webhooks signature scheme (symmetric, `v1`): a secret is `whsec_` + base64 of
//! 24–64 random bytes; the HMAC-SHA256 key is the decoded bytes; the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`; the header value is `v1,<base64 signature>`, several
//! separated by spaces during a secret rotation.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a symmetric signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the spec allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new random secret, `whsec_…`.
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key of a `whsec_…` secret: the base64-decoded part after the prefix.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD.decode(encoded).ok().filter(|k| !k.is_empty())
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`; `None` for a malformed secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key_of(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn signature_header(secrets: &[String], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any `v1,<sig>` in a `webhook-signature` header is the HMAC of
/// `{msg_id}.{timestamp}.{body}` under `secret` (constant-time comparison).
pub fn verify(secret: &str, msg_id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(key) = key_of(secret) else {
        return false;
    };
    header.split_whitespace().any(|part| {
        let Some(("v1", sig)) = part.split_once(',') else {
            return false;
        };
        let Ok(sig) = STANDARD.decode(sig) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The test vector of the Standard Webhooks reference libraries (`libraries/rust`,
    /// `test_sign`).
    #[test]
    fn signs_the_reference_vector() {
        let got = sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(
            got.as_deref(),
            Some("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
    }

    #[test]
    fn new_secrets_have_the_prefix_and_32_bytes_and_rotation_signs_twice() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(key_of(&a).unwrap().len(), 32);
        let header = signature_header(&[a.clone(), b.clone()], "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(Some(parts[0].to_string()), sign(&a, "msg_1", 1, b"{}"));
        assert_eq!(Some(parts[1].to_string()), sign(&b, "msg_1", 1, b"{}"));
        assert_eq!(sign("whsec_", "m", 1, b""), None);
    }

    #[test]
    fn verify_accepts_any_listed_signature_and_refuses_a_tampered_body() {
        let (a, b) = (new_secret(), new_secret());
        let header = format!("v1a,xyz {}", sign(&b, "msg_1", 7, b"{}").unwrap());
        assert!(verify(&b, "msg_1", "7", b"{}", &header));
        assert!(!verify(&a, "msg_1", "7", b"{}", &header));
        assert!(!verify(&b, "msg_1", "7", b"{ }", &header));
        assert!(!verify(&b, "msg_2", "7", b"{}", &header));
        assert!(!verify(&b, "msg_1", "8", b"{}", &header));
        assert!(!verify(&b, "msg_1", "7", b"{}", ""));
    }
}
