//! The API a simulator serves: a `query-qmp-schema` list (from any
//! [`ApiSource`]: a saved reply, or a QAPI schema it is generated from),
//! the list used to validate arguments, and which commands run before
//! machine initialisation.

use std::collections::HashSet;
use std::path::Path;

pub use qapi_schema::introspect::ApiError;
use qapi_schema::introspect::{Api, ApiSource, EntryKind, IntrospectOptions, SchemaInfo};
use qapi_schema::Conditions;
use qmp_wire::Value;

/// QEMU 7.2's commands with `allow-preconfig`, used when the API comes
/// from a `query-qmp-schema` reply (which does not say).
const QEMU_7_2_PRECONFIG: &[&str] = &[
    "query-status",
    "set-action",
    "query-pr-managers",
    "block_set_io_throttle",
    "block-latency-histogram-set",
    "query-block",
    "query-blockstats",
    "query-block-jobs",
    "block_resize",
    "blockdev-snapshot-sync",
    "blockdev-snapshot",
    "change-backing-file",
    "block-commit",
    "drive-backup",
    "blockdev-backup",
    "query-named-block-nodes",
    "x-debug-query-block-graph",
    "drive-mirror",
    "block-dirty-bitmap-add",
    "block-dirty-bitmap-remove",
    "block-dirty-bitmap-clear",
    "block-dirty-bitmap-enable",
    "block-dirty-bitmap-disable",
    "block-dirty-bitmap-merge",
    "x-debug-block-dirty-bitmap-sha256",
    "blockdev-mirror",
    "block-stream",
    "block-job-set-speed",
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "block-job-complete",
    "block-job-dismiss",
    "block-job-finalize",
    "blockdev-add",
    "blockdev-reopen",
    "blockdev-del",
    "blockdev-create",
    "x-blockdev-amend",
    "block-set-write-threshold",
    "x-blockdev-change",
    "x-blockdev-set-iothread",
    "blockdev-snapshot-internal-sync",
    "blockdev-snapshot-delete-internal-sync",
    "nbd-server-start",
    "nbd-server-add",
    "nbd-server-remove",
    "nbd-server-stop",
    "block-export-add",
    "block-export-del",
    "query-block-exports",
    "query-chardev",
    "netdev_add",
    "netdev_del",
    "qmp_capabilities",
    "query-version",
    "query-commands",
    "quit",
    "query-qmp-schema",
    "qom-list",
    "qom-get",
    "qom-set",
    "qom-list-types",
    "qom-list-properties",
    "object-add",
    "object-del",
    "query-uuid",
    "query-memdev",
    "query-hotpluggable-cpus",
    "set-numa-node",
    "query-name",
    "query-iothreads",
    "x-exit-preconfig",
    "query-command-line-options",
];

/// What a simulator serves.
#[derive(Clone, Debug)]
pub struct SimApi {
    /// The `query-qmp-schema` reply, as QEMU sends it.
    pub wire: Value,
    /// The list arguments are validated against (from a QAPI schema it
    /// keeps integer widths, so range errors match QEMU's).
    pub validation: SchemaInfo,
    /// Commands allowed before machine initialisation (`--preconfig`).
    pub preconfig: HashSet<String>,
    /// Commands that take members beyond their declared arguments (QAPI
    /// `gen: false`, such as `device_add` with device properties).
    pub open_arguments: HashSet<String>,
}

/// The simulator's own schema (QAPI), compiled into the binary.
pub const BUILTIN_SCHEMA: &str = include_str!("../schema/sim-schema.json");

impl SimApi {
    /// The API of `source` (see [`ApiSource`] for how schemas and
    /// replies are read).
    pub fn load(source: &ApiSource) -> Result<SimApi, ApiError> {
        Ok(match source.load()? {
            Api::Schema { schema, conditions } => SimApi::from_compiled(&schema, &conditions),
            Api::Introspection { wire, info } => SimApi::from_reply(wire, info),
        })
    }

    /// The API of a saved `query-qmp-schema` reply (its `return` value, or
    /// the whole reply object).
    pub fn from_introspection_file(path: &Path) -> Result<SimApi, ApiError> {
        SimApi::load(&ApiSource::Introspection(path.to_path_buf()))
    }

    /// The API of a `query-qmp-schema` list, as sent (`wire`) and read
    /// (`info`). A reply does not say which commands allow preconfig or
    /// take open arguments; QEMU 7.2's are assumed.
    pub fn from_reply(wire: Value, info: SchemaInfo) -> SimApi {
        SimApi {
            wire,
            validation: info,
            preconfig: QEMU_7_2_PRECONFIG.iter().map(|s| s.to_string()).collect(),
            // QEMU 7.2's only `gen: false` command.
            open_arguments: ["device_add".to_string()].into_iter().collect(),
        }
    }

    /// The simulator's built-in API ([`BUILTIN_SCHEMA`]): the heart of
    /// QEMU's interface with QEMU's names and shapes.
    pub fn builtin() -> Result<SimApi, ApiError> {
        let schema = qapi_schema::load_str("sim-schema.json", BUILTIN_SCHEMA, Default::default())
            .map_err(ApiError::Schema)?;
        Ok(SimApi::from_compiled(&schema, &Conditions::All))
    }

    /// The API of a compiled schema.
    pub fn from_compiled(schema: &qapi_schema::Schema, conditions: &Conditions) -> SimApi {
        let wire = SchemaInfo::from_schema(schema, conditions, IntrospectOptions::default());
        let validation = SchemaInfo::from_schema(schema, conditions, IntrospectOptions::VALIDATION);
        let commands = || {
            schema.definitions().filter_map(|d| match &d.kind {
                qapi_schema::DefinitionKind::Command(c) => Some((d.name.clone(), c)),
                _ => None,
            })
        };
        SimApi {
            wire: wire.to_value(),
            validation,
            preconfig: commands()
                .filter(|(_, c)| c.allow_preconfig)
                .map(|(name, _)| name)
                .collect(),
            open_arguments: commands()
                .filter(|(_, c)| !c.gen)
                .map(|(name, _)| name)
                .collect(),
        }
    }

    /// The commands, with their out-of-band flag, in schema order.
    pub fn commands(&self) -> impl Iterator<Item = (&str, bool, &str)> {
        self.validation.commands().filter_map(|e| match &e.kind {
            EntryKind::Command {
                allow_oob,
                ret_type,
                ..
            } => Some((e.name.as_str(), *allow_oob, ret_type.as_str())),
            _ => None,
        })
    }
}
