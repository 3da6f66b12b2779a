//! The client's shared scenarios (`common/scenarios.rs`) recorded through
//! `qmp_proxy` in front of a real QEMU 7.2, then run against
//! `qmp_sim::replay` of that recording: as recorded, and again with
//! output a byte at a time, with delayed replies, and with events
//! interleaved before every reply. Strict replay: every command in the
//! recorded order, nothing left unsent.

mod common;

use std::path::Path;
use std::time::Duration;

use common::scenarios;
use qmp_client::Client;
use qmp_proxy::{ListenAddress, ListenerConfig, Proxy, ProxyConfig, Upstream};
use qmp_server::{Faults, ServerConfig};
use qmp_sim::replay::{Order, Recording, Replay};

/// The scenarios of one recorded session (QEMU started with -S).
async fn run_scenarios(socket: &Path) {
    let client = Client::connect_unix(socket).await.expect("connect");
    scenarios::stop_cont_events(&client).await;
    scenarios::query_version(&client).await;
    scenarios::query_qmp_schema(&client).await;
    scenarios::getfd_closefd(&client).await;
    // Its exec-oob of query-name is refused by the replay's server itself,
    // before any handler: the replay still counts it in its place.
    scenarios::oob_migrate_pause(&client).await;
    scenarios::quit(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_scenarios_pass_against_a_replay_of_their_run() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let qemu = qmp_test_support::TestProcess::qemu(&qemu, &["-S"]).expect("start QEMU");
    let dir = qmp_test_support::temp_dir();
    let recording = dir.path().join("scenarios.jsonl");
    let listen = dir.path().join("proxy.sock");
    let mut config = ProxyConfig::new(
        Upstream::Unix(qemu.socket().to_path_buf()),
        vec![ListenerConfig::new(ListenAddress::Unix(listen.clone()))],
    );
    config.record = Some(recording.clone());
    let proxy = Proxy::start(config)
        .await
        .expect("start the recording proxy");
    run_scenarios(&listen).await;
    proxy.ended().await;

    let recorded = Recording::read_file(&recording).expect("read the recording");
    let faults = [
        ("as recorded", Faults::default()),
        (
            "a byte at a time",
            Faults {
                chunk: Some(1),
                ..Faults::default()
            },
        ),
        (
            "replies 20 ms late",
            Faults {
                delay: Duration::from_millis(20),
                ..Faults::default()
            },
        ),
        (
            "events before every reply",
            Faults {
                interleave_events: true,
                ..Faults::default()
            },
        ),
    ];
    for (what, faults) in faults {
        let config = ServerConfig {
            faults,
            ..ServerConfig::qmp(Default::default())
        };
        let replay = Replay::start(recorded.clone(), Order::Strict, config)
            .await
            .expect("start the replay");
        run_scenarios(replay.socket()).await;
        let report = replay.stop().await;
        assert!(report.is_exact(), "{what}:\n{report}");
        assert_eq!(report.matched, recorded.exchanges.len(), "{what}");
    }
}
