//! What the server tests share (tests/server.rs and the headless-browser tests): a
//! twinstore server on a loopback port (HTTP or HTTPS with a certificate made for the
//! test), and a Node script that drives Debian's Chromium through playwright-core and
//! prints its findings as JSON.
//!
//! The browser and playwright-core are not Rust dependencies: `.ci/run` installs them
//! (`apt-get install -y chromium`, `npm ci` in tests/browser). On a machine without them a
//! browser test says so on stderr and passes without running, unless
//! `TWINSTORE_REQUIRE_BROWSER=1` (set by `.ci/run`) makes their absence a failure.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use twinstore::Store;
#[cfg(feature = "tls")]
use twinstore::server::TlsFiles;
use twinstore::server::{ServerOptions, serve};

/// A running server; dropping it stops the server and joins its thread.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `store` on a free loopback port with `options` (its `listen` is replaced).
pub fn start(store: Store, options: ServerOptions) -> Server {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let options = ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..options
        };
        let served = runtime.block_on(serve(
            store,
            options,
            async {
                let _ = stopped.await;
            },
            move |addr| {
                let _ = bound.send(addr);
            },
        ));
        served.expect("served and flushed");
    });
    let addr = addr.recv_timeout(Duration::from_secs(10)).expect("listening");
    Server {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written into `dir`.
#[cfg(feature = "tls")]
pub fn certificate(dir: &Path) -> TlsFiles {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let issued = rcgen::generate_simple_self_signed(names).expect("certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, issued.cert.pem()).expect("cert");
    std::fs::write(&key, issued.signing_key.serialize_pem()).expect("key");
    TlsFiles { cert, key }
}

/// The directory of the Node scripts and their node_modules.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where test artifacts (screenshots) go: target/browser-artifacts.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// The Chromium binary: `$CHROMIUM`, else Debian's `/usr/bin/chromium`.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    candidates.into_iter().find(|p| p.is_file())
}

/// Runs `tests/browser/<script>` with Node, giving it `config` (plus the Chromium path) as
/// its one argument, and returns the JSON it prints last. `None` when the browser tools
/// are missing and not required.
pub fn run_script(script: &str, config: &Json) -> Option<Json> {
    let modules = scripts_dir().join("node_modules/playwright-core");
    let chromium = chromium();
    let node = Command::new("node").arg("--version").output().is_ok();
    let missing: Vec<&str> = [
        (
            chromium.is_none(),
            "Chromium (apt-get install -y chromium, or set CHROMIUM)",
        ),
        (!node, "Node.js"),
        (!modules.is_dir(), "playwright-core (npm ci in tests/browser)"),
    ]
    .into_iter()
    .filter_map(|(absent, what)| absent.then_some(what))
    .collect();
    if !missing.is_empty() {
        let message = format!("browser test skipped: missing {}", missing.join(", "));
        if std::env::var_os("TWINSTORE_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
            panic!("{message} (TWINSTORE_REQUIRE_BROWSER=1)");
        }
        eprintln!("{message}");
        return None;
    }
    let mut config = config.clone();
    config["chromium"] = Json::String(chromium.expect("checked above").display().to_string());
    let output = Command::new("node")
        .arg(scripts_dir().join(script))
        .arg(config.to_string())
        .current_dir(scripts_dir())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    Some(serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}\n{stderr}")))
}
