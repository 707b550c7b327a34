//! `twinstore serve`: TSI's REST API over HTTP (docs/SERVER.md).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use twinstore::Options;
use twinstore::server::{ServerOptions, TlsFiles, serve as serve_store, shutdown_signal};

use super::{CliError, Db, open};

#[derive(Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    db: Db,
    /// Address to listen on; a non-loopback address needs --token (or --no-auth).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Every request must carry `Authorization: Bearer <TOKEN>` (also read from the
    /// environment variable TWINSTORE_TOKEN, which keeps it out of the process list).
    #[arg(long, value_name = "TOKEN", env = "TWINSTORE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve without a token on a non-loopback address.
    #[arg(long)]
    no_auth: bool,
    /// An origin a browser may call the API from (repeat for several), e.g.
    /// https://dashboard.example.com; none by default.
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// Longest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    max_body_bytes: usize,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Requests served at once; more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_concurrent: usize,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

pub(super) fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let options = ServerOptions {
        listen: args.listen,
        token: args.token,
        allow_no_auth: args.no_auth,
        cors_origins: args.cors_origin,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.timeout),
        max_concurrent_requests: args.max_concurrent,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        ..ServerOptions::default()
    };
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    options.check()?;
    let store = open(&args.db.db, Options::default())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Message(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(serve_store(store, options, shutdown_signal(), |addr| {
        eprintln!("twinstore: serving TSI's API on {scheme}://{addr} (Ctrl-C stops, after a flush)");
    }))?;
    eprintln!("twinstore: stopped; the store is flushed and synced");
    Ok(ExitCode::SUCCESS)
}
