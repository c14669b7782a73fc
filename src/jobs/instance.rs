//! Who holds a job lease: a stable instance identity plus a per-process incarnation.
//!
//! A lease's `locked_by` is `<instance id>/<incarnation>`. The instance id survives restarts
//! (`INSTANCE_ID`, or derived from the host name and `DATA_DIR`); the incarnation is new in every
//! process. So a restarted instance can tell "my previous process" (same instance id, another
//! incarnation: dead, since this process now holds the identity) from "another live instance"
//! (another instance id), and takes back its own dead leases at once instead of waiting for
//! them to expire ([`super::Worker::reclaim_previous`]).
//!
//! Two live processes must never share an instance id. With the derived default they would only
//! if they shared a host and a `DATA_DIR`; a lock file in `DATA_DIR` (`instance-<id>.lock`, held
//! for the life of the process) catches that case, and the second process then runs under a
//! one-off identity that reclaims nothing. An explicit `INSTANCE_ID` must be unique per live
//! process across hosts (a pod name or a host name are good choices).

use std::{
    fs::File,
    hash::{DefaultHasher, Hash, Hasher},
    path::Path,
    sync::Arc,
};

/// A process's lease identity.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The stable instance id.
    pub instance: String,
    /// This process's incarnation.
    pub incarnation: String,
    /// Held while the process lives (None when no lock file could be taken).
    _lock: Option<Arc<File>>,
}

impl Identity {
    /// The `locked_by` value of this process's leases.
    pub fn holder(&self) -> String {
        format!("{}/{}", self.instance, self.incarnation)
    }

    /// A one-off identity that no other process shares (tests, and the fallback when the lock
    /// file is held by another live process).
    pub fn ephemeral() -> Self {
        Identity {
            instance: format!("w-{}", uuid::Uuid::now_v7().simple()),
            incarnation: "0".into(),
            _lock: None,
        }
    }

    /// The identity for `configured` (`INSTANCE_ID`) or the default derived from the host name
    /// and `data_dir`, locked through a file in `data_dir`.
    pub fn claim(configured: Option<&str>, data_dir: &Path) -> Self {
        let instance = match configured {
            Some(id) => sanitize(id),
            None => derived(data_dir),
        };
        let incarnation = uuid::Uuid::now_v7().simple().to_string();
        match lock(data_dir, &instance) {
            Ok(lock) => Identity {
                instance,
                incarnation,
                _lock: Some(Arc::new(lock)),
            },
            Err(LockError::Held) => {
                let one_off = Self::ephemeral();
                tracing::warn!(
                    instance = %instance,
                    fallback = %one_off.instance,
                    "another live process holds this instance id; running under a one-off id \
                     (set INSTANCE_ID uniquely per process to get crash lease reclaim)"
                );
                one_off
            }
            Err(LockError::Io(e)) => {
                tracing::warn!(error = %e, "instance lock file unavailable; continuing without it");
                Identity {
                    instance,
                    incarnation,
                    _lock: None,
                }
            }
        }
    }
}

/// `<host name>-<hash of the canonical DATA_DIR>`.
fn derived(data_dir: &Path) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_else(|| "localhost".into());
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let mut h = DefaultHasher::new();
    dir.hash(&mut h);
    sanitize(&format!("{}-{:08x}", host.trim(), h.finish() as u32))
}

/// Keeps `[A-Za-z0-9._-]` (the id goes into a file name and a `locked_by` prefix).
fn sanitize(raw: &str) -> String {
    let s: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(100)
        .collect();
    if s.is_empty() {
        "instance".into()
    } else {
        s
    }
}

enum LockError {
    Held,
    Io(std::io::Error),
}

fn lock(data_dir: &Path, instance: &str) -> Result<File, LockError> {
    std::fs::create_dir_all(data_dir).map_err(LockError::Io)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(format!("instance-{instance}.lock")))
        .map_err(LockError::Io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_live_claim_of_one_identity_falls_back_to_a_one_off_id() {
        let dir = std::env::temp_dir().join(format!("lg-inst-{}", uuid::Uuid::now_v7().simple()));
        let first = Identity::claim(Some("api-1"), &dir);
        assert_eq!(first.instance, "api-1");
        let second = Identity::claim(Some("api-1"), &dir);
        assert_ne!(second.instance, "api-1");
        drop(first);
        // The first process is gone: its successor gets the identity, in a new incarnation.
        let third = Identity::claim(Some("api-1"), &dir);
        assert_eq!(third.instance, "api-1");
        assert_ne!(third.holder(), second.holder());
        let derived = Identity::claim(None, &dir);
        assert!(!derived.instance.is_empty() && !derived.instance.contains('/'));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
