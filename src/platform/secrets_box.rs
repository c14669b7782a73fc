//! Encryption at rest for secrets the application stores for organizations and users (SMTP
//! passwords, provider API keys, notification webhook URLs): AES-256-GCM under `SECRETS_KEY`.
//!
//! Stored form: `v1:<kid>:<base64(nonce || ciphertext || tag)>`, where `kid` is the first 8 hex
//! characters of SHA-256 over a label and the key, so the stored value names the key that sealed
//! it without revealing it. The nonce is 12 random bytes per value. Every value is sealed with a
//! *context* (additional authenticated data, e.g. `smtp_settings.password:<org id>`), so a value
//! copied into another row or column does not decrypt.
//!
//! Rotation: the box holds the current key and any number of previous keys
//! (`SECRETS_KEY_PREVIOUS`); values sealed under any of them open, new values are sealed under
//! the current one, and `leadgraph rotate-secrets` ([`crate::rotate_secrets`])
//! re-seals every stored value under the current key.
//!
//! Values written before encryption existed are plain text. A stored value that does not have
//! the sealed shape (`v1:` + 8 hex characters + `:` + base64) is returned as it is ("legacy
//! plaintext") and re-sealed by the rotate command. A value that has the shape but fails to open
//! is an error, never returned as plain text.

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use base64::Engine;
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1";
const NONCE_LEN: usize = 12;
const KID_LEN: usize = 8;

/// Why a stored secret could not be opened, or a key not parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// No configured key has this id (the key was rotated out of `SECRETS_KEY_PREVIOUS`, or the
    /// value comes from another deployment).
    #[error("no configured key has id {0} (is it missing from SECRETS_KEY_PREVIOUS?)")]
    UnknownKey(String),
    /// The key matched but authentication failed: the value, its context or the key is wrong.
    #[error("the stored secret does not decrypt (tampered, moved to another row, or wrong key)")]
    Tampered,
    /// A key is not 32 bytes of hex or base64.
    #[error("{0}")]
    BadKey(String),
}

/// One 256-bit key and its id.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Key {
        let mut h = Sha256::new();
        h.update(b"leadgraph-secrets-key-id\0");
        h.update(bytes);
        let id = hex::encode(h.finalize())[..KID_LEN].to_string();
        Key {
            id,
            cipher: Aes256Gcm::new(&aes_gcm::Key::<Aes256Gcm>::from(*bytes)),
        }
    }
}

/// The current key and older keys that may still open stored values.
#[derive(Clone)]
pub struct SecretsBox {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for SecretsBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsBox")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The encryption context (additional authenticated data) of a secret stored in `table.column`
/// of the row `row` (an organization id for one-row-per-organization tables).
pub fn context(table: &str, column: &str, row: impl std::fmt::Display) -> String {
    format!("{table}.{column}:{row}")
}

/// Parses a key given as 64 hex characters or base64 (standard or URL-safe, padded or not) of
/// 32 bytes.
pub fn parse_key(raw: &str) -> Result<[u8; 32], SecretsError> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(raw).ok()
    } else {
        let b64 = &base64::engine::general_purpose::STANDARD;
        let url = &base64::engine::general_purpose::URL_SAFE;
        let trimmed = raw.trim_end_matches('=');
        let nopad = &base64::engine::general_purpose::STANDARD_NO_PAD;
        let url_nopad = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        b64.decode(raw)
            .or_else(|_| url.decode(raw))
            .or_else(|_| nopad.decode(trimmed))
            .or_else(|_| url_nopad.decode(trimmed))
            .ok()
    };
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            SecretsError::BadKey(
                "must be 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)"
                    .into(),
            )
        })
}

/// The key id and payload of a value in the sealed shape, or `None` for legacy plain text.
fn sealed_parts(stored: &str) -> Option<(&str, Vec<u8>)> {
    let rest = stored.strip_prefix(PREFIX)?.strip_prefix(':')?;
    let (kid, body) = rest.split_once(':')?;
    if kid.len() != KID_LEN || !kid.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    (bytes.len() > NONCE_LEN).then_some((kid, bytes))
}

