//! One request from decoded input to reply, with QEMU's checks in QEMU's
//! order: JSON errors, framing, command lookup (negotiation mode knows only
//! `qmp_capabilities`), disabled, out-of-band, preconfig, arguments, then
//! the handler.

use qmp_wire::{Decoded, ErrorClass, Map, QmpError, Request, Value};

use crate::commands::{Call, CommandResult, Reply};
use crate::server::ServerShared;
use crate::session::SessionHandle;
use crate::Mode;

/// The reply to send for one request.
pub(crate) struct Outgoing {
    /// The result, or the error.
    pub(crate) result: CommandResult,
    /// The request's id, echoed.
    pub(crate) id: Option<Value>,
}

/// True for input QEMU dispatches at once, out of band: an object with
/// `exec-oob` and without `execute` (whether or not oob was negotiated).
pub(crate) fn is_out_of_band(item: &Decoded) -> bool {
    match item {
        Ok(Value::Object(map)) => map.contains_key("exec-oob") && !map.contains_key("execute"),
        _ => false,
    }
}

const NEGOTIATION_TEXT: &str = "Expecting capabilities negotiation with 'qmp_capabilities'";

/// Handles one decoded message; `None` when no reply is due.
pub(crate) async fn dispatch(
    server: &ServerShared,
    session: &SessionHandle,
    item: Decoded,
) -> Option<Outgoing> {
    let value = match item {
        Ok(value) => value,
        Err(json) => {
            return Some(Outgoing {
                result: Err(QmpError::generic(json.to_string())),
                id: None,
            })
        }
    };
    let request = match Request::from_value(value, session.oob_enabled()) {
        Ok(request) => request,
        Err(framing) => {
            return Some(Outgoing {
                result: Err(QmpError::generic(framing.desc)),
                id: framing.id,
            })
        }
    };
    server.observe(&request);
    let negotiating = server.config.mode == Mode::Qmp && !session.negotiated();
    let id = request.id.clone();
    let result = run(server, session, request, negotiating).await?;
    let result = match result {
        // In negotiation mode QEMU rewrites every CommandNotFound text.
        Err(e) if negotiating && e.class == ErrorClass::CommandNotFound => {
            Err(QmpError::new(ErrorClass::CommandNotFound, NEGOTIATION_TEXT))
        }
        other => other,
    };
    Some(Outgoing { result, id })
}

/// Lookup, checks and the handler. `None` for a successful command that
/// sends no reply, and for a handler that answers [`Reply::Nothing`].
async fn run(
    server: &ServerShared,
    session: &SessionHandle,
    request: Request,
    negotiating: bool,
) -> Option<CommandResult> {
    let name = request.command.as_str();
    let entry = if negotiating && name != "qmp_capabilities" {
        None
    } else {
        server.commands.get(name)
    };
    let Some(entry) = entry else {
        return match &server.forward {
            Some(forward) if !negotiating => {
                finish(forward(call(server, session, request)).await, true)
            }
            _ => Some(Err(QmpError::new(
                ErrorClass::CommandNotFound,
                format!("The command {name} has not been found"),
            ))),
        };
    };
    if let Some(reason) = &entry.disabled {
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        return Some(Err(QmpError::new(
            ErrorClass::CommandNotFound,
            format!("Command {name} has been disabled{reason}"),
        )));
    }
    if request.oob && !entry.allow_oob {
        return Some(Err(QmpError::generic(format!(
            "The command {name} does not support OOB"
        ))));
    }
    if server.in_preconfig() && !entry.allow_preconfig {
        return Some(Err(QmpError::generic(format!(
            "The command '{name}' is permitted only after machine initialization has completed"
        ))));
    }
    if let Some(validate) = &entry.validator {
        let none = Map::new();
        if let Err(e) = validate(request.arguments.as_ref().unwrap_or(&none)) {
            return Some(Err(e));
        }
    }
    let result = (entry.handler)(call(server, session, request)).await;
    finish(result, entry.success_response)
}

/// What a handler sees of `request`.
fn call(server: &ServerShared, session: &SessionHandle, request: Request) -> Call {
    Call {
        command: request.command,
        id: request.id,
        out_of_band: request.oob,
        arguments: request.arguments.unwrap_or_default(),
        session: session.clone(),
        events: server.emitter(),
    }
}

/// The reply due for a handler's `result`, if any.
fn finish(result: CommandResult, success_response: bool) -> Option<CommandResult> {
    match result {
        Ok(Reply::Nothing) => None,
        Ok(_) if !success_response => None,
        result => Some(result),
    }
}
