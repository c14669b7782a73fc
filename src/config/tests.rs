//! Unit tests of configuration parsing.

use super::*;
use std::collections::HashMap;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(move |k| map.get(k).cloned())
}

#[test]
fn embedded_defaults() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.environment, Environment::Development);
    assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8080");
    assert!(c.database_url.starts_with("sqlite://./data/"));
    assert!(c.redis_url.is_none() && c.smtp_url.is_none());
    assert!(c.graphiql_enabled && c.introspection_enabled);
    assert!(c.sending_domains_allow_reserved);
}

#[test]
fn production_refuses_dev_secret() {
    let err = cfg(&[("LEADGRAPH_ENV", "production")]).unwrap_err();
    assert!(err.0.contains("JWT_SECRET"));
    let err = cfg(&[
        ("LEADGRAPH_ENV", "production"),
        ("JWT_SECRET", &"x".repeat(40)),
    ])
    .unwrap_err();
    assert!(err.0.contains("SECRETS_KEY"), "{}", err.0);
    let ok = cfg(&[
        ("LEADGRAPH_ENV", "production"),
        ("JWT_SECRET", &"x".repeat(40)),
        ("SECRETS_KEY", &"ab".repeat(32)),
    ])
    .unwrap();
    assert!(!ok.graphiql_enabled && !ok.introspection_enabled);
    assert!(
        !ok.sending_domains_allow_reserved,
        "production sends only from verified domains"
    );
}

#[test]
fn production_has_an_ai_budget_by_default() {
    let secret = "x".repeat(40);
    let key = "ab".repeat(32);
    let prod = cfg(&[
        ("LEADGRAPH_ENV", "production"),
        ("JWT_SECRET", &secret),
        ("SECRETS_KEY", &key),
    ])
    .unwrap();
    assert_eq!(
        prod.ai_monthly_token_budget,
        PRODUCTION_AI_MONTHLY_TOKEN_BUDGET
    );
    const { assert!(PRODUCTION_AI_MONTHLY_TOKEN_BUDGET > 0) };
    // Explicit values win, 0 (unlimited) included.
    let unlimited = cfg(&[
        ("LEADGRAPH_ENV", "production"),
        ("JWT_SECRET", &secret),
        ("SECRETS_KEY", &key),
        ("AI_MONTHLY_TOKEN_BUDGET", "0"),
    ])
    .unwrap();
    assert_eq!(unlimited.ai_monthly_token_budget, 0);
    // Development stays unlimited.
    assert_eq!(cfg(&[]).unwrap().ai_monthly_token_budget, 0);
}

#[test]
fn request_timeout_and_complexity_defaults() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.limits.max_complexity, 50_000);
    let c = cfg(&[("REQUEST_TIMEOUT_MS", "250")]).unwrap();
    assert_eq!(c.request_timeout, Duration::from_millis(250));
}

#[test]
fn bad_numbers_are_reported_by_name() {
    let err = cfg(&[("MAX_QUERY_DEPTH", "deep")]).unwrap_err();
    assert!(err.0.contains("MAX_QUERY_DEPTH"));
}

