//! The simulated machine: run state and its events, the preconfig phase,
//! HMP, `quit`, and the pieces it is made of (devices and QOM in
//! [`crate::devices`], block nodes and jobs in [`crate::block`], migration
//! in [`crate::migration`], fd sets). QEMU's texts and QEMU's event order: an event a
//! command causes precedes its reply.

use std::sync::{Arc, OnceLock};

use crate::shared::Shared;
use qmp_server::{Call, CommandEntry, CommandResult, Emitter, Reply};
use qmp_wire::{Map, QmpError, Value};
use tokio::sync::watch;

use crate::block::Block;
use crate::fdsets::FdSets;
use crate::hardware::{Hardware, HardwareSpec};
use crate::migration::Migration;
use crate::profile::Profile;

/// QEMU's run states the simulator can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Before the first `cont` (`-S`, `--preconfig`).
    Prelaunch,
    /// Running.
    Running,
    /// Stopped by `stop`.
    Paused,
    /// Stopped after an outgoing migration completed.
    Postmigrate,
    /// The guest shut down and `-no-shutdown` kept the process.
    Shutdown,
}

impl RunState {
    /// QEMU's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Prelaunch => "prelaunch",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Postmigrate => "postmigrate",
            RunState::Shutdown => "shutdown",
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
    /// The machine profile describing the binary (none: the schema's
    /// smallest answers).
    pub profile: Option<Arc<Profile>>,
    /// What the machine is made of.
    pub hardware: HardwareSpec,
    /// `-no-shutdown`: a guest shutdown stops the guest instead of ending
    /// the process.
    pub no_shutdown: bool,
    /// `-no-acpi`: the guest does not see `system_powerdown`.
    pub no_acpi: bool,
}

/// How long the modelled guest takes to act on an ACPI power-down.
pub const GUEST_POWERDOWN_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

struct State {
    run: RunState,
    preconfig: bool,
    /// `-S`: leaving preconfig does not start the CPUs.
    start_stopped: bool,
}

/// The machine state shared by the simulated commands.
#[derive(Clone)]
pub struct Machine {
    state: Shared<State>,
    name: Option<String>,
    quit: Arc<watch::Sender<bool>>,
    /// The server serving this machine (for leaving the preconfig phase,
    /// and host signals); weak, since the server's handlers hold the
    /// machine.
    server: Arc<OnceLock<qmp_server::WeakServer>>,
    hardware: Hardware,
    profile: Option<Arc<Profile>>,
    accelerator: String,
    /// `-no-shutdown`.
    no_shutdown: bool,
    /// The modelled guest acts on `system_powerdown`.
    guest_acpi: bool,
    block: Block,
    migration: Migration,
    /// `add-fd`'s descriptor sets.
    fdsets: FdSets,
}

/// An empty `{}` return.
pub(crate) fn ok_empty() -> CommandResult {
    Ok(Reply::Value(Value::Object(Map::new())))
}

/// A string argument (validated already), or `""`.
pub(crate) fn string_arg<'a>(call: &'a Call, name: &str) -> &'a str {
    call.arguments
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A command whose handler needs only `state` and the call.
pub(crate) fn sync_entry<S: Clone + Send + Sync + 'static>(
    state: &S,
    name: &str,
    handler: impl Fn(&S, Call) -> CommandResult + Send + Sync + 'static,
) -> CommandEntry {
    let state = state.clone();
    let handler = Arc::new(handler);
    CommandEntry::new(name, move |call| {
        let result = handler(&state, call);
        async move { result }
    })
}

impl Machine {
    /// A machine in its initial state. Hardware its profile cannot build
    /// (see [`Machine::build`]) is left out, with a warning.
    pub fn new(options: &MachineOptions) -> Machine {
        Machine::build(options).unwrap_or_else(|error| {
            tracing::warn!("{error}; simulating a machine of type none");
            Machine::with_hardware(options, Hardware::none())
        })
    }

