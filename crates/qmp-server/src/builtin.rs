//! The commands every server has: `qmp_capabilities`, `query-version`,
//! `query-commands`, `query-qmp-schema` (when a schema is given), and for the
//! guest agent `guest-sync` and `guest-sync-delimited`.

use std::sync::Arc;

use qmp_wire::{ErrorClass, Map, QmpError, Value};

use crate::commands::{CommandEntry, CommandSet, Reply};
use crate::encoded::EncodedJson;
use crate::server::ServerConfig;
use crate::Mode;

/// The capabilities QEMU knows (`QMPCapability`).
const KNOWN_CAPABILITIES: &[&str] = &["oob"];

/// Adds the built-in commands to `commands` (without replacing any the
/// caller registered under the same names). A forwarding server keeps only
/// negotiation (and the guest agent's sync) for itself.
pub(crate) fn install(commands: &mut CommandSet, config: &ServerConfig, forwarding: bool) {
    let mut add = |entry: CommandEntry| {
        if commands.get(&entry.name).is_none() {
            commands.add(entry);
        }
    };
    match config.mode {
        Mode::Qmp if forwarding => add(qmp_capabilities(config.offer_oob)),
        Mode::Qmp => {
            add(qmp_capabilities(config.offer_oob));
            for entry in fd_commands() {
                add(entry);
            }
            let version = config.version.to_value();
            add(CommandEntry::new("query-version", move |_| {
                let version = version.clone();
                async move { Ok(Reply::Value(version)) }
            })
            .allow_preconfig(true)
            .no_arguments());
            if let Some(schema) = &config.schema {
                let encoded = Arc::new(EncodedJson::new(schema.clone(), config.member_order));
                add(CommandEntry::new("query-qmp-schema", move |_| {
                    let encoded = Arc::clone(&encoded);
                    async move { Ok(Reply::Encoded(encoded)) }
                })
                .allow_preconfig(true)
                .no_arguments());
            }
        }
        Mode::GuestAgent => {
            add(guest_sync("guest-sync", false));
            add(guest_sync("guest-sync-delimited", true));
        }
    }
    // query-commands lists the final table, so it is built last.
    let names: Vec<String> = commands
        .iter()
        .filter(|c| c.disabled.is_none())
        .map(|c| c.name.clone())
        .chain(std::iter::once("query-commands".to_string()))
        .collect();
    if config.mode == Mode::Qmp && !forwarding && commands.get("query-commands").is_none() {
        // QEMU lists commands newest first.
        let list: Vec<Value> = names
            .iter()
            .rev()
            .map(|name| {
                let mut info = Map::new();
                info.insert("name", name.as_str());
                Value::Object(info)
            })
            .collect();
        let list = Value::Array(list);
        commands.add(
            CommandEntry::new("query-commands", move |_| {
                let list = list.clone();
                async move { Ok(Reply::Value(list)) }
            })
            .allow_preconfig(true)
            .no_arguments(),
        );
    }
}

/// `qmp_capabilities {"enable": [...]}`: ends negotiation.
fn qmp_capabilities(offer_oob: bool) -> CommandEntry {
    CommandEntry::new("qmp_capabilities", move |call| async move {
        let session = call.session;
        if session.negotiated() {
            return Err(QmpError::new(
                ErrorClass::CommandNotFound,
                "Capabilities negotiation is already complete, command ignored",
            ));
        }
        let requested: Vec<&str> = call
            .arguments
            .get("enable")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let unavailable: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|cap| !(offer_oob && *cap == "oob"))
            .collect();
        if !unavailable.is_empty() {
            return Err(QmpError::generic(format!(
                "Capability {} not available",
                unavailable.join(", ")
            )));
        }
        session.complete_negotiation(requested.contains(&"oob"));
        call.events.bus().subscribe(session.shared());
        Ok(Reply::Value(Value::Object(Map::new())))
    })
    .allow_preconfig(true)
    .validator(validate_capabilities)
}

