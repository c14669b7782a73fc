//! Self-hosted GraphiQL at `GET /graphiql`.
//!
//! Every script and stylesheet is served by this server under `/graphiql/assets/`, so the IDE
//! renders with no internet access (async-graphql's built-in page loads from a CDN). The vendor
//! files (React 18 UMD, GraphiQL 3 UMD bundle + CSS) are fetched from pinned npm packages by
//! `build.rs` and embedded with `include_bytes!`; nothing minified is committed to git.
//!
//! If the build could not fetch them, `GET /graphiql` answers 503 with a page explaining why and
//! how to fix it, and the asset routes answer 404.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Whether `build.rs` embedded the real vendor assets.
const AVAILABLE: bool = const_str_eq(env!("LEADGRAPH_GRAPHIQL_AVAILABLE"), "1");
/// Content hash of the embedded assets, appended as `?v=` so `immutable` caching is safe.
const ASSET_VERSION: &str = env!("LEADGRAPH_GRAPHIQL_ASSET_VERSION");
/// Where the assets came from (pinned npm versions or `LEADGRAPH_GRAPHIQL_DIR`).
const ASSET_SOURCE: &str = env!("LEADGRAPH_GRAPHIQL_SOURCE");
/// Why the assets are missing (empty when they are not).
const BUILD_ERROR: &str = env!("LEADGRAPH_GRAPHIQL_BUILD_ERROR");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Same-origin only; scripts only from files (the page has no inline script). GraphiQL sets
/// inline styles and its CSS embeds fonts/icons as `data:` URLs. Subscriptions use WebSockets to
/// this host (`'self'` covers ws(s) in current browsers; `ws:`/`wss:` for older ones).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An embedded file under `/graphiql/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! vendor_asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/", $name)),
        }
    };
}

/// Vendor assets from `build.rs` (names must match its `PACKAGES` table), plus our bootstrap.
/// Order = load order in the page.
static ASSETS: &[Asset] = &[
    vendor_asset!("graphiql.min.css", CSS),
    vendor_asset!("react.production.min.js", JS),
    vendor_asset!("react-dom.production.min.js", JS),
    vendor_asset!("graphiql.min.js", JS),
    Asset {
        name: "leadgraph-graphiql.js",
        content_type: JS,
        bytes: BOOTSTRAP_JS.as_bytes(),
    },
];

/// Starts GraphiQL: HTTP to `/graphql`, subscriptions (graphql-ws, bundled in graphiql 3's UMD
/// build) to `ws(s)://<this host>/graphql/ws`. Headers from the Headers tab go on every HTTP
/// request and, as the `connection_init` payload, on subscriptions; their names are lowercased
/// so the payload is `{"authorization": "Bearer …"}` (HTTP header names are case-insensitive).
const BOOTSTRAP_JS: &str = r#"(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    root.textContent = 'GraphiQL could not load its scripts from /graphiql/assets/.';
    return;
  }
  var wsScheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var baseFetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: wsScheme + '//' + window.location.host + '/graphql/ws'
  });
  function lowercaseKeys(headers) {
    if (!headers || typeof headers !== 'object') { return headers; }
    var out = {};
    Object.keys(headers).forEach(function (key) { out[key.toLowerCase()] = headers[key]; });
    return out;
  }
  function fetcher(params, opts) {
    var options = Object.assign({}, opts);
    if (opts && opts.headers) { options.headers = lowercaseKeys(opts.headers); }
    return baseFetcher(params, options);
  }
  var defaultQuery = [
    '# Welcome to the Leadgraph GraphiQL.',
    '#',
    '# Signed-in operations need a token: open the',
    '# "Headers" tab below and add',
    '#',
    '#   { "Authorization": "Bearer <token>" }',
    '#',
    '# Subscriptions (/graphql/ws) send the same',
    '# headers in their connection_init payload.',
    '',
    'query {',
    '  __typename',
    '}',
    ''
  ].join('\n');
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false
    })
  );
})();
"#;

/// `GET /graphiql`, `GET /graphiql/` (redirect) and `GET /graphiql/assets/{file}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/graphiql", get(page))
        .route(
            "/graphiql/",
            get(|| async { Redirect::permanent("/graphiql") }),
        )
        .route("/graphiql/assets/{file}", get(asset))
}