    /// A machine in its initial state, or QEMU's text for hardware that
    /// cannot be built (an unknown machine type, device or CPU model).
    pub fn build(options: &MachineOptions) -> Result<Machine, String> {
        let hardware = Hardware::build(&options.hardware, options.profile.clone())?;
        let machine = Machine::with_hardware(options, hardware);
        for node in &options.hardware.blockdevs {
            machine.block.add(node).map_err(|e| {
                let name = node
                    .get("node-name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("-blockdev node-name={name}: {}", e.desc)
            })?;
        }
        Ok(machine)
    }

    fn with_hardware(options: &MachineOptions, hardware: Hardware) -> Machine {
        let run = if options.start_stopped || options.preconfig {
            RunState::Prelaunch
        } else {
            RunState::Running
        };
        let (quit, _) = watch::channel(false);
        Machine {
            state: Shared::new(State {
                run,
                preconfig: options.preconfig,
                start_stopped: options.start_stopped,
            }),
            name: options.name.clone(),
            quit: Arc::new(quit),
            server: Arc::new(OnceLock::new()),
            guest_acpi: hardware.has_firmware() && !options.no_acpi,
            hardware,
            profile: options.profile.clone(),
            accelerator: options.hardware.accelerator().to_owned(),
            no_shutdown: options.no_shutdown,
            block: Block::default(),
            migration: Migration::default(),
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

    /// The host asked the machine to end (QEMU's answer to SIGTERM and
    /// friends): `SHUTDOWN` with reason `host-signal` to every client, and
    /// a quit request.
    pub fn host_signal(&self) {
        if let Some(server) = self.server.get().and_then(qmp_server::WeakServer::upgrade) {
            server
                .emitter()
                .emit("SHUTDOWN", Some(reason("host-signal")));
        }
        let _ = self.quit.send(true);
    }

    /// Resolves when `quit` was executed.
    pub fn quit_requested(&self) -> watch::Receiver<bool> {
        self.quit.subscribe()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.state.with(f)
    }

    /// Ties the machine to the server that serves it.
    pub fn attach(&self, server: &qmp_server::Server) {
        let _ = self.server.set(server.downgrade());
    }

    /// The simulated commands (each still needs its argument validator).
    pub fn commands(&self) -> Vec<CommandEntry> {
        let mut list = vec![
            sync_entry(self, "query-status", |m, _| {
                let run = m.run_state();
                let mut status = Map::new();
                status.insert("running", run == RunState::Running);
                status.insert("singlestep", false);
                status.insert("status", run.name());
                Ok(Reply::Value(Value::Object(status)))
            }),
            sync_entry(self, "stop", |m, call| {
                // Only a running machine stops (and says so); prelaunch stays.
                if m.leave_running(RunState::Paused) {
                    call.events.emit("STOP", None);
                }
                ok_empty()
            }),
            sync_entry(self, "cont", |m, call| {
                if m.run_state() == RunState::Shutdown {
                    return Err(QmpError::generic(
                        "Resetting the Virtual Machine is required",
                    ));
                }
                let resumed = m.with(|s| {
                    std::mem::replace(&mut s.run, RunState::Running) != RunState::Running
                });
                if resumed {
                    call.events.emit("RESUME", None);
                }
                ok_empty()
            }),
            sync_entry(self, "system_reset", |_, call| {
                call.events
                    .emit("RESET", Some(reason("host-qmp-system-reset")));
                ok_empty()
            }),
            sync_entry(self, "system_powerdown", |m, call| {
                call.events.emit("POWERDOWN", None);
                if m.guest_acpi {
                    m.guest_shuts_down(call.events.clone());
                }
                ok_empty()
            }),
            sync_entry(self, "quit", |m, call| {
                call.events.emit("SHUTDOWN", Some(reason("host-qmp-quit")));
                call.session.close_after_reply();
                let _ = m.quit.send(true);
                ok_empty()
            }),
            sync_entry(self, "query-name", |m, _| {
                let mut info = Map::new();
                if let Some(name) = &m.name {
                    info.insert("name", name.as_str());
                }
                Ok(Reply::Value(Value::Object(info)))
            }),
            sync_entry(self, "query-kvm", |_, _| {
                let mut info = Map::new();
                info.insert("enabled", false);
                info.insert("present", false);
                Ok(Reply::Value(Value::Object(info)))
            }),
            sync_entry(self, "human-monitor-command", |m, call| {
                let output = m.hmp(string_arg(&call, "command-line"));
                Ok(Reply::Value(Value::String(output)))
            }),
            self.exit_preconfig(),
        ];
        list.extend(self.hardware.commands());
        list.extend(self.block.commands());
        list.push(sync_entry(self, "query-block", |m, _| {
            Ok(Reply::Value(m.block.attached(&m.drives())))
        }));
        list.push(sync_entry(self, "query-blockstats", |m, _| {
            Ok(Reply::Value(crate::block::attached_stats(&m.drives())))
        }));
        list.extend(self.migration.commands(self));
        list.extend(self.fdsets.commands());
        list
    }

    /// The devices with a `drive` (a block node): the QOM path QEMU
    /// reports as their `qdev` (a virtio device's backend), and the node.
    fn drives(&self) -> Vec<(String, String)> {
        let qom = self.hardware.qom();
        self.hardware
            .devices()
            .with_driver("")
            .into_iter()
            .filter_map(|(path, driver)| {
                let node = qom.property(&path, "drive")?.as_str()?.to_owned();
                if node.is_empty() {
                    return None;
                }
                let qdev = if driver.starts_with("virtio-") {
                    format!("{path}/virtio-backend")
                } else {
                    path
                };
                Some((qdev, node))
            })
            .collect()
    }

    /// The modelled hardware.
    pub fn hardware(&self) -> &Hardware {
        &self.hardware
    }

    /// `entry` answered from the machine profile where the profile
    /// answers it (see [`crate::described`]); `simulated` are the
    /// commands the machine models.
    pub fn describe(
        &self,
        entry: CommandEntry,
        simulated: &std::collections::HashSet<String>,
    ) -> CommandEntry {
        match &self.profile {
            Some(profile) if crate::described::answers(profile, &entry.name, simulated) => {
                crate::described::described(entry, profile, &self.accelerator)
            }
            _ => entry,
        }
    }

    /// When the API served is the profile's own schema, the server's own
    /// commands the profile recorded (`query-commands`, in the binary's
    /// order) answered as recorded, unless `extra` has them already.
    pub fn recorded_server_answers(
        &self,
        api: &Value,
        extra: &[CommandEntry],
    ) -> Vec<CommandEntry> {
        let Some(profile) = &self.profile else {
            return Vec::new();
        };
        if profile.value(&self.accelerator, "query-qmp-schema") != Some(api) {
            return Vec::new();
        }
        ["query-commands"]
            .into_iter()
            .filter(|name| !extra.iter().any(|e| e.name == *name))
            .filter_map(|name| {
                let value = profile.value(&self.accelerator, name)?.clone();
                Some(CommandEntry::new(name, move |_| {
                    let value = value.clone();
                    async move { Ok(Reply::Value(value)) }
                }))
            })
            .collect()
    }

    /// The guest acts on an ACPI power-down a moment later: `SHUTDOWN`
    /// (`guest-shutdown`), then with `-no-shutdown` `STOP` and the
    /// `shutdown` state, else the end of the process (as after `quit`).
    fn guest_shuts_down(&self, events: Emitter) {
        let machine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(GUEST_POWERDOWN_DELAY).await;
            let mut data = Map::new();
            data.insert("guest", true);
            data.insert("reason", "guest-shutdown");
            events.emit("SHUTDOWN", Some(data));
            if machine.no_shutdown {
                if machine.leave_running(RunState::Shutdown) {
                    events.emit("STOP", None);
                }
            } else {
                let _ = machine.quit.send(true);
            }
        });
    }

    /// Leaves the running state for `to`; true when it was running.
    fn leave_running(&self, to: RunState) -> bool {
        self.with(|s| {
            let running = s.run == RunState::Running;
            if running {
                s.run = to;
            }
            running
        })
    }

    /// The guest stops at the end of an outgoing migration (QEMU: STOP,
    /// then the migration completes with the guest in `postmigrate`).
    pub(crate) fn stop_for_migration(&self, events: &Emitter) {
        if self.leave_running(RunState::Postmigrate) {
            events.emit("STOP", None);
        } else {
            self.with(|s| s.run = RunState::Postmigrate);
        }
    }

    fn exit_preconfig(&self) -> CommandEntry {
        let m = self.clone();
        CommandEntry::new("x-exit-preconfig", move |call| {
            let m = m.clone();
            async move {
                if !m.in_preconfig() {
                    return Err(QmpError::generic(
                        "The command is permitted only before machine initialization",
                    ));
                }
                if let Some(server) = m.server.get().and_then(qmp_server::WeakServer::upgrade) {
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
            (Some("info"), Some("version")) => {
                format!("{}\r\n", crate::qemu::default_version().qemu)
            }
            (Some(command), _) => format!("unknown command: '{command}'\r\n"),
        }
    }
}

/// `{"guest": false, "reason": REASON}` for RESET and SHUTDOWN.
fn reason(reason: &str) -> Map {
    let mut data = Map::new();
    data.insert("guest", false);
    data.insert("reason", reason);
    data
}
