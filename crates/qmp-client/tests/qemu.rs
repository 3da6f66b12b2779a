//! The client against the real qemu-system-x86_64 (7.2 in CI): the
//! scenarios of `common/scenarios.rs` with QEMU as the server.

mod common;

use common::{scenarios, Launcher, Machine, RealQemu};
use qmp_client::{ClientConfig, QemuExt};

shared_scenarios!(RealQemu);
launcher_test!(RealQemu, sigkill_fails_pending_calls, Machine::None, |c| {
    scenarios::killed_mid_call(&c)
});

/// QEMU listening on a unix socket (`server=on`), the client connecting.
#[tokio::test]
async fn connect_to_unix_socket() {
    let Some((_qemu, client)) = common::qemu_on_socket(&[]).await else {
        return;
    };
    scenarios::query_version(&client).await;
    scenarios::quit(&client).await;
}

/// Accept mode: the client listens and QEMU connects in (`server=off`).
#[tokio::test]
async fn accept_qemu_connecting_in() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("listen.sock");
    let listener = qmp_client::QmpListener::bind_unix(&sock).expect("bind");
    let child = qmp_test_support::qemu_command(&qemu)
        .arg("-qmp")
        .arg(format!("unix:{},server=off", sock.display()))
        .spawn()
        .expect("spawn QEMU");
    let _guard = qmp_test_support::TestProcess::adopt(child);
    let client = qmp_client::Client::builder()
        .accept(&listener, scenarios::STEP)
        .await
        .expect("QEMU connects in");
    scenarios::query_version(&client).await;
    scenarios::quit(&client).await;
}

/// The client starts first and retries until QEMU, started later, greets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_when_ready_waits_for_a_qemu_started_after_the_client() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let dir = qmp_test_support::temp_dir();
    let socket = dir.path().join("late.sock");
    let connecting = tokio::spawn({
        let socket = socket.clone();
        async move {
            qmp_client::Client::builder()
                .ready_within(std::time::Duration::from_secs(20))
                .connect_unix(&socket)
                .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!connecting.is_finished(), "no QEMU yet");
    let child = qmp_test_support::qemu_command(&qemu)
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .spawn()
        .expect("spawn QEMU");
    let _qemu = qmp_test_support::TestProcess::adopt(child);
    let client = connecting
        .await
        .unwrap()
        .expect("connected once QEMU was up");
    scenarios::query_version(&client).await;
    scenarios::quit(&client).await;
}

/// Nothing ever listens: the error comes at the deadline and names the path.
#[tokio::test]
async fn connect_when_ready_gives_up_at_its_deadline() {
    let dir = qmp_test_support::temp_dir();
    let socket = dir.path().join("never.sock");
    let started = std::time::Instant::now();
    let err = qmp_client::Client::builder()
        .ready_within(std::time::Duration::from_millis(500))
        .connect_unix(&socket)
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(err.to_string().contains("never.sock"), "{err}");
}

/// A launched QEMU that fails at once: the error names the program, its
/// exit status and what it said.
#[tokio::test]
async fn a_launched_qemu_that_exits_is_reported_with_its_status_and_stderr() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let launcher = qmp_client::QemuLauncher::new(&qemu).args([
        "-machine",
        "no-such-machine",
        "-nodefaults",
        "-display",
        "none",
    ]);
    let err = qmp_client::Client::builder()
        .launch(&launcher)
        .await
        .unwrap_err();
    match &err {
        qmp_client::Error::ChildExited {
            program,
            status,
            stderr,
            ..
        } => {
            assert_eq!(program, &qemu.display().to_string());
            assert_eq!(status.code(), Some(1));
            assert!(
                stderr
                    .iter()
                    .any(|l| l.contains("unsupported machine type")),
                "{stderr:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("exited with status 1 before the greeting; its last output:"),
        "{text}"
    );
}

/// A real migration (to a pipe that discards it) waited to `completed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_of_a_real_qemu_is_waited_to_its_end() {
    let Some((_qemu, client)) = common::qemu_on_socket(&["-S"]).await else {
        return;
    };
    common::assert_migration_completes(
        &client,
        "exec:cat > /dev/null",
        std::time::Duration::from_secs(30),
    )
    .await;
}

/// A real block job (a backup between two null-co nodes) waited to its
/// end and dismissed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_real_qemu_is_waited_to_its_end() {
    let Some((_qemu, client)) = common::qemu_on_socket(&[]).await else {
        return;
    };
    for name in ["src", "dst"] {
        common::add_null_node(&client, name).await;
    }
    let mut backup = qmp_client::Map::new();
    backup.insert("job-id", "j0");
    backup.insert("device", "src");
    backup.insert("target", "dst");
    backup.insert("sync", "full");
    backup.insert("auto-dismiss", false);
    let outcome = client
        .run_job(
            "blockdev-backup",
            backup,
            "j0",
            std::time::Duration::from_secs(30),
        )
        .await
        .expect("the job concludes");
    assert_eq!(outcome.job_type.as_deref(), Some("backup"));
    common::assert_no_jobs(&client).await;
}

/// TLS to a real QEMU monitor (`tls-creds-x509` on a TCP chardev), the
/// server verified against the test CA; a client that trusts another CA is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_real_qemu_monitor() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let certs = qmp_test_support::temp_dir();
    let Some(()) = qmp_test_support::tls_certificates(certs.path()) else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = qmp_test_support::qemu_command(&qemu)
        .arg("-object")
        .arg(format!(
            "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=off",
            certs.path().display()
        ))
        .arg("-chardev")
        .arg(format!(
            "socket,id=mon0,host=127.0.0.1,port={port},server=on,wait=off,tls-creds=tls0"
        ))
        .args(["-mon", "chardev=mon0,mode=control"])
        .spawn()
        .expect("spawn QEMU");
    let _qemu = qmp_test_support::TestProcess::adopt(child);
    let address = format!("127.0.0.1:{port}");
    let tls = qmp_client::TlsOptions::with_ca(certs.path().join("ca-cert.pem"));
    let client = qmp_client::Client::builder()
        .ready_within(std::time::Duration::from_secs(20))
        .connect_tls(&address, &tls)
        .await
        .expect("TLS connect");
    scenarios::query_version(&client).await;
    drop(client);
    // Trusting only the server's own certificate as a CA is not enough.
    let wrong = qmp_client::TlsOptions::with_ca(certs.path().join("server-cert.pem"));
    let err = qmp_client::Client::builder()
        .connect_tls(&address, &wrong)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
}
