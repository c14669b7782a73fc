//! Security settings: the JWT secret and the secrets key (from the environment, or generated
//! once and kept under `DATA_DIR`), the listen address, trusted proxies, and the test-only
//! switches production refuses (`OUTBOUND_ALLOW_PRIVATE_NETWORKS`, `OUTBOUND_ALLOW_HOSTS`,
//! `RECORD_SQL`) unless `ALLOW_UNSAFE_IN_PRODUCTION` is set.

use std::{fmt, net::SocketAddr};

use ipnet::IpNet;

use super::{
    read::Vars, Config, ConfigError, ALLOW_UNSAFE_IN_PRODUCTION, JWT_SECRET_FILE, SECRETS_KEY_FILE,
};
use crate::platform::outbound::AllowedHost;

/// The two secrets and where they came from.
pub(super) struct Secrets {
    pub jwt_secret: String,
    pub jwt_secret_from_env: bool,
    pub secrets_key: String,
    pub secrets_key_from_env: bool,
    pub secrets_key_previous: Vec<String>,
}

impl Secrets {
    /// `JWT_SECRET`, `SECRETS_KEY`, `SECRETS_KEY_PREVIOUS`: required in production; random
    /// placeholders in development until [`Config::resolve_secrets`].
    pub fn read(v: &Vars<'_>, dev: bool) -> Result<Self, ConfigError> {
        let env_secret = v.opt("JWT_SECRET");
        let jwt_secret_from_env = env_secret.is_some();
        let jwt_secret = match env_secret {
            Some(s) => s,
            None if !dev => {
                return Err(ConfigError(
                    "JWT_SECRET must be set in production (e.g. `openssl rand -hex 32`)".into(),
                ))
            }
            // Replaced by the persisted secret in `resolve_secrets`; random meanwhile, so a
            // config that is never resolved still has no guessable key.
            None => random_secret(),
        };
        if jwt_secret.len() < 32 {
            return Err(ConfigError(
                "JWT_SECRET must be at least 32 characters".into(),
            ));
        }
        let env_secrets_key = v.opt("SECRETS_KEY");
        let secrets_key_from_env = env_secrets_key.is_some();
        let secrets_key = match env_secrets_key {
            Some(k) => k,
            None if !dev => {
                return Err(ConfigError(
                    "SECRETS_KEY must be set in production: 32 bytes as hex or base64 (e.g. \
                     `openssl rand -hex 32`); it encrypts SMTP passwords and provider keys stored \
                     in the database"
                        .into(),
                ))
            }
            None => random_secret(),
        };
        let secrets_key_previous = v.list("SECRETS_KEY_PREVIOUS");
        crate::platform::secrets_box::SecretsBox::from_config(&secrets_key, &secrets_key_previous)
            .map_err(|e| ConfigError(e.to_string()))?;
        Ok(Secrets {
            jwt_secret,
            jwt_secret_from_env,
            secrets_key,
            secrets_key_from_env,
            secrets_key_previous,
        })
    }
}

/// Who may connect, whom we believe, what the outbound client may reach.
pub(super) struct Network {
    pub listen_addr: SocketAddr,
    pub trusted_proxies: Vec<IpNet>,
    pub outbound_allow_private_networks: bool,
    pub outbound_allow_hosts: Vec<AllowedHost>,
    pub record_sql: bool,
}

impl Network {
    /// `LISTEN_ADDR` (a public one needs an explicit `JWT_SECRET`), `TRUSTED_PROXIES`, and the
    /// test-only switches.
    pub fn read(v: &Vars<'_>, dev: bool, jwt_secret_from_env: bool) -> Result<Self, ConfigError> {
        let listen_addr: SocketAddr =
            v.or("LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        if !jwt_secret_from_env && !listen_addr.ip().is_loopback() {
            return Err(ConfigError(format!(
                "LISTEN_ADDR {listen_addr} is reachable from other machines: set JWT_SECRET \
                 explicitly (e.g. `openssl rand -hex 32`); the generated development secret is \
                 only used on a loopback address"
            )));
        }
        if v.or::<bool>("TRUST_FORWARDED_FOR", false)? {
            return Err(ConfigError(
                "TRUST_FORWARDED_FOR is no longer supported: list your proxies in TRUSTED_PROXIES \
                 (CIDRs, e.g. 10.0.0.0/8); X-Forwarded-For is read only from those peers"
                    .into(),
            ));
        }
        let trusted_proxies = v
            .opt("TRUSTED_PROXIES")
            .map(|v| parse_cidrs(&v))
            .transpose()?
            .unwrap_or_default();
        let net = Network {
            listen_addr,
            trusted_proxies,
            outbound_allow_private_networks: v.or("OUTBOUND_ALLOW_PRIVATE_NETWORKS", false)?,
            outbound_allow_hosts: v
                .opt("OUTBOUND_ALLOW_HOSTS")
                .map(|v| AllowedHost::parse_list(&v))
                .transpose()
                .map_err(|e| ConfigError(format!("OUTBOUND_ALLOW_HOSTS: {e}")))?
                .unwrap_or_default(),
            record_sql: v.or("RECORD_SQL", false)?,
        };
        if !dev && !v.or::<bool>(ALLOW_UNSAFE_IN_PRODUCTION, false)? {
            net.refuse_test_settings()?;
        }
        Ok(net)
    }

