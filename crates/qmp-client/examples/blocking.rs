//! The blocking facade, for programs without an async runtime: the same
//! calls, each waiting for its answer, and events read as an iterator.
//!
//! ```sh
//! cargo run -p qmp-client --example blocking -- /run/qemu/qmp.sock
//! ```

use std::time::Duration;

use qmp_client::blocking::BlockingClient;
use qmp_client::EventFilter;

/// Stops and resumes the machine at `socket`; returns the names of the
/// events seen.
pub fn run(socket: &std::path::Path) -> qmp_client::Result<Vec<String>> {
    let client = BlockingClient::builder()
        .call_timeout(Duration::from_secs(5))
        .connect_unix(socket)?;
    let mut events = client.subscribe(EventFilter::names(["STOP", "RESUME"]));
    client.execute("stop", ())?;
    client.execute("cont", ())?;
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(events.next_timeout(Duration::from_secs(5))?.name);
    }
    println!("events: {seen:?}");
    Ok(seen)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args_os()
        .nth(1)
        .ok_or("give the QMP socket's path")?;
    run(socket.as_ref())?;
    Ok(())
}
