//! Waiting for what finishes a command, each wait with a deadline: an
//! event caused by a command (subscribed before sending), a block job to
//! its end, a device to its `DEVICE_DELETED`, a migration to its end, and
//! `quit` to the monitor closing. The waiters also poll the matching
//! query, so that a missed event cannot leave them waiting.
//!
//! ```sh
//! cargo run -p qmp-client --example waiters                      # the simulator
//! qemu-system-x86_64 -M pc -accel tcg -display none -device qemu-xhci \
//!     -qmp unix:/tmp/qmp.sock,server=on,wait=off &
//! cargo run -p qmp-client --example waiters -- /tmp/qmp.sock
//! ```

use std::time::Duration;

use qmp_client::{Client, EventFilter, Map, QemuExt, Value};

#[path = "support/mod.rs"]
mod support;

/// Runs each waiter against the monitor at `socket` (which it quits at
/// the end); returns the names of what finished, in order.
pub async fn run(socket: &std::path::Path) -> qmp_client::Result<Vec<String>> {
    let client = Client::builder()
        .call_timeout(Duration::from_secs(5))
        .connect_unix(socket)
        .await?;
    let within = Duration::from_secs(30);
    let mut done = Vec::new();

    // A command and the event it causes, matched by name and data.
    let (_, stop) = client
        .execute_and_wait("stop", (), EventFilter::name("STOP"), within)
        .await?;
    done.push(stop.name);
    client.execute("cont", ()).await?;

    // A block job on a scratch node, waited to its end and dismissed.
    let mut node = Map::new();
    node.insert("driver", "null-co");
    node.insert("node-name", "scratch0");
    client.execute("blockdev-add", node).await?;
    let mut stream = Map::new();
    stream.insert("device", "scratch0");
    stream.insert("job-id", "job0");
    let job = client
        .run_job("block-stream", stream, "job0", within)
        .await?;
    done.push(format!("job {}", job.id));

    // A device, waited to its DEVICE_DELETED (or seen gone by qom-list).
    // A USB one: unplugging it needs no guest.
    let mut device = Map::new();
    device.insert("driver", "usb-kbd");
    device.insert("id", "kbd0");
    client.execute("device_add", device).await?;
    client.device_del("kbd0", within).await?;
    done.push("device kbd0".to_owned());

    // A migration to its end, with the final query-migrate.
    let mut migrate = Map::new();
    migrate.insert("uri", "exec:cat > /dev/null");
    let info = client.migrate_and_wait(migrate, within).await?;
    let status = info.get("status").and_then(Value::as_str).unwrap_or("?");
    done.push(format!("migration {status}"));

    // quit: its SHUTDOWN, then the monitor closing.
    let shutdown = client.quit(within).await?;
    done.push(shutdown.name);
    println!("finished: {done:?}");
    Ok(done)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::socket_or_simulator(|socket| async move { run(&socket).await }).await?;
    Ok(())
}
