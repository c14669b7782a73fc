//! Password hashing: Argon2id (m=19456 KiB, t=2, p=1, the OWASP baseline), run on the blocking
//! pool behind a semaphore sized to the CPU count, so hashing can never starve the async
//! runtime. Unknown emails are checked against a dummy hash so login costs the same either way.

use std::sync::{Arc, OnceLock};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

fn argon2() -> AppResult<Argon2<'static>> {
    let params = Params::new(19_456, 2, 1, None).map_err(AppError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes and verifies passwords off the async threads.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// One concurrent hash per core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Passwords {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(AppError::internal)?
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()?
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(AppError::internal)
        })
        .await
    }

    /// Verifies `password` against `hash`; with `None` verifies against a dummy hash (and fails),
    /// so unknown accounts take as long as wrong passwords.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let known = hash.is_some();
        let hash = match hash {
            Some(h) => h,
            None => dummy_hash()?,
        };
        let ok = self
            .blocking(move || {
                let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
                Ok(argon2()?
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(ok && known)
    }
}

fn dummy_hash() -> AppResult<String> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .ok()?
                .hash_password(b"leadgraph-dummy-password", &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .clone()
        .ok_or_else(|| AppError::internal("dummy hash unavailable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let p = Passwords::new();
        let h = p.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(p
            .verify("correct horse battery".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!p.verify("wrong".into(), Some(h)).await.unwrap());
        assert!(!p
            .verify("leadgraph-dummy-password".into(), None)
            .await
            .unwrap());
    }
}
