//! The simulator: a schema-driven stand-in for QEMU and the guest agent.
//!
//! It serves the API described by a `query-qmp-schema` reply or a QAPI
//! schema ([`SimApi`]): every command is accepted with QEMU's argument
//! validation computed from the schema, and answers with the smallest value
//! valid for its return type unless the simulated [`Machine`] has behaviour
//! for it (run state and its events, QOM, HMP, block nodes, migration state
//! errors). [`qemu`] and [`qga`] are the `qmp fake-qemu` and `qmp fake-qga`
//! programs, which accept the QEMU and qemu-ga options the conformance
//! transcripts use. The protocol itself is `qmp-server`'s, and
//! introspection (the lists, built from a schema or read from a reply, and
//! their validation) is `qapi-schema`'s.
#![warn(missing_docs)]

pub mod api;
pub mod block;
pub mod cmdline;
pub mod described;
pub mod devices;
pub mod ending;
mod fdsets;
pub mod hardware;
pub mod machine;
pub mod migration;
pub mod minimal;
pub mod profile;
pub mod profile_record;
pub mod qemu;
pub mod qga;
pub mod qom;
pub mod replay;
pub mod script;
mod served;
mod shared;
pub mod simulator;
pub mod standin;
pub mod threads;

pub use api::{ApiError, SimApi};
pub use machine::{Machine, MachineOptions, RunState};
pub use minimal::minimal_value;
pub use script::{Rule, Script, ScriptError, ScriptedReply};
pub use simulator::{SimError, Simulator};
