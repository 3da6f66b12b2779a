//! The simulator: a schema-driven stand-in for QEMU and the guest agent.
//!
//! It serves the API described by a `query-qmp-schema` reply or a QAPI
//! schema ([`SimApi`]): every command is accepted with QEMU's argument
//! validation computed from the schema, and answered by a script where a
//! rule matches, from the machine profile ([`profile`], [`described`])
//! where the question describes the binary, by the simulated [`Machine`]
//! where it models the state (run state and its events, the hardware in
//! [`hardware`]: vCPU threads, QOM, devices, memdevs, iothreads; block
//! nodes, migration, HMP), and with the smallest valid value elsewhere.
//! [`qemu::Assembly`] puts these together for every user. `qmp fake-qemu`
//! is [`cmdline`] (QEMU's command line as libvirt writes it) and
//! [`standin`] (the process: `-daemonize`, `-pidfile`, monitors);
//! [`qga`] is `qmp fake-qga`; [`replay`] serves recorded conversations.
//! The protocol itself is `qmp-server`'s, and introspection (the lists,
//! built from a schema or read from a reply, and their validation) is
//! `qapi-schema`'s.
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
