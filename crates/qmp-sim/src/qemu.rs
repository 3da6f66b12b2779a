//! The one assembly of a simulated QEMU: every command of an API with
//! QEMU's argument validation, answered by a script where a rule matches,
//! by the machine profile where it describes the binary, simulated where
//! the machine models it, and with the smallest valid reply elsewhere.
//! `qmp serve`, `qmp fake-qemu` ([`crate::standin`]), the library's
//! [`Simulator`](crate::Simulator) and replays all build their server here.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use qapi_schema::introspect::{EntryKind, SchemaInfo};
use qmp_server::{CommandEntry, Reply, Server, ServerConfig};
use qmp_wire::{Map, QemuVersion, QmpError, VersionInfo};

use crate::api::SimApi;
use crate::machine::{Machine, MachineOptions};
use crate::minimal::minimal_value;
use crate::script::{Script, ScriptError, ScriptedReply};

/// The version the stand-in reports: the QEMU its default API describes.
pub fn default_version() -> VersionInfo {
    VersionInfo {
        qemu: QemuVersion {
            major: 7,
            minor: 2,
            micro: 22,
        },
        package: "qmp-rs simulator".into(),
    }
}

/// Builds the server for `api` around a machine built already: every
/// command of the API, validated as QEMU validates it, answered from the
/// machine's profile where it describes the binary, simulated where the
/// machine knows it, else with the smallest valid value. [`Assembly`]
/// builds the machine too, and adds a script.
pub fn build_server(api: &SimApi, machine: &Machine, config: ServerConfig) -> Server {
    build_wrapped_server(api, machine, config, None, |entry| entry, Vec::new())
}

/// What a simulated QEMU is made of: an API, a machine, a script, the
/// server's settings and an observer of every request. `qmp serve`, `qmp
/// fake-qemu`, the library's [`Simulator`](crate::Simulator) and replays
/// all put theirs together here.
pub struct Assembly {
    api: SimApi,
    machine: MachineOptions,
    config: ServerConfig,
    script: Arc<Script>,
    observer: Option<qmp_server::RequestObserver>,
}

/// A simulated QEMU, put together: its server (not yet listening), its
/// machine and its script.
pub struct Assembled {
    /// The server, to serve on any transport.
    pub server: Server,
    /// The machine behind it.
    pub machine: Machine,
    /// The scripted replies (more can be added while it runs).
    pub script: Arc<Script>,
}

impl Assembly {
    /// `api` on a running machine of type `none`, QEMU's server settings,
    /// no script.
    pub fn new(api: SimApi) -> Assembly {
        Assembly {
            api,
            machine: MachineOptions::default(),
            config: ServerConfig::qmp(default_version()),
            script: Arc::new(Script::default()),
            observer: None,
        }
    }

    /// The machine to build. With a profile, the server greets with the
    /// profile's version and capabilities.
    pub fn machine(mut self, options: MachineOptions) -> Assembly {
        self.machine = options;
        self
    }

    /// The server's settings (the schema is always the API's).
    pub fn config(mut self, config: ServerConfig) -> Assembly {
        self.config = config;
        self
    }

    /// Scripted replies, shared with the caller (who may add more).
    pub fn script(mut self, script: Arc<Script>) -> Assembly {
        self.script = script;
        self
    }

    /// Adds the rules of a script file.
    pub fn script_file(self, path: &std::path::Path) -> Result<Assembly, ScriptError> {
        for rule in Script::read_file(path)? {
            self.script.add(rule);
        }
        Ok(self)
    }

    /// Something that sees every well-framed request.
    pub fn observer(mut self, observer: qmp_server::RequestObserver) -> Assembly {
        self.observer = Some(observer);
        self
    }

    /// Builds the machine and its server; the error is QEMU's text for
    /// hardware the profile cannot build.
    pub fn build(self) -> Result<Assembled, String> {
        let script = Arc::clone(&self.script);
        self.build_wrapped(move |entry| scripted(entry, &script), Vec::new())
    }

    /// [`Assembly::build`] with each command's entry passed through `wrap`
    /// instead of the script (as a replay does), and `extra` entries in
    /// place of the server's own.
    pub fn build_wrapped(
        self,
        wrap: impl Fn(CommandEntry) -> CommandEntry,
        extra: Vec<CommandEntry>,
    ) -> Result<Assembled, String> {
        let machine = Machine::build(&self.machine)?;
        let mut config = self.config;
        if let Some(profile) = &self.machine.profile {
            config.version = profile.version().clone();
            config.offer_oob = profile.greeting().offers_oob();
        }
        let server = build_wrapped_server(&self.api, &machine, config, self.observer, wrap, extra);
        Ok(Assembled {
            server,
            machine,
            script: self.script,
        })
    }
}

