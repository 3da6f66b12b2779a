//! The examples in `examples/`, run against the simulator (over TLS for
//! the TLS one), so that what they show keeps working.

#[path = "../examples/quickstart.rs"]
#[allow(dead_code)]
mod quickstart;

#[path = "../examples/blocking.rs"]
#[allow(dead_code)]
mod blocking;

#[path = "../examples/tls.rs"]
#[allow(dead_code)]
mod tls;

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
