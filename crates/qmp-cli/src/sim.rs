//! `qmp fake-qemu` and `qmp fake-qga`: the simulator behind QEMU's and
//! qemu-ga's command lines.

use std::process::ExitCode;

use anyhow::{anyhow, Context};
use qmp_sim::{qemu, qga};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs the QEMU stand-in until `quit`.
pub fn fake_qemu(args: &[String]) -> anyhow::Result<ExitCode> {
    let options = qemu::FakeQemuOptions::parse(args)?;
    let ending = runtime()?
        .block_on(qemu::run_fake_qemu(options))
        .map_err(|e| anyhow!("{e}"))?;
    report(ending);
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr that a signal ended the stand-in, as QEMU does
/// ("terminating on signal 15").
pub fn report(ending: qmp_sim::ending::Ending) {
    if let qmp_sim::ending::Ending::Signal(number) = ending {
        eprintln!("qmp: terminating on signal {number}");
    }
}

/// Runs the guest agent stand-in until killed.
pub fn fake_qga(args: &[String]) -> anyhow::Result<ExitCode> {
    let options = qga::FakeQgaOptions::parse(args)?;
    runtime()?
        .block_on(qga::run_fake_qga(options))
        .map_err(|e| anyhow!("{e}"))?;
    Ok(ExitCode::SUCCESS)
}
