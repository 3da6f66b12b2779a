//! The client against the real qemu-system-x86_64 (7.2 in CI).

mod common;

use common::{scenarios, Launcher, Machine, RealQemu};
use qmp_client::ClientConfig;

#[tokio::test]
async fn query_version() {
    let Some(client) = RealQemu
        .launch(Machine::None, ClientConfig::default())
        .await
    else {
        return;
    };
    scenarios::query_version(&client).await;
}