#[test]
fn debug_redacts_secrets() {
    let c = cfg(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
    let s = format!("{c:?}");
    assert!(!s.contains("hunter2") && !s.contains(&c.jwt_secret));
}

const SECRETS_KEY_HEX: &str = "0101010101010101010101010101010101010101010101010101010101010101";

#[test]
fn secrets_key_is_parsed_generated_into_data_dir_and_kept() {
    assert!(cfg(&[("SECRETS_KEY", "too-short")])
        .unwrap_err()
        .0
        .contains("SECRETS_KEY"));
    assert!(cfg(&[
        ("SECRETS_KEY", SECRETS_KEY_HEX),
        ("SECRETS_KEY_PREVIOUS", "nope")
    ])
    .unwrap_err()
    .0
    .contains("SECRETS_KEY_PREVIOUS"));
    let c = cfg(&[
        ("SECRETS_KEY", SECRETS_KEY_HEX),
        ("SECRETS_KEY_PREVIOUS", &format!(" {}, ", "02".repeat(32))),
    ])
    .unwrap();
    assert_eq!(c.secrets_key_previous.len(), 1);
    assert!(!format!("{c:?}").contains(SECRETS_KEY_HEX));

    let dir = std::env::temp_dir().join(format!("lg-skey-{}", uuid::Uuid::now_v7()));
    let dir_s = dir.display().to_string();
    let mut first = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
    first.resolve_secrets().unwrap();
    let file = dir.join(SECRETS_KEY_FILE);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        first.secrets_key
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let sealed = first.secrets_box().unwrap().seal("pw", "ctx");
    let mut second = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
    second.resolve_secrets().unwrap();
    assert_eq!(
        second.secrets_box().unwrap().open(&sealed, "ctx").unwrap(),
        "pw"
    );
    // An explicit key wins over the file.
    let mut third = cfg(&[("DATA_DIR", &dir_s), ("SECRETS_KEY", SECRETS_KEY_HEX)]).unwrap();
    third.resolve_secrets().unwrap();
    assert_eq!(third.secrets_key, SECRETS_KEY_HEX);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The constant every install used to sign with when `JWT_SECRET` was unset.
const OLD_PUBLIC_SECRET: &str = "leadgraph-dev-secret-change-me-0123456789abcdef";

#[test]
fn without_jwt_secret_development_gets_a_random_secret_never_the_old_constant() {
    let a = cfg(&[]).unwrap();
    let b = cfg(&[]).unwrap();
    assert!(!a.jwt_secret_from_env);
    assert_ne!(a.jwt_secret, OLD_PUBLIC_SECRET);
    assert_ne!(a.jwt_secret, b.jwt_secret);
    assert!(a.jwt_secret.len() >= 32);
}

#[test]
fn resolve_secrets_persists_a_private_secret_in_data_dir_and_reuses_it() {
    let dir = std::env::temp_dir().join(format!("lg-secret-{}", uuid::Uuid::now_v7()));
    let dir_s = dir.display().to_string();
    let mut first = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
    first.resolve_secrets().unwrap();
    let file = dir.join(JWT_SECRET_FILE);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert_eq!(stored.trim(), first.jwt_secret);
    assert_ne!(first.jwt_secret, OLD_PUBLIC_SECRET);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The next start reuses it.
    let mut second = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
    second.resolve_secrets().unwrap();
    assert_eq!(second.jwt_secret, first.jwt_secret);
    // An explicit JWT_SECRET wins and the file is not consulted.
    let explicit = "e".repeat(40);
    let mut third = cfg(&[("DATA_DIR", &dir_s), ("JWT_SECRET", &explicit)]).unwrap();
    third.resolve_secrets().unwrap();
    assert_eq!(third.jwt_secret, explicit);
    // A truncated file is an error, not a weak key.
    std::fs::write(&file, "short").unwrap();
    let mut fourth = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
    assert!(fourth.resolve_secrets().unwrap_err().0.contains("32"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn development_refuses_a_public_listen_address_without_an_explicit_secret() {
    let err = cfg(&[("LISTEN_ADDR", "0.0.0.0:8080")]).unwrap_err();
    assert!(
        err.0.contains("JWT_SECRET") && err.0.contains("0.0.0.0:8080"),
        "{}",
        err.0
    );
    assert!(cfg(&[("LISTEN_ADDR", "192.168.1.5:8080")]).is_err());
    let secret = "s".repeat(40);
    assert!(cfg(&[("LISTEN_ADDR", "0.0.0.0:8080"), ("JWT_SECRET", &secret)]).is_ok());
    assert!(cfg(&[("LISTEN_ADDR", "127.0.0.1:9000")]).is_ok());
    assert!(cfg(&[("LISTEN_ADDR", "[::1]:9000")]).is_ok());
}

#[test]
fn production_refuses_test_only_settings_unless_overridden() {
    let secret = "p".repeat(40);
    let prod = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("LEADGRAPH_ENV", "production"),
            ("JWT_SECRET", secret.as_str()),
            ("SECRETS_KEY", SECRETS_KEY_HEX),
        ];
        pairs.extend_from_slice(extra);
        cfg(&pairs)
    };
    for (key, value) in [
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
        ("RECORD_SQL", "true"),
        ("OUTBOUND_ALLOW_HOSTS", "127.0.0.1:9000"),
    ] {
        let err = prod(&[(key, value)]).unwrap_err();
        assert!(
            err.0.contains(key) && err.0.contains(ALLOW_UNSAFE_IN_PRODUCTION),
            "{}",
            err.0
        );
        let ok = prod(&[(key, value), (ALLOW_UNSAFE_IN_PRODUCTION, "true")]).unwrap();
        assert!(
            ok.outbound_allow_private_networks
                || ok.record_sql
                || !ok.outbound_allow_hosts.is_empty()
        );
    }
    // Off is fine, and development allows them.
    assert!(prod(&[
        ("RECORD_SQL", "false"),
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "false")
    ])
    .is_ok());
    assert!(cfg(&[
        ("RECORD_SQL", "true"),
        ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")
    ])
    .is_ok());
}

#[test]
fn trust_forwarded_for_is_refused_in_favour_of_trusted_proxies() {
    let err = cfg(&[("TRUST_FORWARDED_FOR", "true")]).unwrap_err();
    assert!(err.0.contains("TRUSTED_PROXIES"), "{}", err.0);
    // An old .env saying `false` still starts.
    assert!(cfg(&[("TRUST_FORWARDED_FOR", "false")]).is_ok());
    let c = cfg(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1/128")]).unwrap();
    assert_eq!(c.trusted_proxies.len(), 3);
    assert!(cfg(&[]).unwrap().trusted_proxies.is_empty());
    let err = cfg(&[("TRUSTED_PROXIES", "proxy.internal")]).unwrap_err();
    assert!(err.0.contains("TRUSTED_PROXIES"));
}

#[test]
fn operator_hosts_are_the_configured_endpoints() {
    let c = cfg(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")]).unwrap();
    let hosts = c.operator_hosts();
    assert!(hosts.contains(&AllowedHost {
        host: "127.0.0.1".into(),
        port: Some(11434)
    }));
    assert!(hosts.contains(&AllowedHost {
        host: "api.search.brave.com".into(),
        port: Some(443)
    }));
}