impl SecretsBox {
    /// A box sealing with `current` and also opening values of `previous`.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> SecretsBox {
        let current = Key::new(current);
        let previous = previous
            .iter()
            .map(Key::new)
            .filter(|k| k.id != current.id)
            .collect();
        SecretsBox { current, previous }
    }

    /// Parses the configured keys (see [`parse_key`]).
    pub fn from_config(current: &str, previous: &[String]) -> Result<SecretsBox, SecretsError> {
        let cur =
            parse_key(current).map_err(|e| SecretsError::BadKey(format!("SECRETS_KEY {e}")))?;
        let prev = previous
            .iter()
            .map(|p| {
                parse_key(p).map_err(|e| SecretsError::BadKey(format!("SECRETS_KEY_PREVIOUS: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SecretsBox::new(&cur, &prev))
    }

    /// Id of the key new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext` for `context` (the table, column and row it is stored in) under the
    /// current key.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        use rand::RngCore;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // AES-GCM encryption only fails for messages beyond 64 GiB.
        let ct = self
            .current
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!(
            "{PREFIX}:{}:{}",
            self.current.id,
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Opens a stored value sealed for `context`. A value without the sealed shape is legacy
    /// plain text and comes back unchanged.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SecretsError> {
        let Some((kid, bytes)) = sealed_parts(stored) else {
            return Ok(stored.to_string());
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id.eq_ignore_ascii_case(kid))
            .ok_or_else(|| SecretsError::UnknownKey(kid.to_string()))?;
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretsError::Tampered)?;
        let pt = key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Tampered)?;
        String::from_utf8(pt).map_err(|_| SecretsError::Tampered)
    }

    /// [`Self::open`] for an optional column.
    pub fn open_opt(
        &self,
        stored: Option<&str>,
        context: &str,
    ) -> Result<Option<String>, SecretsError> {
        stored.map(|s| self.open(s, context)).transpose()
    }

    /// Whether `stored` is sealed under the current key (otherwise the rotate command re-seals
    /// it: legacy plain text, or an older key).
    pub fn is_current(&self, stored: &str) -> bool {
        sealed_parts(stored).is_some_and(|(kid, _)| kid.eq_ignore_ascii_case(&self.current.id))
    }

    /// The value re-sealed under the current key, or `None` when it already is.
    pub fn reseal(&self, stored: &str, context: &str) -> Result<Option<String>, SecretsError> {
        if self.is_current(stored) {
            return Ok(None);
        }
        let plain = self.open(stored, context)?;
        Ok(Some(self.seal(&plain, context)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    #[test]
    fn round_trip_and_a_fresh_nonce_per_value() {
        let b = SecretsBox::new(&A, &[]);
        let s1 = b.seal("hunter2", "smtp_settings.password:org1");
        let s2 = b.seal("hunter2", "smtp_settings.password:org1");
        assert_ne!(s1, s2, "random nonce");
        assert!(
            s1.starts_with(&format!("v1:{}:", b.current_key_id())),
            "{s1}"
        );
        assert!(!s1.contains("hunter2"));
        assert_eq!(
            b.open(&s1, "smtp_settings.password:org1").unwrap(),
            "hunter2"
        );
        assert_eq!(b.open(&b.seal("", "c"), "c").unwrap(), "");
        assert!(b.is_current(&s1));
    }

    #[test]
    fn the_wrong_key_or_context_fails() {
        let sealed = SecretsBox::new(&A, &[]).seal("hunter2", "ctx:1");
        // A box that does not know the key.
        assert!(matches!(
            SecretsBox::new(&B, &[]).open(&sealed, "ctx:1"),
            Err(SecretsError::UnknownKey(_))
        ));
        // A value moved to another row.
        assert_eq!(
            SecretsBox::new(&A, &[]).open(&sealed, "ctx:2"),
            Err(SecretsError::Tampered)
        );
        // Same key id claimed by a different key cannot happen by accident; a forged id with
        // another key's ciphertext fails authentication.
        let other = SecretsBox::new(&B, &[]).seal("x", "ctx:1");
        let forged = format!(
            "v1:{}:{}",
            SecretsBox::new(&A, &[]).current_key_id(),
            other.rsplit(':').next().unwrap()
        );
        assert_eq!(
            SecretsBox::new(&A, &[]).open(&forged, "ctx:1"),
            Err(SecretsError::Tampered)
        );
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let b = SecretsBox::new(&A, &[]);
        let sealed = b.seal("hunter2", "ctx");
        let (head, body) = sealed.rsplit_once(':').unwrap();
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            let mut t = bytes.clone();
            t[i] ^= 1;
            let t = format!(
                "{head}:{}",
                base64::engine::general_purpose::STANDARD.encode(t)
            );
            assert_eq!(b.open(&t, "ctx"), Err(SecretsError::Tampered), "byte {i}");
        }
        bytes.truncate(NONCE_LEN + 4);
        let t = format!(
            "{head}:{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        assert_eq!(b.open(&t, "ctx"), Err(SecretsError::Tampered));
    }

    #[test]
    fn legacy_plaintext_is_returned_and_resealed() {
        let b = SecretsBox::new(&A, &[]);
        for legacy in ["s3cret-pass", "v1:not-sealed", "", "v1:0123abcd:%%%"] {
            assert_eq!(b.open(legacy, "ctx").unwrap(), legacy);
            assert!(!b.is_current(legacy));
            let resealed = b.reseal(legacy, "ctx").unwrap().unwrap();
            assert!(b.is_current(&resealed));
            assert_eq!(b.open(&resealed, "ctx").unwrap(), legacy);
        }
        assert_eq!(b.open_opt(None, "ctx").unwrap(), None);
    }

    #[test]
    fn rotation_opens_old_values_and_reseals_them_under_the_new_key() {
        let old = SecretsBox::new(&A, &[]);
        let sealed = old.seal("api-key-123", "ctx");
        let rotated = SecretsBox::new(&B, &[A]);
        assert_ne!(rotated.current_key_id(), old.current_key_id());
        assert_eq!(rotated.open(&sealed, "ctx").unwrap(), "api-key-123");
        assert!(!rotated.is_current(&sealed));
        let resealed = rotated.reseal(&sealed, "ctx").unwrap().unwrap();
        assert!(resealed.contains(rotated.current_key_id()));
        assert_eq!(rotated.reseal(&resealed, "ctx").unwrap(), None);
        // Once A is dropped from the previous keys, only the resealed value opens.
        let only_b = SecretsBox::new(&B, &[]);
        assert_eq!(only_b.open(&resealed, "ctx").unwrap(), "api-key-123");
        assert!(matches!(
            only_b.open(&sealed, "ctx"),
            Err(SecretsError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_parse_from_hex_or_base64_of_32_bytes() {
        let hex_key = hex::encode(A);
        assert_eq!(parse_key(&hex_key).unwrap(), A);
        let b64 = base64::engine::general_purpose::STANDARD.encode(B);
        assert_eq!(parse_key(&b64).unwrap(), B);
        assert_eq!(parse_key(b64.trim_end_matches('=')).unwrap(), B);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfb; 32]);
        assert_eq!(parse_key(&url).unwrap(), [0xfb; 32]);
        for bad in [
            "",
            "short",
            &hex::encode([1u8; 16]),
            "zz".repeat(32).as_str(),
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
        assert!(SecretsBox::from_config(&hex_key, &["nope".into()]).is_err());
        let b = SecretsBox::from_config(&hex_key, &[b64]).unwrap();
        assert_eq!(b.previous.len(), 1);
        assert!(!format!("{b:?}").contains(&hex_key));
    }
}
