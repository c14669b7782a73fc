//! `GET /` in development: a small page linking to what a developer opens first (GraphiQL,
//! health, the schema). Production has no such route (404), and `/schema.graphql` is served only
//! where introspection is on (it reveals nothing introspection would not).

use std::sync::Arc;

use axum::{
    http::header,
    response::{Html, IntoResponse},
    routing::get,
    Router,
};

use super::HttpState;

/// The routes: `/` when `landing`, `/schema.graphql` when `sdl` is given.
pub fn router(landing: bool, graphiql: bool, sdl: Option<Arc<str>>) -> Router<HttpState> {
    let mut router = Router::new();
    if landing {
        let page = page(graphiql, sdl.is_some());
        router = router.route("/", get(move || async move { Html(page) }));
    }
    if let Some(sdl) = sdl {
        router = router.route(
            "/schema.graphql",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    sdl.to_string(),
                )
                    .into_response()
            }),
        );
    }
    router
}

fn page(graphiql: bool, schema: bool) -> String {
    let mut links = Vec::new();
    if graphiql {
        links.push(r#"<li><a href="/graphiql">GraphiQL</a>: explore and run queries</li>"#);
    }
    links.push(
        r#"<li><code>POST /graphql</code>, <code>/graphql/ws</code> (graphql-transport-ws)</li>"#,
    );
    if schema {
        links.push(r#"<li><a href="/schema.graphql">schema.graphql</a>: the SDL</li>"#);
    }
    links.push(r#"<li><a href="/health">/health</a>, <a href="/livez">/livez</a>, <a href="/readyz">/readyz</a></li>"#);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Leadgraph</title></head>\
         <body><h1>Leadgraph</h1><p>Development server.</p><ul>{}</ul></body></html>",
        links.concat()
    )
}
