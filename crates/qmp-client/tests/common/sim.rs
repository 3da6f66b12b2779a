//! The simulator (`qmp fake-qemu`'s server, from qmp-sim) as a launcher,
//! in process: each launch builds a fresh simulated machine serving one
//! session on a socketpair, on the test's runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use qmp_client::{Client, ClientConfig};
use qmp_server::ServerConfig;
use qmp_sim::qemu::{build_server, default_version};
use qmp_sim::{MachineOptions, SimApi};

use crate::common::{Launcher, Machine};

/// The schema the simulator serves: QEMU 7.2's, as Debian ships it.
const SCHEMA: &str = "qemu/expected/7.2-x86_64-query-qmp-schema.json";

/// qmp-sim's QEMU stand-in.
pub struct Simulator;

/// The API, loaded once per test binary (`None`: the shared file is missing).
fn api() -> Option<&'static SimApi> {
    static API: OnceLock<Option<SimApi>> = OnceLock::new();
    API.get_or_init(|| {
        let path = qmp_test_support::shared_path(SCHEMA)?;
        Some(SimApi::from_introspection_file(&path).expect("load the 7.2 schema"))
    })
    .as_ref()
}

impl Simulator {
    /// Serves one session on `stream` from a fresh simulated machine (on
    /// the current runtime); `None` when the schema is missing.
    pub fn serve(machine: Machine, stream: tokio::net::UnixStream) -> Option<()> {
        let options = MachineOptions {
            start_stopped: machine != Machine::None,
            ..MachineOptions::default()
        };
        let sim = qmp_sim::Machine::new(&options);
        let server = build_server(api()?, &sim, ServerConfig::qmp(default_version()));
        tokio::spawn(async move { server.serve_unix_stream(stream).await });
        Some(())
    }

    /// Says why `scenario` is skipped for the simulator.
    pub fn skip(scenario: &str, reason: &str) {
        println!("skipped for the simulator: {scenario}: {reason}");
    }
}

impl Launcher for Simulator {
    fn name(&self) -> &str {
        "qmp-sim"
    }

    fn launch<'a>(
        &'a self,
        machine: Machine,
        config: ClientConfig,
    ) -> Pin<Box<dyn Future<Output = Option<Client>> + Send + 'a>> {
        Box::pin(async move {
            let (ours, theirs) = tokio::net::UnixStream::pair().expect("socketpair");
            Simulator::serve(machine, theirs)?;
            Some(
                Client::builder()
                    .config(config)
                    .from_unix_stream(ours)
                    .await
                    .expect("connect to the simulator"),
            )
        })
    }
}
