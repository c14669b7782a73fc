//! Normalizing and validating lead input. Every problem is collected, so one answer lists them all.

use crate::error::FieldError;

/// Collects field errors under a prefix (`input.`, `inputs[3].`).
pub struct Check {
    prefix: String,
    /// The problems found.
    pub errors: Vec<FieldError>,
}

impl Check {
    /// A checker whose field names start with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Check {
            prefix: prefix.into(),
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError {
            field: format!("{}{field}", self.prefix),
            message: message.into(),
        });
    }

    /// Trimmed text of at most `max` characters; empty becomes `None`.
    pub fn text(&mut self, field: &str, v: Option<&str>, max: usize) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?;
        if v.chars().count() > max {
            self.fail(field, &format!("must be at most {max} characters"));
            return None;
        }
        Some(v.to_string())
    }

    /// Lowercased, valid email.
    pub fn email(&mut self, field: &str, v: Option<&str>) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?.to_lowercase();
        if v.len() > 320 || !email_address::EmailAddress::is_valid(&v) {
            self.fail(field, "is not a valid email address");
            return None;
        }
        Some(v)
    }

    /// E.164 phone; national numbers need `country`.
    pub fn phone(&mut self, field: &str, v: Option<&str>, country: Option<&str>) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?;
        let region =
            country.and_then(|c| c.to_uppercase().parse::<phonenumber::country::Id>().ok());
        match phonenumber::parse(region, v) {
            Ok(n) if phonenumber::is_valid(&n) => {
                Some(n.format().mode(phonenumber::Mode::E164).to_string())
            }
            _ => {
                self.fail(
                    field,
                    "is not a valid phone number (use +<country code>…, or give location.country)",
                );
                None
            }
        }
    }

    /// An http(s) URL; `example.com` becomes `https://example.com/`.
    pub fn website(&mut self, field: &str, v: Option<&str>) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?;
        let with_scheme = if v.contains("://") {
            v.to_string()
        } else {
            format!("https://{v}")
        };
        match url::Url::parse(&with_scheme) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some_and(|h| h.contains('.'))
                    && with_scheme.len() <= 500 =>
            {
                Some(u.to_string())
            }
            _ => {
                self.fail(field, "is not a valid http(s) URL");
                None
            }
        }
    }

    /// Two-letter country code, uppercased.
    pub fn country(&mut self, field: &str, v: Option<&str>) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?.to_uppercase();
        if v.len() != 2 || !v.chars().all(|c| c.is_ascii_alphabetic()) {
            self.fail(field, "must be an ISO 3166-1 alpha-2 code such as US or DE");
            return None;
        }
        Some(v)
    }

    /// A coordinate within ±`limit`.
    pub fn coordinate(&mut self, field: &str, v: Option<f64>, limit: f64) -> Option<f64> {
        let v = v?;
        if !v.is_finite() || v.abs() > limit {
            self.fail(field, &format!("must be between -{limit} and {limit}"));
            return None;
        }
        Some(v)
    }

    /// Tags: trimmed, lowercased, deduplicated, 1–64 characters each, at most 50.
    pub fn tags(&mut self, field: &str, v: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in v {
            let t = t.trim().to_lowercase();
            if t.is_empty() || t.chars().count() > 64 {
                self.fail(field, "each tag must be 1–64 characters");
                continue;
            }
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.len() > 50 {
            self.fail(field, "at most 50 tags");
            out.truncate(50);
        }
        out
    }

    /// A JSON object (or nothing).
    pub fn object(&mut self, field: &str, v: Option<&serde_json::Value>) -> serde_json::Value {
        match v {
            None | Some(serde_json::Value::Null) => serde_json::json!({}),
            Some(o @ serde_json::Value::Object(_)) if o.to_string().len() <= 16_384 => o.clone(),
            Some(serde_json::Value::Object(_)) => {
                self.fail(field, "must be at most 16 KiB");
                serde_json::json!({})
            }
            Some(_) => {
                self.fail(field, "must be a JSON object");
                serde_json::json!({})
            }
        }
    }

    /// Ok when nothing failed.
    pub fn finish(self) -> crate::error::AppResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::error::AppError::invalid_fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_reports() {
        let mut c = Check::new("input.");
        assert_eq!(
            c.email("email", Some(" Ada@Example.COM ")).as_deref(),
            Some("ada@example.com")
        );
        assert_eq!(
            c.phone("phone", Some("+1 415 555 2671"), None).as_deref(),
            Some("+14155552671")
        );
        assert_eq!(
            c.phone("phone", Some("030 901820"), Some("de")).as_deref(),
            Some("+4930901820")
        );
        assert_eq!(
            c.website("website", Some("acme.io")).as_deref(),
            Some("https://acme.io/")
        );
        assert_eq!(
            c.tags("tags", &["VIP".into(), " vip ".into(), "b2b".into()]),
            vec!["vip", "b2b"]
        );
        assert!(c.errors.is_empty());
        c.email("email", Some("nope"));
        c.phone("phone", Some("12"), None);
        c.website("website", Some("ftp://x.y"));
        c.country("location.country", Some("Germany"));
        let fields: Vec<_> = c.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "input.email",
                "input.phone",
                "input.website",
                "input.location.country"
            ]
        );
    }
}
