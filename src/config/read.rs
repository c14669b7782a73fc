//! Reading typed values out of the variable lookup: one place for the default, the parse and
//! the `KEY: cannot parse "…"` message.

use std::time::Duration;

use super::ConfigError;

/// The variable lookup (empty values count as unset).
pub(super) struct Vars<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The raw value.
    pub fn opt(&self, key: &str) -> Option<String> {
        (self.0)(key)
    }

    /// The parsed value, or `default` when unset.
    pub fn or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.opt(key) {
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ConfigError(format!("{key}: cannot parse {raw:?}"))),
            None => Ok(default),
        }
    }

    /// The value as text, or `default`.
    pub fn str(&self, key: &str, default: &str) -> String {
        self.opt(key).unwrap_or_else(|| default.into())
    }

    /// A base URL without its trailing `/`.
    pub fn url(&self, key: &str, default: &str) -> String {
        self.str(key, default).trim_end_matches('/').to_string()
    }

    /// Seconds.
    pub fn secs(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.or(key, default)?))
    }

    /// Milliseconds.
    pub fn millis(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.or(key, default)?))
    }

    /// A comma-separated list of milliseconds, or `default`.
    pub fn millis_list(&self, key: &str, default: &[u64]) -> Result<Vec<Duration>, ConfigError> {
        match self.opt(key) {
            None => Ok(default.iter().copied().map(Duration::from_millis).collect()),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<u64>()
                        .map(Duration::from_millis)
                        .map_err(|_| ConfigError(format!("{key}: cannot parse {raw:?}")))
                })
                .collect(),
        }
    }

    /// A comma-separated list (blank items dropped).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.opt(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl super::Environment {
    /// `LEADGRAPH_ENV`: development (default, also `dev`, `test`) or production (`prod`).
    pub(super) fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        match v.opt("LEADGRAPH_ENV").as_deref() {
            None | Some("development") | Some("dev") | Some("test") => Ok(Self::Development),
            Some("production") | Some("prod") => Ok(Self::Production),
            Some(other) => Err(ConfigError(format!("LEADGRAPH_ENV: unknown value {other}"))),
        }
    }
}

impl super::LogFormat {
    /// `LOG_FORMAT`: text (default) or json.
    pub(super) fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        match v.opt("LOG_FORMAT").as_deref() {
            None | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(ConfigError(format!("LOG_FORMAT: unknown value {other}"))),
        }
    }
}

impl super::AiProviderKind {
    /// `AI_PROVIDER`: local (default) or openai.
    pub(super) fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        match v.opt("AI_PROVIDER").as_deref() {
            None | Some("local") => Ok(Self::Local),
            Some("openai") => Ok(Self::OpenAi),
            Some(other) => Err(ConfigError(format!(
                "AI_PROVIDER: unknown value {other} (local or openai)"
            ))),
        }
    }
}
