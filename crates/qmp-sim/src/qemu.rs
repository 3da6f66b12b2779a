//! The QEMU stand-in: every command of an API with QEMU's argument
//! validation, simulated behaviour where the machine has it and the
//! smallest valid reply elsewhere; and `qmp fake-qemu`, which accepts the
//! QEMU command-line options the conformance transcripts use.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

pub use qapi_schema::introspect::ApiSource;
use qapi_schema::introspect::{EntryKind, SchemaInfo};
use qmp_server::{CommandEntry, Reply, Server, ServerConfig};
use qmp_wire::{Map, QemuVersion, QmpError, VersionInfo};

use crate::api::SimApi;
use crate::machine::{Machine, MachineOptions};
use crate::minimal::minimal_value;
use crate::script::{Script, ScriptedReply};

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
        let validator = validator_for(&validation, name, api.open_arguments.contains(name));
        builder = builder.command(
            wrap(entry)
                .allow_oob(allow_oob)
                .allow_preconfig(api.preconfig.contains(name))
                .validator(validator),
        );
    }
    for entry in extra {
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

/// One monitor: a socket path and its layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    /// The unix socket to listen on.
    pub path: PathBuf,
    /// `pretty=on`.
    pub pretty: bool,
}

/// What `qmp fake-qemu` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeQemuOptions {
    /// The API.
    pub api: ApiSource,
    /// Machine start options.
    pub machine: MachineOptionsSpec,
    /// The QMP monitors.
    pub monitors: Vec<Monitor>,
    /// `--script FILE`: scripted replies.
    pub script: Option<PathBuf>,
}

/// [`MachineOptions`] as parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineOptionsSpec {
    /// `-S`
    pub start_stopped: bool,
    /// `--preconfig`
    pub preconfig: bool,
    /// `-name`
    pub name: Option<String>,
}

impl MachineOptionsSpec {
    /// The machine options.
    pub fn to_options(&self) -> MachineOptions {
        MachineOptions {
            start_stopped: self.start_stopped,
            preconfig: self.preconfig,
            name: self.name.clone(),
        }
    }
}

/// A command line `qmp fake-qemu` cannot serve.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(pub String);

/// `key=value` pairs of a QEMU option argument (`socket,id=m0,path=...`):
/// the first bare word is returned under the key `""`.
fn option_pairs(text: &str) -> HashMap<String, String> {
    text.split(',')
        .enumerate()
        .map(|(i, part)| match part.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None if i == 0 => (String::new(), part.to_owned()),
            None => (part.to_owned(), "on".to_owned()),
        })
        .collect()
}

fn is_on(value: Option<&String>) -> bool {
    matches!(value.map(String::as_str), Some("on" | "yes" | "true"))
}

