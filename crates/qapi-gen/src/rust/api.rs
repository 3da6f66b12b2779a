//! Commands and events: a type per command (implementing
//! `qmp_wire::Command`) and per event (implementing `qmp_wire::EventData`),
//! the `Event` enum over all events, and the server side: a trait with one
//! async method per command and a dispatcher that validates arguments with
//! QEMU's errors before deserialising them.

use std::fmt::Write as _;

use qapi_schema::introspect::{IntrospectOptions, SchemaInfo};
use qapi_schema::{Definition, DefinitionKind, EntityId};

use super::docs::{doc_alias, doc_comment};
use super::names::{camel, snake, Namespace};
use super::types::Directions;
use super::{Gen, Scope};

/// A command or event with the Rust names chosen for it.
struct Named<'a> {
    def: &'a Definition,
    rust: String,
}

impl<'a> Gen<'a> {
    /// Commands (or events) whose condition holds, with unique Rust names.
    fn named(&self, want_commands: bool) -> Vec<Named<'a>> {
        let mut ns = Namespace::default();
        self.schema
            .definitions()
            .filter(|d| match d.kind {
                DefinitionKind::Command(_) => want_commands,
                DefinitionKind::Event(_) => !want_commands,
                _ => false,
            })
            .filter(|d| self.holds(d.ifcond.as_ref()))
            .filter(|d| {
                self.schema
                    .lookup_id(&d.name)
                    .is_some_and(|id| self.selected(id))
            })
            .map(|def| Named {
                def,
                rust: ns.claim(camel(&def.name)),
            })
            .collect()
    }

    /// The struct holding a command's arguments or an event's data.
    /// `directions` says which of `Serialize` and `Deserialize` it needs:
    /// a client writes arguments and reads event data, and only a server
    /// needs the other way.
    fn data_struct(
        &self,
        def: &Definition,
        name: &str,
        arg_type: Option<EntityId>,
        boxed: bool,
        directions: Directions,
    ) -> String {
        let mut out = doc_comment(&self.def_doc(def), "");
        out.push_str(&doc_alias(&def.name, name));
        out.push_str(&self.deprecated_attr(&def.features, ""));
        match arg_type {
            Some(ty) if boxed => {
                let inner = self.rust_type(ty, Scope::Sub);
                let _ = writeln!(
                    out,
                    "#[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\n#[serde(transparent)]\npub struct {name}(pub {inner});\n\nimpl ::std::convert::From<{inner}> for {name} {{\n    fn from(value: {inner}) -> Self {{\n        Self(value)\n    }}\n}}\n"
                );
            }
            _ => {
                let members = arg_type.map(|t| self.members_of(t)).unwrap_or_default();
                out.push_str(Self::struct_derives(&members));
                let _ = writeln!(out, "pub struct {name} {{");
                let (fields, slots) =
                    self.fields(&members, None, Scope::Sub, &mut Namespace::default(), false);
                out.push_str(&fields);
                out.push_str("}\n\n");
                out.push_str(&self.codec(name, &slots, Scope::Sub, directions));
                out.push_str(&self.constructors(name, &slots, &[]));
            }
        }
        out
    }

    /// The Rust type a command returns (`None`: nothing).
    fn returns(&self, def: &Definition) -> Option<String> {
        match &def.kind {
            DefinitionKind::Command(c) => c.ret_type.map(|t| self.rust_type(t, Scope::Sub)),
            _ => None,
        }
    }

    /// `pub mod commands`.
    pub(super) fn commands_module(&self) -> String {
        let mut body = String::new();
        for Named { def, rust } in self.named(true) {
            let DefinitionKind::Command(c) = &def.kind else {
                continue;
            };
            body.push_str(&self.item(|| {
                let directions = Directions {
                    serialize: true,
                    deserialize: self.options.server,
                };
                let mut out = self.data_struct(def, &rust, c.arg_type, c.boxed, directions);
                let returns = self
                    .returns(def)
                    .unwrap_or_else(|| "::qmp_wire::Empty".to_string());
                let _ = writeln!(out, "impl ::qmp_wire::Command for {rust} {{");
                let _ = writeln!(out, "    const NAME: &'static str = {:?};", def.name);
                if c.allow_oob {
                    out.push_str("    const ALLOW_OOB: bool = true;\n");
                }
                if !c.success_response {
                    out.push_str("    const SUCCESS_RESPONSE: bool = false;\n");
                }
                let _ = writeln!(out, "    type Returns = {returns};\n}}\n");
                if c.allow_oob {
                    let _ = writeln!(out, "impl ::qmp_wire::OobCommand for {rust} {{}}\n");
                }
                out
            }));
        }
        Self::submodule(
            "One type per command: its arguments, and what it returns (`qmp_wire::Command`).",
            "commands",
            &body,
        )
    }

    /// `pub mod events`.
    pub(super) fn events_module(&self) -> String {
        let mut body = String::new();
        for Named { def, rust } in self.named(false) {
            let DefinitionKind::Event(e) = &def.kind else {
                continue;
            };
            body.push_str(&self.item(|| {
                let directions = Directions {
                    serialize: self.options.server,
                    deserialize: true,
                };
                let mut out = self.data_struct(def, &rust, e.arg_type, e.boxed, directions);
                let _ = writeln!(
                    out,
                    "impl ::qmp_wire::EventData for {rust} {{\n    const NAME: &'static str = {:?};\n}}\n",
                    def.name
                );
                out
            }));
        }
        Self::submodule(
            "One type per event: its data (`qmp_wire::EventData`).",
            "events",
            &body,
        )
    }

    /// `pub enum Event` over all events, decoded from name and data.
    pub(super) fn event_enum(&self) -> String {
        let events = self.named(false);
        let mut ns = Namespace::default();
        for Named { rust, .. } in &events {
            ns.claim(rust.clone());
        }
        let other = ns.claim("Other".to_string());
        let string = self.std("String");
        let option = self.std("Option");
        let result = self.std("Result");
        self.item(|| {
            let mut out = String::from(
                "/// Any event of this schema, decoded from its name and data.\n#[derive(Clone, Debug, PartialEq)]\npub enum Event {\n",
            );
            for Named { def, rust } in &events {
                let _ = writeln!(out, "    /// `{}`", def.name);
                out.push_str(&self.deprecated_attr(&def.features, "    "));
                if def.features.iter().any(|f| f.name == "deprecated") {
                    self.touched_deprecated.set(true);
                }
                let _ = writeln!(out, "    {rust}(events::{rust}),");
            }
            let _ = writeln!(
                out,
                "    /// An event this code does not know (from another QEMU version).\n    {other} {{\n        /// The event name.\n        name: {string},\n        /// Its data, if any.\n        data: {option}<::qmp_wire::Map>,\n    }},\n}}\n"
            );
            let _ = writeln!(
                out,
                "impl Event {{\n    /// Decodes the event `name` with `data`; unknown names give `{other}`.\n    pub fn decode(name: &str, data: {option}<::qmp_wire::Map>) -> {result}<Event, ::serde_json::Error> {{"
            );
            let unknown = format!("Event::{other} {{\n            name: name.into(),\n            data,\n        }}");
            if events.is_empty() {
                let _ = writeln!(out, "        Ok({unknown})\n    }}\n");
            } else {
                out.push_str("        Ok(match name {\n");
                for Named { def, rust } in &events {
                    let _ = writeln!(
                        out,
                        "            {:?} => Event::{rust}(__rt::event_data(data)?),",
                        def.name
                    );
                }
                let _ = writeln!(out, "            _ => {unknown},\n        }})\n    }}\n");
            }
            let _ = writeln!(
                out,
                "    /// Decodes a received event message.\n    pub fn from_message(event: &::qmp_wire::Event) -> {result}<Event, ::serde_json::Error> {{\n        Event::decode(&event.name, event.data.clone())\n    }}\n"
            );
            out.push_str("    /// The event's name on the wire.\n    pub fn name(&self) -> &str {\n        match self {\n");
            for Named { def, rust } in &events {
                let _ = writeln!(out, "            Event::{rust}(_) => {:?},", def.name);
            }
            let _ = writeln!(
                out,
                "            Event::{other} {{ name, .. }} => name,\n        }}\n    }}\n}}\n"
            );
            out
        })
    }

    /// `pub mod server`: the trait, the dispatcher and the command table.
    pub(super) fn server_module(&self) -> String {
        let commands: Vec<_> = self
            .named(true)
            .into_iter()
            .filter(|n| matches!(&n.def.kind, DefinitionKind::Command(c) if c.gen))
            .collect();
        let result = self.std("Result");
        let mut ns = Namespace::default();
        let methods: Vec<String> = commands
            .iter()
            .map(|n| ns.claim(snake(&n.def.name)))
            .collect();
        let mut body = String::from("use ::qmp_wire::QmpError;\n\n");
        body.push_str(&self.item(|| {
            let mut dispatch_arms = String::new();
            let mut trait_methods = String::new();
            for (Named { def, rust }, method) in commands.iter().zip(&methods) {
                let DefinitionKind::Command(c) = &def.kind else {
                    continue;
                };
                let ret = self.returns(def).unwrap_or_else(|| "()".to_string());
                let has_args = c.arg_type.is_some();
                trait_methods.push_str(&doc_comment(&self.def_doc(def), "    "));
                trait_methods.push_str(&self.deprecated_attr(&def.features, "    "));
                if Self::is_deprecated(&def.features) {
                    self.touched_deprecated.set(true);
                }
                let params = if has_args {
                    format!(", args: super::commands::{rust}")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    trait_methods,
                    "    fn {method}(&self{params}) -> impl ::std::future::Future<Output = {result}<{ret}, QmpError>> + Send {{"
                );
                if has_args {
                    trait_methods.push_str("        let _ = args;\n");
                }
                let _ = writeln!(
                    trait_methods,
                    "        async {{ Err(super::__rt::not_implemented({:?})) }}\n    }}\n",
                    def.name
                );
                let reply = if c.ret_type.is_some() {
                    "super::__rt::reply"
                } else {
                    "super::__rt::reply_empty"
                };
                let call = if has_args {
                    format!(
                        "match arguments(name, args) {{\n            Ok(args) => {reply}(server.{method}(args).await),\n            Err(e) => Err(e),\n        }}"
                    )
                } else {
                    format!(
                        "match validate(name, &args) {{\n            Ok(()) => {reply}(server.{method}().await),\n            Err(e) => Err(e),\n        }}"
                    )
                };
                let _ = writeln!(dispatch_arms, "        {:?} => {call},", def.name);
            }
            let mut out = String::from(
                "/// The commands of the schema, one async method each. Every method\n/// has a default that answers `CommandNotFound`, so a server implements\n/// what it supports. Arguments arrive validated with QEMU's rules.\npub trait Server {\n",
            );
            out.push_str(&trait_methods);
            out.push_str("}\n\n");
            let _ = writeln!(
                out,
                "/// Runs command `name` with its JSON arguments (`{{}}` when absent):\n/// QEMU's argument errors first, then the method. `None` when the schema\n/// has no such command here (unknown, or `gen: false`, which the server\n/// implements itself). Commands without `success-response` still give\n/// `{{}}`; see [`COMMANDS`] to drop it.\npub async fn dispatch<S: Server + Sync + ?Sized>(\n    server: &S,\n    name: &str,\n    args: ::qmp_wire::Map,\n) -> Option<{result}<::qmp_wire::Value, QmpError>> {{\n    Some(match name {{\n{dispatch_arms}        _ => return None,\n    }})\n}}\n"
            );
            out
        }));
        body.push_str(&self.command_table());
        body.push_str(&self.validation_support());
        Self::submodule(
            "The server side: a trait with one method per command and its dispatcher.",
            "server",
            &body,
        )
    }

    /// `COMMANDS`: each command's wire flags.
    fn command_table(&self) -> String {
        let mut out = String::from(
            "/// What a server needs to know about a command besides its types.\n#[derive(Clone, Copy, Debug, PartialEq, Eq)]\npub struct CommandInfo {\n    /// The command's name.\n    pub name: &'static str,\n    /// True when it may run out of band (`exec-oob`).\n    pub allow_oob: bool,\n    /// False when QEMU sends no reply on success.\n    pub success_response: bool,\n    /// True when it may run before machine initialisation.\n    pub allow_preconfig: bool,\n    /// False when the server implements it without this trait (`gen: false`).\n    pub generated: bool,\n}\n\n/// Every command of the schema, in schema order.\npub const COMMANDS: &[CommandInfo] = &[\n",
        );
        for Named { def, .. } in self.named(true) {
            if let DefinitionKind::Command(c) = &def.kind {
                let _ = writeln!(
                    out,
                    "    CommandInfo {{\n        name: {:?},\n        allow_oob: {},\n        success_response: {},\n        allow_preconfig: {},\n        generated: {},\n    }},",
                    def.name, c.allow_oob, c.success_response, c.allow_preconfig, c.gen
                );
            }
        }
        out.push_str("];\n\n");
        out
    }

    /// The embedded validation schema and the helpers that use it.
    fn validation_support(&self) -> String {
        let precise = SchemaInfo::from_schema(
            self.schema,
            &self.options.conditions,
            IntrospectOptions::VALIDATION,
        );
        let json = String::from_utf8_lossy(&precise.to_wire_bytes()).into_owned();
        let result = self.std("Result");
        format!(
            "/// The schema information the validator uses: real type names and\n/// integer widths kept (not what `query-qmp-schema` sends).\npub const VALIDATION_SCHEMA: &str = {json:?};\n\n/// The validator, built once from [`VALIDATION_SCHEMA`].\npub fn schema_info() -> {result}<&'static ::qapi_schema::introspect::SchemaInfo, QmpError> {{\n    static INFO: ::std::sync::OnceLock<{result}<::qapi_schema::introspect::SchemaInfo, ::std::string::String>> =\n        ::std::sync::OnceLock::new();\n    INFO.get_or_init(|| {{\n        let value = ::qmp_wire::from_str(VALIDATION_SCHEMA).map_err(|e| e.to_string())?;\n        ::qapi_schema::introspect::SchemaInfo::from_value(&value).map_err(|e| e.to_string())\n    }})\n    .as_ref()\n    .map_err(|e| QmpError::generic(format!(\"invalid validation schema: {{e}}\")))\n}}\n\n/// Checks the arguments of command `name` as QEMU does.\npub fn validate(name: &str, args: &::qmp_wire::Map) -> {result}<(), QmpError> {{\n    schema_info()?\n        .validate_command_arguments(name, args)\n        .map_err(|e| QmpError::generic(e.to_string()))\n}}\n\n/// Validates, then deserialises the arguments of command `name`.\npub fn arguments<T: ::serde::de::DeserializeOwned>(name: &str, args: ::qmp_wire::Map) -> {result}<T, QmpError> {{\n    validate(name, &args)?;\n    ::qmp_wire::Value::Object(args)\n        .deserialize_into()\n        .map_err(|e| QmpError::generic(e.to_string()))\n}}\n"
        )
    }
}
