//! TLS to a monitor on TCP: QEMU's `-object tls-creds-x509,...` with
//! `-chardev socket,...,tls-creds=ID`, or `qmp serve --tcp ADDR --tls-cert
//! ... --tls-key ...`. The server's certificate is checked against a CA
//! file, and must name the host connected to.
//!
//! ```sh
//! qmp serve --tcp 127.0.0.1:4444 --tls-cert server-cert.pem --tls-key server-key.pem &
//! cargo run -p qmp-client --example tls -- 127.0.0.1:4444 ca-cert.pem
//! ```

use std::time::Duration;

use qmp_client::{Client, TlsOptions, Value};

/// Connects to `address` over TLS, verified with `ca_file`; returns the
/// server's QEMU version.
pub async fn run(address: &str, ca_file: &std::path::Path) -> qmp_client::Result<String> {
    let tls = TlsOptions {
        // Another name than the host's: `Some("qemu.example".into())`.
        server_name: None,
        // For `verify-peer=on`: `Some((client_cert, client_key))`.
        identity: None,
        ..TlsOptions::with_ca(ca_file)
    };
    let client = Client::builder()
        .call_timeout(Duration::from_secs(5))
        .ready_within(Duration::from_secs(10))
        .connect_tls(address, &tls)
        .await?;
    let version = client.execute("query-version", ()).await?;
    let qemu = version
        .get("qemu")
        .ok_or_else(|| qmp_client::Error::Protocol(format!("no QEMU version in {version}")))?;
    let part = |name| qemu.get(name).and_then(Value::as_i64).unwrap_or_default();
    let text = format!("{}.{}.{}", part("major"), part("minor"), part("micro"));
    println!("QEMU {text} over TLS");
    Ok(text)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(ca)) = (args.next(), args.next()) else {
        return Err("give HOST:PORT and the CA certificate file".into());
    };
    run(&address, ca.as_ref()).await?;
    Ok(())
}
