//! The simulated machine: run state and its events, a small QOM tree, block
//! nodes, fd sets, HMP, and the migration commands' state errors, with QEMU's texts
//! and QEMU's event order (an event a command causes precedes its reply).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use qmp_server::{Call, CommandEntry, CommandResult, Reply};
use qmp_wire::{ErrorClass, Map, QmpError, Value};
use tokio::sync::watch;

use crate::fdsets::FdSets;

/// QEMU's run states the simulator can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Before the first `cont` (`-S`, `--preconfig`).
    Prelaunch,
    /// Running.
    Running,
    /// Stopped by `stop`.
    Paused,
}

impl RunState {
    fn name(self) -> &'static str {
        match self {
            RunState::Prelaunch => "prelaunch",
            RunState::Running => "running",
            RunState::Paused => "paused",
        }
    }
}

/// How the machine starts.
#[derive(Clone, Debug, Default)]
pub struct MachineOptions {
    /// `-S`: do not start the CPUs.
    pub start_stopped: bool,
    /// `--preconfig`: wait for `x-exit-preconfig` before initialising.
    pub preconfig: bool,
    /// `-name`.
    pub name: Option<String>,
}

struct State {
    run: RunState,
    preconfig: bool,
    /// `-S`: leaving preconfig does not start the CPUs.
    start_stopped: bool,
    block_nodes: BTreeSet<String>,
}

/// The machine state shared by the simulated commands.
#[derive(Clone)]
pub struct Machine {
    state: Arc<Mutex<State>>,
    name: Option<String>,
    quit: Arc<watch::Sender<bool>>,
    /// The server serving this machine (for leaving the preconfig phase).
    server: Arc<OnceLock<qmp_server::Server>>,
    /// `add-fd`'s descriptor sets.
    fdsets: FdSets,
}

/// The QOM type of `/machine` with `-machine none`.
const MACHINE_TYPE: &str = "none-machine";

fn ok_empty() -> CommandResult {
    Ok(Reply::Value(Value::Object(Map::new())))
}

fn device_not_found(id: &str) -> QmpError {
    QmpError::new(
        ErrorClass::DeviceNotFound,
        format!("Device '{id}' not found"),
    )
}

