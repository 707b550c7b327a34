//! `twinstore serve`: TSI's REST API over HTTP, on axum and tokio (feature `server`).
//!
//! [`router`] builds the routes over a [`Store`], for a Rust service to mount in its own
//! server; [`serve`] binds, serves until a shutdown signal, then flushes and syncs the store.
//! Every route answers JSON, errors in TSI's shape `{"error": {"code", "message",
//! "innerError"?}}` (tsiclient, the JavaScript library TSI's explorer was built on, hangs on
//! an error body that is not JSON). The store's calls are synchronous and CPU-bound: each
//! request runs one on tokio's blocking pool, with at most
//! [`ServerOptions::max_concurrent_requests`] at once (more are answered 503 at once, so a
//! flood queues no memory) and [`ServerOptions::request_timeout`] to answer.

mod error;
mod explorer;
mod ingest;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::engine::Store;
use crate::error::{Error, Result};

pub use error::ApiError;

/// The API version TSI's 2020-07-31 REST API is called with, the one twinstore answers.
pub const API_VERSION: &str = "2020-07-31";

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Where to listen (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The bearer token every request must carry (`Authorization: Bearer <token>`); `None`:
    /// no authentication, allowed on a loopback address only unless `allow_no_auth`.
    pub token: Option<String>,
    /// Serve without a token on a non-loopback address (`--no-auth`).
    pub allow_no_auth: bool,
    /// Origins allowed to call the API from a browser (`Access-Control-Allow-Origin`);
    /// empty: cross-origin calls are refused by the browser.
    pub cors_origins: Vec<String>,
    /// Largest request body, in bytes (default 16 MiB; a `$batch` holds at most 8 MB).
    pub max_body_bytes: usize,
    /// Longest time a request may take before it is answered 408 (default 30 s, TSI's).
    pub request_timeout: Duration,
    /// Requests served at once; more are answered 503 `TooManyRequests` (default 64).
    pub max_concurrent_requests: usize,
    /// How long a delivered event (source and id) is remembered, so that a retried
    /// delivery is not stored twice (default 24 hours, as long as Event Grid retries).
    pub dedupe_window: Duration,
    /// At most this many event ids are remembered (the oldest forgotten first; default
    /// 1,000,000).
    pub dedupe_ids: usize,
    /// Serve HTTPS with this certificate chain and private key (PEM files); `None`: HTTP.
    #[cfg(feature = "tls")]
    pub tls: Option<TlsFiles>,
}

/// A certificate chain and its private key, PEM files (PKCS#8, PKCS#1 or SEC1 keys).
#[cfg(feature = "tls")]
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: std::path::PathBuf,
    /// The private key.
    pub key: std::path::PathBuf,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            allow_no_auth: false,
            cors_origins: Vec::new(),
            max_body_bytes: 16 << 20,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 64,
            dedupe_window: Duration::from_secs(24 * 3600),
            dedupe_ids: 1_000_000,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ServerOptions {
    /// Refuses what would expose the store: a non-loopback address without a token (unless
    /// `allow_no_auth`), an empty token, an origin that is not a valid header value.
    pub fn check(&self) -> Result<()> {
        if self.token.as_deref().is_some_and(str::is_empty) {
            return Err(Error::InvalidArgument("the token is empty".into()));
        }
        if !self.listen.ip().is_loopback() && self.token.is_none() && !self.allow_no_auth {
            return Err(Error::InvalidArgument(format!(
                "listening on {} (not a loopback address) needs a token (--token), or --no-auth to serve \
                 without one",
                self.listen
            )));
        }
        for origin in &self.cors_origins {
            HeaderValue::from_str(origin)
                .map_err(|_| Error::InvalidArgument(format!("CORS origin {origin:?} is not a valid header value")))?;
        }
        if self.max_concurrent_requests == 0 {
            return Err(Error::InvalidArgument(
                "max_concurrent_requests must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) max_body_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) recent: Arc<parking_lot::Mutex<ingest::RecentIds>>,
}

/// The routes of TSI's REST API over `store` (see docs/SERVER.md), with `options`' token,
/// limits and CORS origins: mount them in an axum server of your own, or run [`serve`].
pub fn router(store: Store, options: &ServerOptions) -> Result<Router> {
    options.check()?;
    let state = AppState {
        store,
        token: options.token.as_deref().map(Arc::from),
        permits: Arc::new(Semaphore::new(options.max_concurrent_requests)),
        max_body_bytes: options.max_body_bytes,
        timeout: options.request_timeout,
        recent: Arc::new(parking_lot::Mutex::new(ingest::RecentIds::new(
            options.dedupe_window,
            options.dedupe_ids,
        ))),
    };
    let mut app = routes::routes(state);
    if !options.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = options
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        let headers = [
            "authorization",
            "content-type",
            "x-ms-client-request-id",
            "x-ms-client-session-id",
            "x-ms-continuation",
        ]
        .map(HeaderName::from_static);
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PATCH])
                .allow_headers(headers)
                .expose_headers([
                    HeaderName::from_static("x-ms-continuation"),
                    HeaderName::from_static("x-ms-request-id"),
                ])
                .max_age(Duration::from_secs(600)),
        );
    }
    Ok(app)
}

/// Serves `store` on `options.listen` until `shutdown` completes (for the command line:
/// SIGINT or SIGTERM, see [`shutdown_signal`]), then lets open requests finish, flushes the
/// warm tier and syncs. `on_listening` is told the bound address (port 0 picks one).
pub async fn serve(
    store: Store,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    let app = router(store.clone(), &options)?;
    #[cfg(feature = "tls")]
    if let Some(files) = &options.tls {
        serve_tls(app, &options, files, shutdown, on_listening).await?;
        return flush(store).await;
    }
    let where_ = format!("listening socket {}", options.listen);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::io(&where_, e))?;
    on_listening(listener.local_addr().map_err(|e| Error::io(&where_, e))?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::io(&where_, e))?;
    flush(store).await
}

/// The last step of a shutdown: the warm tier flushed, everything synced.
async fn flush(store: Store) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        store.flush()?;
        store.sync()
    })
    .await
    .map_err(|e| Error::InvalidArgument(format!("the final flush did not run: {e}")))?
}

/// Serves `app` over HTTPS with `files` until `shutdown`, then waits up to 30 s for open
/// requests.
#[cfg(feature = "tls")]
async fn serve_tls(
    app: Router,
    options: &ServerOptions,
    files: &TlsFiles,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    // One crypto provider for the process, ring: rustls needs it named when features of
    // several could be on. rustls marks ring's provider deprecated (it has no post-quantum
    // key exchange); aws-lc-rs, which has, needs a C toolchain and cmake to build, which a
    // user's machine may lack: ring until that changes.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map_err(|e| {
            Error::InvalidArgument(format!(
                "TLS certificate {} or key {}: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let where_ = format!("listening socket {}", options.listen);
    let server = axum_server::bind_rustls(options.listen, config)
        .handle(handle.clone())
        .serve(app.into_make_service());
    let server = tokio::spawn(server);
    match handle.listening().await {
        Some(addr) => on_listening(addr),
        None => {
            let result = server
                .await
                .map_err(|e| Error::InvalidArgument(format!("the server did not start: {e}")))?;
            result.map_err(|e| Error::io(&where_, e))?;
            return Err(Error::InvalidArgument(format!(
                "could not listen on {}",
                options.listen
            )));
        }
    }
    server
        .await
        .map_err(|e| Error::InvalidArgument(format!("the server stopped: {e}")))?
        .map_err(|e| Error::io(&where_, e))
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        // An error here means no handler could be installed: then only SIGTERM stops us.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
