//! The examples in `examples/`, run against the simulator, so that what
//! they show keeps working.

#[path = "../examples/quickstart.rs"]
#[allow(dead_code)]
mod quickstart;

#[path = "../examples/blocking.rs"]
#[allow(dead_code)]
mod blocking;

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
