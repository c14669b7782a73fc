//! The website verdict: one GET through the SSRF-guarded client (`state.http`: public addresses
//! only, every redirect hop re-checked, at most 5 hops), the body never read. A URL without a
//! scheme is tried as `https://`. TLS is valid when an https request completed; a failure whose
//! cause mentions a certificate is an invalid TLS setup.

use crate::{
    domains::enrichment::types::WebsiteValidation,
    platform::outbound::{OutboundClient, OutboundError},
};

/// Checks `input` with `http`.
pub async fn check(http: &OutboundClient, input: &str) -> WebsiteValidation {
    let raw = input.trim();
    let url = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let mut v = WebsiteValidation {
        input: input.to_string(),
        url: None,
        resolves: false,
        http_status: None,
        final_url: None,
        redirected: false,
        tls_valid: None,
        error: None,
    };
    let builder = match http.request(reqwest::Method::GET, &url) {
        Ok(b) => b,
        Err(e) => {
            v.error = Some(e.to_string());
            return v;
        }
    };
    let https = url.to_ascii_lowercase().starts_with("https://");
    v.url = Some(url.clone());
    match http.execute_if(builder, |_, _| false).await {
        Ok((r, _)) => {
            v.resolves = true;
            v.http_status = Some(i32::from(r.status));
            v.redirected = r.final_url.as_str().trim_end_matches('/') != url.trim_end_matches('/');
            v.tls_valid = (https || r.final_url.scheme() == "https").then_some(true);
            v.final_url = Some(r.final_url.to_string());
        }
        Err(e) => {
            if matches!(e, OutboundError::Http(_)) {
                // Something answered on the address; a certificate problem is a TLS verdict.
                let tls = certificate_error(&e);
                v.resolves = tls;
                if https && tls {
                    v.tls_valid = Some(false);
                }
            }
            v.error = Some(e.to_string());
        }
    }
    v
}

/// The error's cause chain names a certificate.
fn certificate_error(e: &OutboundError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.to_string().to_ascii_lowercase().contains("certificate") {
            return true;
        }
        source = s.source();
    }
    false
}
