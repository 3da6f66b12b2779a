//! One QEMU monitor shared by many QMP clients.
//!
//! A [`Proxy`] holds one upstream session with a QEMU (negotiated with
//! `oob` when offered) and serves any number of downstream clients on unix
//! and TCP listeners. Each client gets QEMU's greeting, negotiates for
//! itself with QEMU's texts, and may pipeline with any ids: the upstream
//! requests carry the proxy's own ids and each reply goes back to its
//! client with the client's id, as QEMU wrote it. Events go to every
//! negotiated client in upstream order; a client that stops reading is cut
//! off after a bounded backlog without holding up the others. `exec-oob`
//! stays out of band; descriptors passed with a command travel upstream
//! with it; in-band commands of all clients share the upstream fairly, each
//! client at most [`Policy::max_in_flight`] at a time.
//!
//! Per listener, a [`Policy`] (read-only, allow and deny lists) refuses
//! commands with a `GenericError` that names the policy, before they reach
//! QEMU. An [`AuditLog`] records every command and reply, and every event,
//! as JSON lines with secrets redacted ([`RedactRule`]).
//!
//! ```no_run
//! # async fn demo() -> qmp_proxy::Result<()> {
//! use qmp_proxy::{ListenerConfig, Policy, Proxy, ProxyConfig, Upstream};
//! let listeners = vec![
//!     ListenerConfig::new("unix:/run/vm1/qmp-shared.sock".parse()?),
//!     ListenerConfig {
//!         address: "unix:/run/vm1/qmp-ro.sock".parse()?,
//!         policy: Policy::read_only(),
//!     },
//! ];
//! let proxy = Proxy::start(ProxyConfig::new(Upstream::parse("/run/vm1/qmp.sock")?, listeners)).await?;
//! println!("ended: {:?}", proxy.ended().await);
//! # Ok(()) }
//! ```
//!
//! Built on `qmp-client` (upstream) and `qmp-server` (downstream).
#![warn(missing_docs)]

mod audit;
mod config;
mod error;
mod forward;
mod listen;
mod policy;
mod proxy;
mod record;
mod upstream;

pub use audit::{redact, AuditLog, Direction, RedactRule, REDACTED};
pub use config::{FileConfig, ListenerConfig};
pub use error::{Error, Result};
pub use listen::ListenAddress;
pub use policy::{is_query, Policy, DEFAULT_MAX_IN_FLIGHT};
pub use proxy::{Ended, Proxy, ProxyConfig, TAKEOVER_SUFFIX};
pub use record::Recorder;
pub use upstream::Upstream;
