//! The socket I/O that qmp-client and qmp-server share (the `tokio-io`
//! feature). Sessions, negotiation and transports as a whole belong to
//! those crates; what lives here is what both ends of a socket do the same
//! way:
//! * [`busy_poll`]: the adaptive window a reader polls for before it lets
//!   its runtime park;
//! * [`read::poll_read`]: one non-blocking read of a socket, for busy
//!   polling and parking alike;
//! * [`SocketWriter`]: the write half of a unix or TCP socket that any task
//!   can write through, without owning it.

pub mod busy_poll;
pub mod read;
mod socket;

pub use busy_poll::BusyPoll;
pub use socket::SocketWriter;