impl FakeQemuOptions {
    /// Parses `[--introspection FILE | --schema FILE [--conditions FILE]]
    /// [--script FILE] QEMU-OPTIONS...` (`--relaxed-docs` is accepted and
    /// changes nothing: [`ApiSource`] reads QEMU 7.2's doc syntax too). Of
    /// QEMU's options it accepts
    /// `-machine`/`-M none`, `-S`, `-nodefaults`, `-display none`,
    /// `--preconfig`, `-name`, `-qmp unix:PATH,server=on,wait=off`,
    /// `-chardev socket,id=ID,path=PATH,server=on,wait=off[,mux=on]` with
    /// `-mon chardev=ID,mode=control[,pretty=on]`, and `-accel`.
    pub fn parse(args: &[String]) -> Result<FakeQemuOptions, OptionError> {
        let mut api = None;
        let mut conditions = None;
        let mut machine = MachineOptionsSpec::default();
        let mut monitors = Vec::new();
        let mut chardevs: HashMap<String, PathBuf> = HashMap::new();
        let mut script = None;
        let mut args = args.iter();
        let value = |args: &mut std::slice::Iter<String>, option: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| OptionError(format!("option {option} needs an argument")))
        };
        while let Some(arg) = args.next() {
            let option = arg.trim_start_matches('-');
            match option {
                "introspection" => {
                    api = Some(ApiSource::Introspection(value(&mut args, arg)?.into()))
                }
                "schema" => {
                    api = Some(ApiSource::Schema {
                        path: value(&mut args, arg)?.into(),
                        conditions: None,
                    })
                }
                "conditions" => conditions = Some(PathBuf::from(value(&mut args, arg)?)),
                "script" => script = Some(PathBuf::from(value(&mut args, arg)?)),
                "relaxed-docs" => {}
                "S" => machine.start_stopped = true,
                "preconfig" => machine.preconfig = true,
                "nodefaults" | "no-user-config" | "no-shutdown" => {}
                "name" => machine.name = Some(value(&mut args, arg)?),
                "machine" | "M" => {
                    let spec = value(&mut args, arg)?;
                    let pairs = option_pairs(&spec);
                    let kind = pairs
                        .get("")
                        .or_else(|| pairs.get("type"))
                        .cloned()
                        .unwrap_or_default();
                    if kind != "none" {
                        return Err(OptionError(format!(
                            "machine '{kind}' is not simulated (only -machine none)"
                        )));
                    }
                }
                "display" | "accel" => {
                    value(&mut args, arg)?;
                }
                "qmp" | "qmp-pretty" => {
                    let spec = value(&mut args, arg)?;
                    let pairs = option_pairs(&spec);
                    let target = pairs.get("").cloned().unwrap_or_default();
                    let Some(path) = target.strip_prefix("unix:") else {
                        return Err(OptionError(format!("unsupported -qmp target '{target}'")));
                    };
                    monitors.push(Monitor {
                        path: path.into(),
                        pretty: option == "qmp-pretty",
                    });
                }
                "chardev" => {
                    let spec = value(&mut args, arg)?;
                    let pairs = option_pairs(&spec);
                    if pairs.get("").map(String::as_str) != Some("socket") {
                        return Err(OptionError(format!("unsupported -chardev '{spec}'")));
                    }
                    match (pairs.get("id"), pairs.get("path")) {
                        (Some(id), Some(path)) => {
                            chardevs.insert(id.clone(), path.into());
                        }
                        _ => {
                            return Err(OptionError(format!("-chardev '{spec}' needs id and path")))
                        }
                    }
                }
                "mon" => {
                    let spec = value(&mut args, arg)?;
                    let pairs = option_pairs(&spec);
                    if pairs.get("mode").map(String::as_str) != Some("control") {
                        return Err(OptionError(format!(
                            "only -mon mode=control is simulated: '{spec}'"
                        )));
                    }
                    let id = pairs.get("chardev").cloned().unwrap_or_default();
                    let Some(path) = chardevs.get(&id) else {
                        return Err(OptionError(format!("-mon: chardev '{id}' not found")));
                    };
                    monitors.push(Monitor {
                        path: path.clone(),
                        pretty: is_on(pairs.get("pretty")),
                    });
                }
                _ => return Err(OptionError(format!("unsupported option '{arg}'"))),
            }
        }
        let api = match api {
            Some(ApiSource::Schema { path, .. }) => ApiSource::Schema { path, conditions },
            Some(other) => other,
            None => {
                return Err(OptionError(
                    "give --introspection FILE or --schema FILE".into(),
                ))
            }
        };
        Ok(FakeQemuOptions {
            api,
            machine,
            monitors,
            script,
        })
    }
}

/// Runs `qmp fake-qemu` until `quit` or a host signal (see
/// [`crate::ending`]); removes its socket files either way.
pub async fn run_fake_qemu(
    options: FakeQemuOptions,
) -> Result<crate::ending::Ending, Box<dyn std::error::Error>> {
    let mut signals = crate::ending::HostSignals::catch()?;
    let api = SimApi::load(&options.api)?;
    let machine = Machine::new(&options.machine.to_options());
    let config = ServerConfig {
        one_client_at_a_time: true,
        ..ServerConfig::qmp(default_version())
    };
    let script = Arc::new(Script::default());
    if let Some(path) = &options.script {
        for rule in Script::read_file(path)? {
            script.add(rule);
        }
    }
    let server = build_scripted_server(&api, &machine, config, &script, None);
    let mut listeners = Vec::new();
    for monitor in &options.monitors {
        let listener = Server::bind_unix(&monitor.path)?;
        let handle = server.with_pretty(monitor.pretty);
        listeners.push(tokio::spawn(async move {
            handle.serve_unix_listener(listener).await
        }));
    }
    let ending = signals.until_quit(&machine).await;
    server.shutdown().await;
    for monitor in &options.monitors {
        let _ = std::fs::remove_file(&monitor.path);
    }
    Ok(ending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_the_transcripts_options() {
        let o = FakeQemuOptions::parse(&args(
            "--introspection r.json -machine none -S -nodefaults -display none -qmp unix:/t/a,server=on,wait=off -qmp unix:/t/b,server=on,wait=off",
        ))
        .unwrap();
        assert!(o.machine.start_stopped);
        assert_eq!(o.monitors.len(), 2);
        let o = FakeQemuOptions::parse(&args(
            "--schema s.json --relaxed-docs -machine none --preconfig -chardev socket,id=m0,path=/t/s,server=on,wait=off,mux=on -mon chardev=m0,mode=control,pretty=on",
        ))
        .unwrap();
        assert!(o.machine.preconfig);
        assert_eq!(
            o.monitors,
            [Monitor {
                path: "/t/s".into(),
                pretty: true
            }]
        );
        assert_eq!(
            o.api,
            ApiSource::Schema {
                path: "s.json".into(),
                conditions: None
            }
        );
        assert!(FakeQemuOptions::parse(&args("--introspection r -M pc")).is_err());
        assert!(FakeQemuOptions::parse(&args("--introspection r -device foo")).is_err());
    }
}