async fn page() -> Response {
    if AVAILABLE {
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            page_html(),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            unavailable_html(),
        )
            .into_response()
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    match find_asset(&file) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "unknown GraphiQL asset").into_response(),
    }
}

/// Exact-name lookup (no filesystem access, so no traversal). Empty placeholders count as
/// missing, which is what the build leaves when it could not fetch the assets.
fn find_asset(name: &str) -> Option<&'static Asset> {
    ASSETS
        .iter()
        .find(|a| a.name == name && !a.bytes.is_empty())
}

/// The IDE page: only same-origin, versioned asset URLs; no inline script.
fn page_html() -> String {
    let mut head = String::new();
    let mut body = String::new();
    for asset in ASSETS {
        let url = format!("/graphiql/assets/{}?v={ASSET_VERSION}", asset.name);
        if asset.content_type == CSS {
            head.push_str(&format!("    <link rel=\"stylesheet\" href=\"{url}\">\n"));
        } else {
            body.push_str(&format!("    <script src=\"{url}\"></script>\n"));
        }
    }
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>Leadgraph · GraphiQL</title>
{head}    <style>
      html, body {{ height: 100%; margin: 0; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
{body}  </body>
</html>
"#
    )
}

/// Served (503) instead of the IDE when the build had no assets.
fn unavailable_html() -> String {
    let reason = if BUILD_ERROR.is_empty() {
        "unknown (see the cargo build warnings)"
    } else {
        BUILD_ERROR
    };
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <title>Leadgraph · GraphiQL unavailable</title>
    <style>body {{ font-family: sans-serif; max-width: 48rem; margin: 2rem auto; line-height: 1.5; padding: 0 1rem; }} code, pre {{ background: #f3f3f3; padding: 0 .25rem; }} pre {{ padding: .5rem; white-space: pre-wrap; }}</style>
  </head>
  <body>
    <h1>GraphiQL is unavailable in this build</h1>
    <p>This server hosts GraphiQL's files itself (no CDN), and they are fetched from the npm
      registry when the server is compiled. That step failed, so this build has no GraphiQL.
      The GraphQL API itself at <code>/graphql</code> is not affected.</p>
    <p>Reason reported by the build:</p>
    <pre>{reason}</pre>
    <p>Packages wanted: <code>{source}</code></p>
    <h2>How to fix</h2>
    <ul>
      <li>Make <code>npm</code> available (it needs only the npm registry), then rebuild with
        <code>LEADGRAPH_GRAPHIQL_REFETCH=1 cargo build</code>.</li>
      <li>Or, on a machine with npm, run <code>scripts/fetch-graphiql DIR</code>, copy DIR here,
        and rebuild with <code>LEADGRAPH_GRAPHIQL_DIR=DIR cargo build</code>.</li>
    </ul>
  </body>
</html>
"#,
        reason = escape_html(reason),
        source = escape_html(ASSET_SOURCE),
    )
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    async fn get(uri: &str) -> Result<Response, Box<dyn std::error::Error>> {
        let app: Router = router();
        let request = Request::builder().uri(uri).body(Body::empty())?;
        Ok(app.oneshot(request).await?)
    }

    async fn body_bytes(response: Response) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        Ok(axum::body::to_bytes(response.into_body(), usize::MAX)
            .await?
            .to_vec())
    }

    fn header_str(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Values of `attr="…"` in an HTML string.
    fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
        let needle = format!("{attr}=\"");
        html.match_indices(&needle)
            .filter_map(|(i, _)| {
                let rest = &html[i + needle.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    fn assert_no_external_urls(text: &str) {
        let lower = text.to_ascii_lowercase();
        for forbidden in [
            "http://",
            "https://",
            "src=\"//",
            "href=\"//",
            "url(//",
            "unpkg",
            "jsdelivr",
        ] {
            assert!(
                !lower.contains(forbidden),
                "found {forbidden:?} in:\n{text}"
            );
        }
    }

    /// The real assets must be embedded; a build without npm fails here on purpose (set
    /// LEADGRAPH_GRAPHIQL_ALLOW_MISSING=1 to run the tests anyway).
    fn require_assets() -> bool {
        if AVAILABLE {
            return true;
        }
        assert!(
            std::env::var_os("LEADGRAPH_GRAPHIQL_ALLOW_MISSING").is_some(),
            "GraphiQL assets were not embedded at build time ({BUILD_ERROR}); see build.rs"
        );
        false
    }

    #[test]
    fn page_references_only_same_origin_assets() {
        let html = page_html();
        assert_no_external_urls(&html);
        assert_no_external_urls(BOOTSTRAP_JS);
        assert!(
            !html.contains("<script>"),
            "no inline scripts (CSP script-src 'self')"
        );
        let urls: Vec<&str> = attr_values(&html, "src")
            .into_iter()
            .chain(attr_values(&html, "href"))
            .collect();
        assert_eq!(urls.len(), ASSETS.len());
        for url in urls {
            assert!(url.starts_with("/graphiql/assets/"), "unexpected URL {url}");
            assert!(
                url.ends_with(&format!("?v={ASSET_VERSION}")),
                "unversioned URL {url}"
            );
        }
        // Scripts in dependency order, bootstrap last.
        let order: Vec<usize> = [
            "react.production",
            "react-dom.production",
            "graphiql.min.js",
            "leadgraph-graphiql.js",
        ]
        .iter()
        .filter_map(|name| html.find(name))
        .collect();
        assert_eq!(order.len(), 4);
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "script order: {order:?}"
        );
    }

    #[test]
    fn unavailable_page_explains_the_fix() {
        let html = unavailable_html();
        assert_no_external_urls(&html);
        assert!(html.contains("LEADGRAPH_GRAPHIQL_DIR"));
        assert!(html.contains("LEADGRAPH_GRAPHIQL_REFETCH"));
        assert!(html.contains("scripts/fetch-graphiql"));
    }

    #[tokio::test]
    async fn graphiql_page_is_served() -> TestResult {
        let response = get("/graphiql").await?;
        if !require_assets() {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            return Ok(());
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_str(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert!(header_str(&response, header::CONTENT_SECURITY_POLICY)
            .starts_with("default-src 'self'"));
        let html = String::from_utf8(body_bytes(response).await?)?;
        assert!(html.contains("id=\"graphiql\""));
        assert_no_external_urls(&html);
        Ok(())
    }

    #[tokio::test]
    async fn every_asset_is_served_with_type_and_caching() -> TestResult {
        let available = require_assets();
        for asset in ASSETS {
            let response = get(&format!(
                "/graphiql/assets/{}?v={ASSET_VERSION}",
                asset.name
            ))
            .await?;
            if !available && asset.bytes.is_empty() {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{}", asset.name);
                continue;
            }
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            let expected_type = if asset.name.ends_with(".css") {
                CSS
            } else {
                JS
            };
            assert_eq!(
                header_str(&response, header::CONTENT_TYPE),
                expected_type,
                "{}",
                asset.name
            );
            assert_eq!(
                header_str(&response, header::CACHE_CONTROL),
                IMMUTABLE,
                "{}",
                asset.name
            );
            let bytes = body_bytes(response).await?;
            assert!(!bytes.is_empty(), "{} is empty", asset.name);
            assert_eq!(bytes, asset.bytes, "{}", asset.name);
        }
        if available {
            // Spot-check that the vendor files are what the page expects.
            let js = |name: &str| {
                find_asset(name).map(|a| String::from_utf8_lossy(a.bytes).into_owned())
            };
            assert!(js("graphiql.min.js").is_some_and(|s| s.contains(".GraphiQL=")));
            assert!(js("react.production.min.js").is_some_and(|s| s.contains("React")));
            assert!(js("react-dom.production.min.js").is_some_and(|s| s.contains("ReactDOM")));
        }
        Ok(())
    }

    #[tokio::test]
    async fn unknown_assets_are_404() -> TestResult {
        for uri in [
            "/graphiql/assets/nope.js",
            "/graphiql/assets/..%2Fbuild.rs",
            "/graphiql/assets/graphiql.min.js.map",
            "/graphiql/assets/",
        ] {
            let response = get(uri).await?;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn trailing_slash_redirects() -> TestResult {
        let response = get("/graphiql/").await?;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header_str(&response, header::LOCATION), "/graphiql");
        Ok(())
    }
}
