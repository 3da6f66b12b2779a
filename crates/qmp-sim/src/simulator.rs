//! The simulator as a library, for the tests of management software: start
//! it on a temporary socket, script its replies, emit events, and check
//! which commands it received.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use qmp_sim::{Rule, Simulator};
//! let sim = Simulator::start().await?;
//! sim.script(Rule::returning("query-name", qmp_wire::Map::new()));
//! // ... point the software under test at sim.socket() ...
//! assert!(sim.received_commands().contains(&"query-name".to_string()));
//! sim.stop().await;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex};

use qmp_server::{Emitter, Server};
use qmp_wire::Request;

use crate::api::{ApiError, SimApi};
use crate::machine::{Machine, MachineOptions};
use crate::qemu::Assembly;
use crate::script::{Rule, Script};
use crate::served::Served;

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Its API could not be loaded, or its socket made.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Its machine could not be built (QEMU's text: an unknown machine
    /// type, device or CPU model).
    #[error("{0}")]
    Machine(String),
}

/// A running simulator on a temporary unix socket.
pub struct Simulator {
    served: Served,
    machine: Machine,
    script: Arc<Script>,
    received: Arc<Mutex<Vec<Request>>>,
}

impl Simulator {
    /// The built-in API, a running machine, on a fresh socket.
    pub async fn start() -> Result<Simulator, SimError> {
        Simulator::start_with(SimApi::builtin()?, MachineOptions::default()).await
    }

    /// Any API and machine options, on a fresh socket.
    pub async fn start_with(api: SimApi, options: MachineOptions) -> Result<Simulator, SimError> {
        let received: Arc<Mutex<Vec<Request>>> = Arc::default();
        let log = Arc::clone(&received);
        let observer: qmp_server::RequestObserver = Arc::new(move |request: &Request| {
            if let Ok(mut log) = log.lock() {
                log.push(request.clone());
            }
        });
        let assembled = Assembly::new(api)
            .machine(options)
            .observer(observer)
            .build()
            .map_err(SimError::Machine)?;
        Ok(Simulator {
            served: Served::start(assembled.server, "qmp-sim-")?,
            machine: assembled.machine,
            script: assembled.script,
            received,
        })
    }

    /// The unix socket to connect to.
    pub fn socket(&self) -> &Path {
        self.served.socket()
    }

    /// The server (to shut it down, or to check its sessions).
    pub fn server(&self) -> &Server {
        self.served.server()
    }

    /// The simulated machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Emits events to the connected clients.
    pub fn emitter(&self) -> Emitter {
        self.served.server().emitter()
    }

    /// Adds a scripted reply (after those already there).
    pub fn script(&self, rule: Rule) {
        self.script.add(rule);
    }

    /// Adds the rules of a script file.
    pub fn load_script(&self, path: &Path) -> Result<(), crate::ScriptError> {
        for rule in Script::read_file(path)? {
            self.script.add(rule);
        }
        Ok(())
    }

    /// Every well-framed request received so far, in order.
    pub fn received(&self) -> Vec<Request> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The names of the commands received so far, in order.
    pub fn received_commands(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.command).collect()
    }

    /// Forgets what was received.
    pub fn clear_received(&self) {
        if let Ok(mut log) = self.received.lock() {
            log.clear();
        }
    }

    /// Shuts the simulator down (clients are disconnected after their
    /// running commands finish).
    pub async fn stop(self) {
        self.served.stop().await;
    }
}
