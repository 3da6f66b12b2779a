//! The command table: names, QAPI options (out-of-band, preconfig,
//! success-response, enabled), argument validators and handlers, and what a
//! handler sees when it runs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use qmp_wire::{Map, QmpError, Value};

use crate::events::Emitter;
use crate::session::SessionHandle;

/// What a handler returns: a value, or JSON encoded once in advance (such as
/// the `query-qmp-schema` reply) that is sent without re-serialising.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A value, encoded when the reply is sent.
    Value(Value),
    /// Pre-encoded JSON, sent as it was encoded to sessions with the
    /// compact layout (a `pretty` session gets the value re-encoded).
    Encoded(Arc<crate::encoded::EncodedJson>),
    /// No reply at all: the request is dropped as a closing QEMU drops it
    /// (a forwarding handler whose upstream went away mid-call).
    Nothing,
}

impl From<Value> for Reply {
    fn from(value: Value) -> Reply {
        Reply::Value(value)
    }
}

impl From<Map> for Reply {
    fn from(map: Map) -> Reply {
        Reply::Value(Value::Object(map))
    }
}

/// The result of a command.
pub type CommandResult = Result<Reply, QmpError>;

/// A command handler: arguments in, result out.
pub type Handler = Arc<dyn Fn(Call) -> BoxFuture<'static, CommandResult> + Send + Sync>;

/// Checks a command's arguments before any side effect, with QEMU's texts
/// (`Parameter 'x' is missing`, `Invalid parameter type for ...`).
pub type Validator = Arc<dyn Fn(&Map) -> Result<(), QmpError> + Send + Sync>;

/// What a handler gets: its arguments and the context it runs in.
pub struct Call {
    /// The command name.
    pub command: String,
    /// The request's `id`, as the client sent it (the server echoes it in
    /// the reply; a handler may log it).
    pub id: Option<Value>,
    /// True for `exec-oob`. Only a forwarding handler (see
    /// [`ServerBuilder::forward_unknown`](crate::ServerBuilder::forward_unknown))
    /// sees `true` for a command without `allow_oob`: the server leaves the
    /// check to the peer it forwards to.
    pub out_of_band: bool,
    /// The arguments (`{}` when the request had none), already validated.
    pub arguments: Map,
    /// The session the request came from.
    pub session: SessionHandle,
    /// Emits events to every session.
    pub events: Emitter,
}

/// One command and its options.
#[derive(Clone)]
pub struct CommandEntry {
    /// The wire name.
    pub name: String,
    /// May run out of band (`exec-oob`).
    pub allow_oob: bool,
    /// May run before machine initialisation (`--preconfig`).
    pub allow_preconfig: bool,
    /// False for commands that send no reply on success.
    pub success_response: bool,
    /// `None` when enabled; the reason (possibly empty) when disabled.
    pub disabled: Option<String>,
    /// The argument check run before the handler.
    pub validator: Option<Validator>,
    /// The handler.
    pub handler: Handler,
}

impl CommandEntry {
    /// A command with default options (in band only, not in preconfig, replies).
    pub fn new<F, Fut>(name: impl Into<String>, handler: F) -> CommandEntry
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        CommandEntry {
            name: name.into(),
            allow_oob: false,
            allow_preconfig: false,
            success_response: true,
            disabled: None,
            validator: None,
            handler: Arc::new(move |call| Box::pin(handler(call))),
        }
    }

    /// Allows out-of-band execution.
    pub fn allow_oob(mut self, allow: bool) -> CommandEntry {
        self.allow_oob = allow;
        self
    }

    /// Allows the command in the preconfig phase.
    pub fn allow_preconfig(mut self, allow: bool) -> CommandEntry {
        self.allow_preconfig = allow;
        self
    }

    /// Sets whether a successful call sends a reply.
    pub fn success_response(mut self, reply: bool) -> CommandEntry {
        self.success_response = reply;
        self
    }

    /// Sets the argument validator.
    pub fn validator(
        mut self,
        check: impl Fn(&Map) -> Result<(), QmpError> + Send + Sync + 'static,
    ) -> CommandEntry {
        self.validator = Some(Arc::new(check));
        self
    }

    /// Accepts no arguments at all: any member is unexpected.
    pub fn no_arguments(self) -> CommandEntry {
        self.validator(|args| match args.keys().next() {
            Some(name) => Err(QmpError::generic(format!(
                "Parameter '{name}' is unexpected"
            ))),
            None => Ok(()),
        })
    }

    /// Disables the command (`Command NAME has been disabled[: REASON]`).
    pub fn disable(mut self, reason: impl Into<String>) -> CommandEntry {
        self.disabled = Some(reason.into());
        self
    }
}

/// The commands a server offers, in registration order.
#[derive(Clone, Default)]
pub struct CommandSet {
    entries: Vec<Arc<CommandEntry>>,
    by_name: HashMap<String, usize>,
}

impl CommandSet {
    /// An empty set.
    pub fn new() -> CommandSet {
        CommandSet::default()
    }

    /// Adds a command, replacing one of the same name.
    pub fn add(&mut self, entry: CommandEntry) -> &mut CommandSet {
        let entry = Arc::new(entry);
        match self.by_name.get(&entry.name) {
            Some(&i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    *slot = entry;
                }
            }
            None => {
                self.by_name.insert(entry.name.clone(), self.entries.len());
                self.entries.push(entry);
            }
        }
        self
    }

    /// The command named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<CommandEntry>> {
        self.by_name.get(name).and_then(|&i| self.entries.get(i))
    }

    /// All commands in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<CommandEntry>> {
        self.entries.iter()
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no commands.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
