//! TLS on qmp-server (rustls), spoken to by this client and by Python's
//! qemu.qmp (`ssl=`), as both speak to QEMU's TLS monitor (see
//! `qemu.rs` for the client against real QEMU).

mod common;

use std::time::Duration;

use qmp_client::{Client, TlsOptions, Value};

const STEP: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_speaks_tls_to_qmp_server() {
    let certs = qmp_test_support::temp_dir();
    let Some((_sim, address)) = common::simulator_over_tls(certs.path()).await else {
        return;
    };
    let address = address.to_string();
    let tls = TlsOptions::with_ca(certs.path().join("ca-cert.pem"));
    let client = Client::builder()
        .call_timeout(STEP)
        .connect_tls(&address, &tls)
        .await
        .expect("TLS connect");
    let status = client
        .execute("query-status", ())
        .await
        .expect("query-status");
    assert_eq!(status.get("running").and_then(Value::as_bool), Some(true));
    // Many in flight at once: the nudge records and batching mix well.
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.execute("query-name", ()).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("query-name");
    }
    // A CA that did not sign the server's certificate: refused.
    let wrong = TlsOptions::with_ca(certs.path().join("server-cert.pem"));
    let err = Client::builder()
        .connect_tls(&address, &wrong)
        .await
        .expect_err("untrusted");
    assert!(err.to_string().contains("TLS"), "{err}");
    // A client without TLS gets no greeting in clear text.
    let err = Client::builder()
        .greeting_timeout(Duration::from_millis(500))
        .connect_tcp(address.as_str())
        .await
        .expect_err("no clear text");
    assert!(!err.to_string().is_empty());
}

/// Python's qemu.qmp connects with an `ssl.SSLContext` trusting the CA.
/// Its `disconnect()` never ends on a TLS stream under CPython 3.11 (its
/// final flush sets the transport's high-water mark to 0, which keeps an
/// SSL transport paused), whatever the server: it is given two seconds.
const PYTHON: &str = r#"
import asyncio, ssl, sys
from qemu.qmp import QMPClient

async def main():
    context = ssl.create_default_context(cafile=sys.argv[3])
    client = QMPClient("tls-test")
    await client.connect((sys.argv[1], int(sys.argv[2])), ssl=context)
    status = await client.execute("query-status")
    print(status["status"])
    try:
        await asyncio.wait_for(client.disconnect(), 2)
    except asyncio.TimeoutError:
        pass

asyncio.run(main())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_qmp_speaks_tls_to_qmp_server() {
    let Some(python) = qmp_test_support::python_with_qemu_qmp() else {
        return;
    };
    let certs = qmp_test_support::temp_dir();
    let Some((_sim, address)) = common::simulator_over_tls(certs.path()).await else {
        return;
    };
    let out = tokio::process::Command::new(python)
        .args(["-c", PYTHON])
        .arg(address.ip().to_string())
        .arg(address.port().to_string())
        .arg(certs.path().join("ca-cert.pem"))
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("in time")
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "running");
}
