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
use crate::machine::Machine;
use crate::minimal::minimal_value;
use crate::script::{Script, ScriptedReply};

pub use crate::cmdline::OptionError;

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

/// Builds the server for `api` around `machine`: every command of the API,
/// validated as QEMU validates it, answered by `script` where a rule
/// matches, simulated where the machine knows it, else with the smallest
/// valid value.
pub fn build_server(api: &SimApi, machine: &Machine, config: ServerConfig) -> Server {
    build_scripted_server(api, machine, config, &Arc::new(Script::default()), None)
}

/// [`build_server`] with a script, and an observer that sees every request.
pub fn build_scripted_server(
    api: &SimApi,
    machine: &Machine,
    config: ServerConfig,
    script: &Arc<Script>,
    observer: Option<qmp_server::RequestObserver>,
) -> Server {
    let script = Arc::clone(script);
    build_wrapped_server(
        api,
        machine,
        config,
        observer,
        move |entry| scripted(entry, &script),
        Vec::new(),
    )
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
