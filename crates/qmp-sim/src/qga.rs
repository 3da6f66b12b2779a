//! The guest agent stand-in, `qmp fake-qga`: qemu-ga's protocol (no
//! greeting, LF line ends, `guest-sync`/`guest-sync-delimited` with the 0xFF
//! sentinel) with a few simulated commands, or every command of a QGA schema
//! with QEMU's argument validation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use qapi_schema::introspect::ApiSource;
use qmp_server::{CommandEntry, Reply, Server, ServerConfig};
use qmp_wire::{Map, QmpError, Value};

use crate::api::SimApi;
use crate::cmdline::OptionError;
use crate::minimal::minimal_value;
use crate::qemu::default_version;

/// What `qmp fake-qga` was asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeQgaOptions {
    /// `--schema FILE`: serve every command of this QGA schema.
    pub schema: Option<PathBuf>,
    /// `-p PATH`: the unix socket to listen on.
    pub path: PathBuf,
    /// `-f PIDFILE`
    pub pidfile: Option<PathBuf>,
}

impl FakeQgaOptions {
    /// Parses `[--schema FILE] -m unix-listen -p PATH [-t DIR] [-f PIDFILE]`.
    pub fn parse(args: &[String]) -> Result<FakeQgaOptions, OptionError> {
        let mut options = FakeQgaOptions::default();
        let mut path = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| OptionError(format!("option {arg} needs an argument")))
            };
            match arg.as_str() {
                "--schema" => options.schema = Some(value()?.into()),
                "-m" | "--method" => {
                    let method = value()?;
                    if method != "unix-listen" {
                        return Err(OptionError(format!(
                            "method '{method}' is not simulated (only unix-listen)"
                        )));
                    }
                }
                "-p" | "--path" => path = Some(PathBuf::from(value()?)),
                "-t" | "--statedir" => {
                    value()?;
                }
                "-f" | "--pidfile" => options.pidfile = Some(value()?.into()),
                _ => return Err(OptionError(format!("unsupported option '{arg}'"))),
            }
        }
        options.path = path.ok_or_else(|| OptionError("give -p PATH".into()))?;
        Ok(options)
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The simulated agent commands.
fn simulated(names: Vec<String>) -> Vec<CommandEntry> {
    let info = move || {
        let commands: Vec<Value> = names
            .iter()
            .map(|name| {
                let mut c = Map::new();
                c.insert("enabled", true);
                c.insert("name", name.as_str());
                let replies = !matches!(
                    name.as_str(),
                    "guest-shutdown"
                        | "guest-suspend-disk"
                        | "guest-suspend-ram"
                        | "guest-suspend-hybrid"
                );
                c.insert("success-response", replies);
                Value::Object(c)
            })
            .collect();
        let mut result = Map::new();
        result.insert(
            "version",
            crate::qemu::default_version().qemu.to_string().as_str(),
        );
        result.insert("supported_commands", Value::Array(commands));
        Value::Object(result)
    };
    let mut list = vec![
        CommandEntry::new("guest-ping", |_| async {
            Ok(Reply::Value(Value::Object(Map::new())))
        })
        .no_arguments(),
        CommandEntry::new("guest-info", move |_| {
            let value = info();
            async move { Ok(Reply::Value(value)) }
        })
        .no_arguments(),
        CommandEntry::new("guest-get-time", |_| async {
            Ok(Reply::Value(Value::Int(now_ns())))
        })
        .no_arguments(),
    ];
    for name in [
        "guest-shutdown",
        "guest-suspend-disk",
        "guest-suspend-ram",
        "guest-suspend-hybrid",
    ] {
        // The agent never replies to these on success; the simulated guest
        // does not actually go down.
        list.push(
            CommandEntry::new(name, |_| async {
                Ok(Reply::Value(Value::Object(Map::new())))
            })
            .success_response(false),
        );
    }
    list
}

/// The agent server: simulated commands, plus every other command of the
/// schema (when given) with validation and smallest replies.
pub fn build_agent(api: Option<&SimApi>) -> Server {
    let mut builder = Server::builder(ServerConfig {
        one_client_at_a_time: true,
        ..ServerConfig::guest_agent(default_version())
    });
    let names: Vec<String> = match api {
        Some(api) => api.commands().map(|(name, _, _)| name.to_owned()).collect(),
        None => [
            "guest-sync-delimited",
            "guest-sync",
            "guest-ping",
            "guest-info",
            "guest-get-time",
            "guest-shutdown",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    let mut simulated: std::collections::HashMap<String, CommandEntry> = simulated(names)
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    match api {
        Some(api) => {
            let validation = Arc::new(api.validation.clone());
            for (name, _, ret_type) in api.commands() {
                if matches!(name, "guest-sync" | "guest-sync-delimited") {
                    continue;
                }
                let entry = simulated.remove(name).unwrap_or_else(|| {
                    let value = minimal_value(&validation, ret_type);
                    CommandEntry::new(name, move |_| {
                        let value = value.clone();
                        async move { Ok(Reply::Value(value)) }
                    })
                });
                let validator = Arc::clone(&validation);
                let command = name.to_owned();
                builder = builder.command(entry.validator(move |args| {
                    validator
                        .validate_command_arguments(&command, args)
                        .map_err(|e| QmpError::generic(e.to_string()))
                }));
            }
        }
        None => {
            for (_, entry) in simulated {
                builder = builder.command(entry);
            }
        }
    }
    builder.build()
}

/// Runs `qmp fake-qga` until the process ends.
pub async fn run_fake_qga(options: FakeQgaOptions) -> Result<(), Box<dyn std::error::Error>> {
    let api = match &options.schema {
        Some(path) => Some(SimApi::load(&ApiSource::Schema {
            path: path.clone(),
            conditions: None,
        })?),
        None => None,
    };
    let server = build_agent(api.as_ref());
    if let Some(pidfile) = &options.pidfile {
        std::fs::write(pidfile, format!("{}\n", std::process::id()))?;
    }
    let listener = Server::bind_unix(&options.path)?;
    server.serve_unix_listener(listener).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qemu_ga_options() {
        let args: Vec<String> = "-m unix-listen -p /t/qga.sock -t /t -f /t/qga.pid"
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let o = FakeQgaOptions::parse(&args).unwrap();
        assert_eq!(o.path, PathBuf::from("/t/qga.sock"));
        assert_eq!(o.pidfile, Some(PathBuf::from("/t/qga.pid")));
        assert!(FakeQgaOptions::parse(&["-m".into(), "virtio-serial".into()]).is_err());
    }
}