/// QEMU's visitor texts for `qmp_capabilities`' one optional member.
fn validate_capabilities(args: &Map) -> Result<(), QmpError> {
    if let Some(enable) = args.get("enable") {
        let Some(list) = enable.as_array() else {
            return Err(QmpError::generic(
                "Invalid parameter type for 'enable', expected: array",
            ));
        };
        for (i, item) in list.iter().enumerate() {
            let Some(name) = item.as_str() else {
                return Err(QmpError::generic(format!(
                    "Invalid parameter type for 'enable[{i}]', expected: string"
                )));
            };
            if !KNOWN_CAPABILITIES.contains(&name) {
                // List elements have no name; QEMU prints it as null.
                return Err(QmpError::generic(format!(
                    "Parameter 'null' does not accept value '{name}'"
                )));
            }
        }
    }
    unexpected_member(args, &["enable"])
}

/// `Parameter 'X' is unexpected` for the first member not in `known`.
pub(crate) fn unexpected_member(args: &Map, known: &[&str]) -> Result<(), QmpError> {
    match args.keys().find(|k| !known.contains(&k.as_str())) {
        Some(name) => Err(QmpError::generic(format!(
            "Parameter '{name}' is unexpected"
        ))),
        None => Ok(()),
    }
}

/// `getfd {"fdname": NAME}` and `closefd {"fdname": NAME}`: name a file
/// descriptor passed with SCM_RIGHTS, and close it. Named descriptors
/// belong to the monitor, as in QEMU: they outlive the session that named
/// them and are closed when the listener ends.
pub fn fd_commands() -> Vec<CommandEntry> {
    let fdname_only = |args: &Map| {
        match args.get("fdname") {
            None => return Err(QmpError::generic("Parameter 'fdname' is missing")),
            Some(Value::String(_)) => {}
            Some(_) => {
                return Err(QmpError::generic(
                    "Invalid parameter type for 'fdname', expected: string",
                ))
            }
        }
        unexpected_member(args, &["fdname"])
    };
    let getfd = CommandEntry::new("getfd", |call| async move {
        let name = call
            .arguments
            .get("fdname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(fd) = call.session.take_received_fd() else {
            return Err(QmpError::generic(
                "No file descriptor supplied via SCM_RIGHTS",
            ));
        };
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            drop(fd);
            return Err(QmpError::generic(
                "Parameter 'fdname' expects a name not starting with a digit",
            ));
        }
        // A descriptor already under this name is closed (dropped).
        call.session.set_named_fd(name, fd);
        Ok(Reply::Value(Value::Object(Map::new())))
    })
    .validator(fdname_only);
    let closefd = CommandEntry::new("closefd", |call| async move {
        let name = call
            .arguments
            .get("fdname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match call.session.take_named_fd(name) {
            Some(fd) => {
                drop(fd);
                Ok(Reply::Value(Value::Object(Map::new())))
            }
            None => Err(QmpError::generic(format!(
                "File descriptor named '{name}' not found"
            ))),
        }
    })
    .validator(fdname_only);
    vec![getfd, closefd]
}

/// The guest agent's `guest-sync` / `guest-sync-delimited {"id": INT}`.
fn guest_sync(name: &'static str, delimited: bool) -> CommandEntry {
    CommandEntry::new(name, move |call| async move {
        if delimited {
            call.session.delimit_next_reply();
        }
        Ok(Reply::Value(
            call.arguments.get("id").cloned().unwrap_or_default(),
        ))
    })
    .validator(|args| {
        match args.get("id") {
            None => return Err(QmpError::generic("Parameter 'id' is missing")),
            Some(id) if id.as_i64().is_none() => {
                return Err(QmpError::generic(
                    "Invalid parameter type for 'id', expected: integer",
                ))
            }
            Some(_) => {}
        }
        unexpected_member(args, &["id"])
    })
}