fn string_arg<'a>(call: &'a Call, name: &str) -> &'a str {
    call.arguments
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Machine {
    /// A machine in its initial state.
    pub fn new(options: &MachineOptions) -> Machine {
        let run = if options.start_stopped || options.preconfig {
            RunState::Prelaunch
        } else {
            RunState::Running
        };
        let (quit, _) = watch::channel(false);
        Machine {
            state: Arc::new(Mutex::new(State {
                run,
                preconfig: options.preconfig,
                start_stopped: options.start_stopped,
                block_nodes: BTreeSet::new(),
            })),
            name: options.name.clone(),
            quit: Arc::new(quit),
            server: Arc::new(OnceLock::new()),
            fdsets: FdSets::default(),
        }
    }

    /// True while waiting for `x-exit-preconfig`.
    pub fn in_preconfig(&self) -> bool {
        self.with(|s| s.preconfig)
    }

    /// The current run state.
    pub fn run_state(&self) -> RunState {
        self.with(|s| s.run)
    }

    /// Resolves when `quit` was executed.
    pub fn quit_requested(&self) -> watch::Receiver<bool> {
        self.quit.subscribe()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Ties the machine to the server that serves it.
    pub fn attach(&self, server: &qmp_server::Server) {
        let _ = self.server.set(server.clone());
    }

    /// The simulated commands (each still needs its argument validator).
    pub fn commands(&self) -> Vec<CommandEntry> {
        let m = self.clone();
        let mut list = vec![
            self.entry("query-status", |m, _| {
                let run = m.run_state();
                let mut status = Map::new();
                status.insert("running", run == RunState::Running);
                status.insert("singlestep", false);
                status.insert("status", run.name());
                Ok(Reply::Value(Value::Object(status)))
            }),
            self.entry("stop", |m, call| {
                // Only a running machine stops (and says so); prelaunch stays.
                let was_running = m.with(|s| {
                    let running = s.run == RunState::Running;
                    if running {
                        s.run = RunState::Paused;
                    }
                    running
                });
                if was_running {
                    call.events.emit("STOP", None);
                }
                ok_empty()
            }),
            self.entry("cont", |m, call| {
                let resumed = m.with(|s| {
                    std::mem::replace(&mut s.run, RunState::Running) != RunState::Running
                });
                if resumed {
                    call.events.emit("RESUME", None);
                }
                ok_empty()
            }),
            self.entry("system_reset", |_, call| {
                let mut data = Map::new();
                data.insert("guest", false);
                data.insert("reason", "host-qmp-system-reset");
                call.events.emit("RESET", Some(data));
                ok_empty()
            }),
            self.entry("system_powerdown", |_, call| {
                call.events.emit("POWERDOWN", None);
                ok_empty()
            }),
            self.entry("quit", |m, call| {
                let mut data = Map::new();
                data.insert("guest", false);
                data.insert("reason", "host-qmp-quit");
                call.events.emit("SHUTDOWN", Some(data));
                call.session.close_after_reply();
                let _ = m.quit.send(true);
                ok_empty()
            }),
            self.entry("query-name", |m, _| {
                let mut info = Map::new();
                if let Some(name) = &m.name {
                    info.insert("name", name.as_str());
                }
                Ok(Reply::Value(Value::Object(info)))
            }),
            self.entry("qom-list", |_, call| {
                let path = string_arg(&call, "path");
                let properties: &[(&str, &str)] = match path {
                    "/" => &[
                        ("type", "string"),
                        ("objects", "child<container>"),
                        ("machine", "child<none-machine>"),
                    ],
                    "/machine" => &[
                        ("type", "string"),
                        ("peripheral", "child<container>"),
                        ("unattached", "child<container>"),
                    ],
                    _ => return Err(device_not_found(path)),
                };
                let list = properties
                    .iter()
                    .map(|(name, ty)| {
                        let mut p = Map::new();
                        p.insert("name", *name);
                        p.insert("type", *ty);
                        Value::Object(p)
                    })
                    .collect();
                Ok(Reply::Value(Value::Array(list)))
            }),
            self.entry("qom-get", |_, call| {
                let path = string_arg(&call, "path");
                let property = string_arg(&call, "property");
                let type_name = match path {
                    "/machine" => MACHINE_TYPE,
                    "/" => "container",
                    _ => return Err(device_not_found(path)),
                };
                match property {
                    "type" => Ok(Reply::Value(Value::from(type_name))),
                    _ => Err(QmpError::generic(format!(
                        "Property '{type_name}.{property}' not found"
                    ))),
                }
            }),
            self.entry("device_del", |_, call| {
                Err(device_not_found(string_arg(&call, "id")))
            }),
            self.entry("eject", |_, call| {
                let device = call
                    .arguments
                    .get("device")
                    .or_else(|| call.arguments.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Err(device_not_found(device))
            }),
            self.entry("set_link", |_, call| {
                Err(device_not_found(string_arg(&call, "name")))
            }),
            self.entry("human-monitor-command", |m, call| {
                Ok(Reply::Value(Value::String(
                    m.hmp(string_arg(&call, "command-line")),
                )))
            }),
            self.entry("migrate-pause", |_, _| {
                Err(QmpError::generic(
                    "migrate-pause is currently only supported during postcopy-active state",
                ))
            })
            .allow_oob(true),
            self.entry("migrate-recover", |_, _| {
                Err(QmpError::generic(
                    "Migrate recover can only be run when postcopy is paused.",
                ))
            })
            .allow_oob(true),
        ];
        list.push(CommandEntry::new("x-exit-preconfig", move |call| {
            let m = m.clone();
            async move {
                if !m.in_preconfig() {
                    return Err(QmpError::generic(
                        "The command is permitted only before machine initialization",
                    ));
                }
                if let Some(server) = m.server.get() {
                    server.set_preconfig(false);
                }
                let started = m.with(|s| {
                    s.preconfig = false;
                    if !s.start_stopped {
                        s.run = RunState::Running;
                    }
                    !s.start_stopped
                });
                if started {
                    call.events.emit("RESUME", None);
                }
                ok_empty()
            }
        }));
        list.push(self.blockdev_add());
        list.extend(self.fdsets.commands());
        list
    }

    fn entry(
        &self,
        name: &str,
        handler: impl Fn(&Machine, Call) -> CommandResult + Send + Sync + 'static,
    ) -> CommandEntry {
        let machine = self.clone();
        let handler = Arc::new(handler);
        CommandEntry::new(name, move |call| {
            let result = handler(&machine, call);
            async move { result }
        })
    }

    /// `blockdev-add`: remembers the node; a `blkdebug` node reads its
    /// `config` file in full first, as QEMU does (a FIFO blocks the main
    /// loop until its writer closes it, while out-of-band commands go on).
    fn blockdev_add(&self) -> CommandEntry {
        let machine = self.clone();
        CommandEntry::new("blockdev-add", move |call| {
            let machine = machine.clone();
            async move {
                let node = string_arg(&call, "node-name").to_owned();
                if string_arg(&call, "driver") == "blkdebug" {
                    if let Some(config) = call.arguments.get("config").and_then(Value::as_str) {
                        if let Err(e) = tokio::fs::read(config).await {
                            return Err(QmpError::generic(format!(
                                "Could not read blkdebug config file: {e}"
                            )));
                        }
                    }
                }
                let duplicate =
                    machine.with(|s| !node.is_empty() && !s.block_nodes.insert(node.clone()));
                if duplicate {
                    return Err(QmpError::generic(format!(
                        "Duplicate nodes with node-name='{node}'"
                    )));
                }
                ok_empty()
            }
        })
    }

    /// A few HMP commands, enough for scripts that probe the monitor.
    fn hmp(&self, line: &str) -> String {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (None, _) => String::new(),
            (Some("info"), Some("name")) => match &self.name {
                Some(name) => format!("{name}\r\n"),
                None => String::new(),
            },
            (Some("info"), Some("status")) => {
                format!("VM status: {}\r\n", self.run_state().name())
            }
            (Some("info"), Some("version")) => "7.2.22\r\n".to_string(),
            (Some(command), _) => format!("unknown command: '{command}'\r\n"),
        }
    }
}
