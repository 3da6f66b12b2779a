//! The examples in `examples/`, run against the simulator (over TLS for
//! the TLS one) and the real qemu-ga, so that what they show keeps
//! working; and the generated bindings one example uses, checked against
//! a fresh generation.

// Each example is compiled whole, as `cargo run --example` builds it, and
// so each brings its own copy of the module the examples share.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/quickstart.rs"]
#[allow(dead_code)]
mod quickstart;

#[path = "../examples/blocking.rs"]
#[allow(dead_code)]
mod blocking;

#[path = "../examples/tls.rs"]
#[allow(dead_code)]
mod tls;

#[path = "../examples/generated.rs"]
#[allow(dead_code)]
mod generated;

#[path = "../examples/waiters.rs"]
#[allow(dead_code)]
mod waiters;

#[path = "../examples/guest_agent.rs"]
#[allow(dead_code)]
mod guest_agent;

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs() {
    let simulator = qmp_sim::Simulator::start().await.expect("simulator");
    assert_eq!(
        quickstart::run(simulator.socket()).await.unwrap(),
        "running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_runs() {
    let simulator = qmp_sim::Simulator::start().await.expect("simulator");
    let socket = simulator.socket().to_owned();
    let seen = tokio::task::spawn_blocking(move || blocking::run(&socket))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, ["STOP", "RESUME"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_runs() {
    let certs = qmp_test_support::temp_dir();
    let Some((_sim, address)) = common::simulator_over_tls(certs.path()).await else {
        return;
    };
    let ca = certs.path().join("ca-cert.pem");
    let version = tls::run(&address.to_string(), &ca).await.unwrap();
    assert!(version.starts_with("7.2."), "{version}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_runs() {
    let simulator = qmp_sim::Simulator::start().await.expect("simulator");
    let state = generated::run(simulator.socket()).await.unwrap();
    assert_eq!(state, generated::sim::RunState::Paused);
}

/// The checked-in bindings are what qapi-gen makes of the simulator's
/// schema today (regenerate with the command in `examples/generated.rs`).
#[test]
fn generated_bindings_are_current() {
    let root = qmp_test_support::workspace_root();
    let schema = "crates/qmp-sim/schema/sim-schema.json";
    let absolute = root.join(schema);
    let fresh = qapi_gen::Builder::new(&absolute)
        .server(false)
        .format(true)
        .emit_rerun_if_changed(false)
        .generate()
        .expect("generate")
        // The module names its schema as given: relative to the workspace.
        .replace(&absolute.display().to_string(), schema);
    let checked_in =
        std::fs::read_to_string(root.join("crates/qmp-client/examples/bindings/sim.rs"))
            .expect("read the bindings");
    assert!(
        fresh == checked_in,
        "examples/bindings/sim.rs is stale: regenerate it with the command in examples/generated.rs"
    );
}

/// What the waiters example waits for, in order.
const WAITED: [&str; 5] = [
    "STOP",
    "job job0",
    "device kbd0",
    "migration completed",
    "SHUTDOWN",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_runs() {
    let simulator = qmp_sim::Simulator::start().await.expect("simulator");
    let done = waiters::run(simulator.socket()).await.unwrap();
    assert_eq!(done, WAITED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_agent_runs() {
    let Some(program) = qmp_test_support::qemu_ga() else {
        return;
    };
    let agent = qmp_test_support::TestProcess::qga(&program).expect("start qemu-ga");
    // The agent may run as nobody: a scratch file in a world-writable folder.
    let dir = qmp_test_support::temp_dir();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let scratch = dir.path().join("example.txt");
    let printed = guest_agent::run(agent.socket(), scratch.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(printed, "hello from the guest\n");
    assert_eq!(std::fs::read_to_string(&scratch).unwrap(), printed);
}

/// The waiters example against a real QEMU (a PC with a USB controller,
/// whose keyboard unplugs without a guest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_runs_against_qemu() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let mut command = std::process::Command::new(qemu);
    command.args(qmp_test_support::QEMU_HEADLESS).args([
        "-M",
        "pc",
        "-accel",
        "tcg",
        "-device",
        "qemu-xhci",
    ]);
    let process = qmp_test_support::TestProcess::monitor(command).expect("start QEMU");
    let done = waiters::run(process.socket()).await.unwrap();
    assert_eq!(done, WAITED);
}
