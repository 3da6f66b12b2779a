//! The guest agent (qemu-ga) client: connect once the agent is up, ask
//! it something, run a program in the guest to its exit with its output,
//! and write and read back a file (in chunks, base64 on the wire).
//!
//! ```sh
//! qemu-ga -m unix-listen -p /tmp/qga.sock &      # or QEMU's chardev for the guest's port
//! cargo run -p qmp-client --example guest_agent -- /tmp/qga.sock /tmp/qga-example.txt
//! ```

use std::time::Duration;

use qmp_client::{AgentConfig, GuestAgent, GuestProgram, Value};

/// Talks to the agent at `socket`, using `scratch` (a path in the guest
/// the agent may write) for the file round trip; returns what the
/// program printed.
pub async fn run(socket: &std::path::Path, scratch: &str) -> qmp_client::Result<String> {
    let config = AgentConfig {
        call_timeout: Some(Duration::from_secs(10)),
        ..AgentConfig::default()
    };
    // Retries (fresh socket, fresh guest-sync-delimited) until it answers.
    let agent =
        GuestAgent::connect_unix_when_ready(socket, config, Duration::from_secs(20)).await?;
    let info = agent.execute("guest-info", ()).await?;
    let version = info.get("version").and_then(Value::as_str).unwrap_or("?");
    println!("qemu-ga {version}");

    let program = GuestProgram {
        env: vec!["WHO=guest".into()],
        ..GuestProgram::new("/bin/sh", ["-c", "echo hello from the $WHO"])
    };
    let out = agent.guest_exec(&program, Duration::from_secs(20)).await?;
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("exit {:?}: {printed}", out.exit_code);

    agent.write_file(scratch, printed.as_bytes()).await?;
    let back = agent.read_file(scratch, 1 << 20).await?;
    println!("{scratch} holds {} bytes", back.len());
    Ok(printed)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(socket), Some(scratch)) = (args.next(), args.next()) else {
        return Err("give the agent's socket and a scratch file path in the guest".into());
    };
    run(socket.as_ref(), &scratch).await?;
    Ok(())
}
