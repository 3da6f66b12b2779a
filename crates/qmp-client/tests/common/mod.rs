//! What the integration suite needs from a server: a way to start one.
//! The scenarios in `scenarios.rs` only see a `Client`, so the same suite
//! runs against every server a launcher can start: real QEMU, and the
//! simulator built on qmp-server (`sim.rs`).

#![allow(dead_code)]

pub mod events;
pub mod scenarios;
pub mod sim;

/// One scenario against one launcher's server, as a tokio test; skipped
/// (with the launcher's printed reason) when the server cannot be started.
#[macro_export]
macro_rules! launcher_test {
    ($launcher:expr, $name:ident, $machine:expr, |$client:ident| $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some($client) = $launcher.launch($machine, ClientConfig::default()).await else {
                return;
            };
            $body.await;
        }
    };
}

/// The scenarios every server must pass, as tests against `$launcher`.
/// `sigkill_fails_pending_calls` is left to each suite: it needs a server
/// process to kill.
#[macro_export]
macro_rules! shared_scenarios {
    ($launcher:expr) => {
        launcher_test!($launcher, query_version, Machine::None, |c| {
            scenarios::query_version(&c)
        });
        launcher_test!($launcher, query_qmp_schema, Machine::None, |c| {
            scenarios::query_qmp_schema(&c)
        });
        launcher_test!($launcher, stop_cont_events, Machine::NoneStopped, |c| {
            scenarios::stop_cont_events(&c)
        });
        launcher_test!($launcher, getfd_closefd, Machine::None, |c| {
            scenarios::getfd_closefd(&c)
        });
        launcher_test!(
            $launcher,
            typed_call_with_fd_and_deadline,
            Machine::None,
            |c| { scenarios::typed_call_with_fd_and_deadline(&c) }
        );
        launcher_test!($launcher, oob_migrate_pause, Machine::None, |c| {
            scenarios::oob_migrate_pause(&c)
        });
        launcher_test!(
            $launcher,
            oob_passes_blocked_inband_queue,
            Machine::None,
            |c| { scenarios::oob_passes_blocked_inband(&c) }
        );
        launcher_test!(
            $launcher,
            hundred_tasks_hundred_commands,
            Machine::None,
            |c| { scenarios::many_tasks(&c, 100, 100) }
        );
        launcher_test!($launcher, quit_with_shutdown, Machine::None, |c| {
            scenarios::quit(&c)
        });
    };
}

use std::future::Future;
use std::pin::Pin;

use qmp_client::{Client, ClientConfig, QemuLauncher};
use qmp_test_support::{QEMU_HEADLESS, QEMU_NO_MACHINE};

/// The machine a scenario needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// `-machine none`, running.
    None,
    /// `-machine none -S` (stopped, for run-state tests).
    NoneStopped,
    /// `-M pc -S -accel tcg` (a real machine, stopped).
    PcStopped,
}

/// Starts servers for the scenarios.
pub trait Launcher: Sync {
    /// A short name for messages.
    fn name(&self) -> &str;
    /// A connected client for a fresh server, or `None` (skipped).
    fn launch<'a>(
        &'a self,
        machine: Machine,
        config: ClientConfig,
    ) -> Pin<Box<dyn Future<Output = Option<Client>> + Send + 'a>>;
}

/// Real QEMU (`qemu-system-x86_64`), launched on a socketpair.
pub struct RealQemu;

impl Launcher for RealQemu {
    fn name(&self) -> &str {
        "qemu-system-x86_64"
    }

    fn launch<'a>(
        &'a self,
        machine: Machine,
        config: ClientConfig,
    ) -> Pin<Box<dyn Future<Output = Option<Client>> + Send + 'a>> {
        Box::pin(async move {
            let program = qmp_test_support::qemu_system()?;
            let args: &[&str] = match machine {
                Machine::None => &QEMU_NO_MACHINE,
                Machine::NoneStopped => &["-machine", "none", "-S"],
                Machine::PcStopped => &["-M", "pc", "-S", "-accel", "tcg"],
            };
            let launcher = QemuLauncher::new(program)
                .args(args.iter().copied())
                .args(QEMU_HEADLESS);
            Some(
                Client::builder()
                    .config(config)
                    .launch(&launcher)
                    .await
                    .expect("launch QEMU"),
            )
        })
    }
}

/// A real QEMU (`-machine none` plus `extra`) with its monitor on a unix
/// socket, and a client connected to it; `None` after reporting QEMU
/// missing.
pub async fn qemu_on_socket(extra: &[&str]) -> Option<(qmp_test_support::TestProcess, Client)> {
    let qemu = qmp_test_support::qemu_system()?;
    let process = qmp_test_support::TestProcess::qemu(&qemu, extra).expect("start QEMU");
    let client = Client::connect_unix(process.socket())
        .await
        .expect("connect");
    Some((process, client))
}

/// Migrates to `uri` and waits (within `limit`) for the migration to
/// complete, checking the final `query-migrate`.
pub async fn assert_migration_completes(client: &Client, uri: &str, limit: std::time::Duration) {
    use qmp_client::QemuExt;
    let mut args = qmp_client::Map::new();
    args.insert("uri", uri);
    let info = client
        .migrate_and_wait(args, limit)
        .await
        .expect("the migration completes");
    assert_eq!(
        info.get("status").and_then(qmp_client::Value::as_str),
        Some("completed"),
        "{info}"
    );
}

/// Adds a 1 MiB `null-co` block node called `name`.
pub async fn add_null_node(client: &Client, name: &str) {
    let mut node = qmp_client::Map::new();
    node.insert("driver", "null-co");
    node.insert("node-name", name);
    node.insert("size", 1_048_576);
    client
        .execute("blockdev-add", node)
        .await
        .expect("blockdev-add");
}

/// Asserts that the server lists no job (the waited one was dismissed).
pub async fn assert_no_jobs(client: &Client) {
    let jobs = client.execute("query-jobs", ()).await.expect("query-jobs");
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "dismissed: {jobs}");
}

/// The built-in simulator, also served over TLS on a free TCP port with
/// certificates made in `certs` (`ca-cert.pem` verifies it); `None` after
/// reporting `openssl` missing.
pub async fn simulator_over_tls(
    certs: &std::path::Path,
) -> Option<(qmp_sim::Simulator, std::net::SocketAddr)> {
    qmp_test_support::tls_certificates(certs)?;
    let tls = qmp_server::TlsConfig::from_pem_files(
        &certs.join("server-cert.pem"),
        &certs.join("server-key.pem"),
    )
    .expect("TLS settings");
    let simulator = qmp_sim::Simulator::start().await.expect("simulator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = simulator.server().clone();
    tokio::spawn(async move { server.serve_tls_listener(listener, tls).await });
    Some((simulator, address))
}