    /// Production refuses the settings meant for tests.
    fn refuse_test_settings(&self) -> Result<(), ConfigError> {
        let unsafe_settings: Vec<&str> = [
            (
                self.outbound_allow_private_networks,
                "OUTBOUND_ALLOW_PRIVATE_NETWORKS=true",
            ),
            (
                !self.outbound_allow_hosts.is_empty(),
                "OUTBOUND_ALLOW_HOSTS",
            ),
            (self.record_sql, "RECORD_SQL=true"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if unsafe_settings.is_empty() {
            return Ok(());
        }
        Err(ConfigError(format!(
            "{} {} meant for tests and refused in production (they open the SSRF guard or \
             keep every SQL statement in memory); set \
             {ALLOW_UNSAFE_IN_PRODUCTION}=true to start anyway",
            unsafe_settings.join(", "),
            if unsafe_settings.len() == 1 {
                "is"
            } else {
                "are"
            },
        )))
    }
}

impl Config {
    /// Replaces a generated JWT secret by the one kept in `DATA_DIR/jwt_secret`, and a
    /// generated secrets key by the one in `DATA_DIR/secrets_key`, creating each file (mode
    /// 0600) with 32 random bytes on first start. Variables that were set win. Called once at
    /// start-up ([`crate::startup::build_state`]).
    pub fn resolve_secrets(&mut self) -> Result<(), ConfigError> {
        if !self.jwt_secret_from_env {
            self.jwt_secret = load_or_create_secret(&self.data_dir.join(JWT_SECRET_FILE))?;
        }
        if !self.secrets_key_from_env {
            self.secrets_key = load_or_create_secret(&self.data_dir.join(SECRETS_KEY_FILE))?;
        }
        Ok(())
    }

    /// The box that encrypts stored secrets (after [`Self::resolve_secrets`]).
    pub fn secrets_box(&self) -> Result<crate::platform::secrets_box::SecretsBox, ConfigError> {
        crate::platform::secrets_box::SecretsBox::from_config(
            &self.secrets_key,
            &self.secrets_key_previous,
        )
        .map_err(|e| {
            ConfigError(format!(
                "{e} ({})",
                self.data_dir.join(SECRETS_KEY_FILE).display()
            ))
        })
    }
}

pub(super) fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Reads the secret in `path`, or writes a new random one there (mode 0600). The new file is
/// written completely under a temporary name and then hard-linked into place, so two processes
/// starting at once agree on one secret and none reads a half-written file.
fn load_or_create_secret(path: &std::path::Path) -> Result<String, ConfigError> {
    let fail =
        |what: &str, e: &dyn fmt::Display| ConfigError(format!("{what} {}: {e}", path.display()));
    let read = |path: &std::path::Path| -> Result<String, ConfigError> {
        let s = std::fs::read_to_string(path).map_err(|e| fail("reading", &e))?;
        let s = s.trim().to_string();
        if s.len() < 32 {
            return Err(ConfigError(format!(
                "{} holds fewer than 32 characters; delete it to generate a new secret",
                path.display()
            )));
        }
        Ok(s)
    };
    if path.exists() {
        return read(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("creating the directory of", &e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    {
        use std::io::Write;
        let mut f = opts.open(&tmp).map_err(|e| fail("creating", &e))?;
        f.write_all(random_secret().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| fail("writing", &e))?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => tracing::info!(path = %path.display(), "generated a secret"),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail("creating", &e)),
    }
    read(path)
}

fn parse_cidrs(raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError(format!("TRUSTED_PROXIES: {s:?} is not a CIDR or an IP")))
        })
        .collect()
}