/// [`build_server`] with each command's entry passed through `wrap` (which
/// may answer before the simulated handler, as a script or a replay does),
/// `extra` entries in place of the server's own (`query-version`,
/// `query-commands`, `query-qmp-schema`), and an observer that sees every
/// request.
pub fn build_wrapped_server(
    api: &SimApi,
    machine: &Machine,
    config: ServerConfig,
    observer: Option<qmp_server::RequestObserver>,
    wrap: impl Fn(CommandEntry) -> CommandEntry,
    extra: Vec<CommandEntry>,
) -> Server {
    let validation = Arc::new(api.validation.clone());
    let config = ServerConfig {
        schema: Some(api.wire.clone()),
        ..config
    };
    let mut simulated: HashMap<String, CommandEntry> = machine
        .commands()
        .into_iter()
        .chain(qmp_server::fd_commands())
        .map(|e| (e.name.clone(), e))
        .collect();
    let simulated_names: HashSet<String> = simulated.keys().cloned().collect();
    let mut builder = Server::builder(config);
    if let Some(observer) = observer {
        builder = builder.observe(move |request| observer(request));
    }
    for (name, allow_oob, ret_type) in api.commands() {
        if matches!(
            name,
            "qmp_capabilities" | "query-qmp-schema" | "query-version" | "query-commands"
        ) {
            continue;
        }
        let entry = match simulated.remove(name) {
            Some(entry) => entry,
            None => returning_minimal(name, &validation, ret_type),
        };
        let entry = machine.describe(entry, &simulated_names);
        let validator = validator_for(&validation, name, api.open_arguments.contains(name));
        builder = builder.command(
            wrap(entry)
                .allow_oob(allow_oob)
                .allow_preconfig(api.preconfig.contains(name))
                .validator(validator),
        );
    }
    let own_answers = machine.recorded_server_answers(&api.wire, &extra);
    for entry in extra.into_iter().chain(own_answers) {
        builder = builder.command(entry);
    }
    let server = builder.build();
    machine.attach(&server);
    server.set_preconfig(machine.in_preconfig());
    server
}

/// QEMU's argument check for `command`. With `open` (QAPI `gen: false`)
/// members beyond the declared ones are passed on instead of refused.
pub fn validator_for(
    info: &Arc<SchemaInfo>,
    command: &str,
    open: bool,
) -> impl Fn(&Map) -> Result<(), QmpError> + Send + Sync + 'static {
    let declared: Option<HashSet<String>> = open.then(|| declared_arguments(info, command));
    let info = Arc::clone(info);
    let command = command.to_owned();
    move |args: &Map| {
        let result = match &declared {
            Some(names) => {
                let known: Map = args
                    .iter()
                    .filter(|(k, _)| names.contains(k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                info.validate_command_arguments(&command, &known)
            }
            None => info.validate_command_arguments(&command, args),
        };
        result.map_err(|e| QmpError::generic(e.to_string()))
    }
}

/// The member names of `command`'s argument type.
fn declared_arguments(info: &SchemaInfo, command: &str) -> HashSet<String> {
    match info
        .arg_type(command)
        .and_then(|t| info.get(t))
        .map(|e| &e.kind)
    {
        Some(EntryKind::Object { members, .. }) => members.iter().map(|m| m.name.clone()).collect(),
        _ => HashSet::new(),
    }
}

/// `entry` answering from `script` when one of its rules matches.
fn scripted(entry: CommandEntry, script: &Arc<Script>) -> CommandEntry {
    let original = Arc::clone(&entry.handler);
    let script = Arc::clone(script);
    let name = entry.name.clone();
    let handler: qmp_server::Handler = Arc::new(move |call: qmp_server::Call| {
        let Some(rule) = script.take(&name, &call.arguments) else {
            return original(call);
        };
        let original = Arc::clone(&original);
        Box::pin(async move {
            for event in &rule.events {
                call.events.emit(&event.name, event.data.clone());
            }
            if !rule.delay.is_zero() {
                tokio::time::sleep(rule.delay).await;
            }
            match rule.reply {
                ScriptedReply::Return(value) => Ok(Reply::Value(value)),
                ScriptedReply::Error(error) => Err(error),
                ScriptedReply::Simulated => original(call).await,
            }
        })
    });
    CommandEntry { handler, ..entry }
}

/// A command the machine does not simulate: it answers with the smallest
/// value of its return type.
fn returning_minimal(name: &str, info: &Arc<SchemaInfo>, ret_type: &str) -> CommandEntry {
    let value = minimal_value(info, ret_type);
    CommandEntry::new(name, move |_| {
        let value = value.clone();
        async move { Ok(Reply::Value(value)) }
    })
}
