//! Scenarios that hold for any QMP server that behaves like QEMU 7.2.

use std::time::Duration;

use qmp_client::{Client, EventFilter, Value};

/// Generous bound for one step of a scenario.
pub const STEP: Duration = Duration::from_secs(10);

/// `query-version` matches the greeting's version.
pub async fn query_version(client: &Client) {
    let version = client
        .execute("query-version", ())
        .await
        .expect("query-version");
    let greeting = client.greeting();
    assert_eq!(
        version
            .get("qemu")
            .and_then(|q| q.get("major"))
            .and_then(Value::as_i64),
        Some(greeting.version.qemu.major)
    );
    assert!(
        client.oob_enabled(),
        "oob is offered on a socket monitor and enabled"
    );
}
