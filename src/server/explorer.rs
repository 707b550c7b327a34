//! The explorer page at `/` (docs/EXPLORER.md): a hierarchy tree, a chart and a raw-events
//! table over TSI's API, in plain HTML, CSS and JavaScript compiled into the binary, so that
//! it works offline. The assets hold no data: they load without the token (a browser
//! navigation cannot send a bearer header) and the page asks for it when the API answers
//! 401.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page's own sources may run, call the API and draw; nothing else (no other origin,
/// no inline script), and no other site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'";

/// The files under `/explorer/`: name, content type, text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("explorer.css", CSS, include_str!("explorer/explorer.css")),
    ("main.js", JAVASCRIPT, include_str!("explorer/main.js")),
    ("api.js", JAVASCRIPT, include_str!("explorer/api.js")),
    ("time.js", JAVASCRIPT, include_str!("explorer/time.js")),
    ("state.js", JAVASCRIPT, include_str!("explorer/state.js")),
    ("tree.js", JAVASCRIPT, include_str!("explorer/tree.js")),
    ("details.js", JAVASCRIPT, include_str!("explorer/details.js")),
    ("chart.js", JAVASCRIPT, include_str!("explorer/chart.js")),
    ("timebar.js", JAVASCRIPT, include_str!("explorer/timebar.js")),
    ("events.js", JAVASCRIPT, include_str!("explorer/events.js")),
    ("dom.js", JAVASCRIPT, include_str!("explorer/dom.js")),
];

const INDEX: &str = include_str!("explorer/index.html");

/// `GET /` and `GET /explorer/<file>`.
pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/explorer/{file}", get(asset))
}

/// Whether `request` asks for the page or one of its files, which need no token and no
/// `api-version`.
pub(super) fn is_page(request: &Request) -> bool {
    let path = request.uri().path();
    let file = path.strip_prefix("/explorer/");
    matches!(*request.method(), Method::GET | Method::HEAD)
        && (path == "/" || file.is_some_and(|file| ASSETS.iter().any(|(name, ..)| *name == file)))
}

async fn index() -> Response {
    text(HTML, INDEX)
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => text(content_type, body),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "InvalidUrl",
            format!("the explorer has no file {file:?}"),
        )
        .into_response(),
    }
}

fn text(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change with the binary: the browser asks again each time (a 304 is not
    // worth the code for a few tens of kilobytes on loopback).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;
    use crate::engine::{Options, Store};
    use crate::server::{ServerOptions, router};

    fn app(dir: &std::path::Path) -> Router {
        let store = Store::open(dir, Options::default().background_maintenance(false)).expect("open");
        let options = ServerOptions {
            token: Some("t0ken".into()),
            ..ServerOptions::default()
        };
        router(store, &options).expect("router")
    }

    async fn call(app: &Router, method: &str, uri: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, content_type, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_page_and_its_files_load_without_the_token_and_nothing_else_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = app(dir.path());
        let (status, content_type, body) = call(&app, "GET", "/").await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, HTML));
        assert!(
            body.contains("explorer/main.js") && body.contains("explorer/explorer.css"),
            "{body}"
        );
        for (name, expected_type, _) in ASSETS {
            let (status, content_type, body) = call(&app, "GET", &format!("/explorer/{name}")).await;
            assert_eq!(
                (status, content_type.as_str()),
                (StatusCode::OK, *expected_type),
                "{name}"
            );
            assert!(!body.is_empty(), "{name}");
        }
        // An unknown file, another method, the API: refused as before (a POST without a
        // JSON body first for that).
        for (method, uri, expected) in [
            ("GET", "/explorer/secret.js", StatusCode::UNAUTHORIZED),
            ("GET", "/explorer/", StatusCode::UNAUTHORIZED),
            ("POST", "/", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (
                "GET",
                "/timeseries/types?api-version=2020-07-31",
                StatusCode::UNAUTHORIZED,
            ),
            ("GET", "/availability?api-version=2020-07-31", StatusCode::UNAUTHORIZED),
        ] {
            let (status, _, body) = call(&app, method, uri).await;
            assert_eq!(status, expected, "{method} {uri}: {body}");
        }
    }

    #[test]
    fn every_module_the_scripts_import_is_served() {
        for (name, _, text) in ASSETS {
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(from) = line.split('\'').nth(1) else {
                    panic!("{name}: unreadable import {line:?}");
                };
                let file = from.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|(n, ..)| *n == file),
                    "{name} imports {from}, which is not served"
                );
            }
        }
    }
}
