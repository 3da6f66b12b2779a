//! `qmp fake-qemu` and `qmp fake-qga`: the simulator behind QEMU's and
//! qemu-ga's command lines.

use std::process::ExitCode;

use anyhow::{anyhow, Context};
use qmp_sim::cmdline::QemuCommandLine;
use qmp_sim::qga;
use qmp_sim::standin::{self, NoParent, Readiness};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs the QEMU stand-in until `quit`, a host signal or the guest's
/// shutdown. As QEMU, it exits 1 when it cannot start, with the reason on
/// stderr (the parent's, with `-daemonize`).
pub fn fake_qemu(args: &[String]) -> anyhow::Result<ExitCode> {
    let line = match QemuCommandLine::parse(args) {
        Ok(line) => line,
        Err(error) => return Ok(cannot_start(&error.to_string())),
    };
    let mut readiness: Box<dyn Readiness> = Box::new(NoParent);
    let daemonized = line.daemonize;
    if daemonized {
        let (status, child) = standin::daemonize().map_err(|e| anyhow!("{e}"))?;
        if let Some(status) = status {
            return Ok(ExitCode::from(u8::try_from(status).unwrap_or(1)));
        }
        readiness = Box::new(child);
    }
    let ending = runtime()?.block_on(async {
        match standin::prepare(line) {
            Ok(prepared) => standin::serve(prepared, &mut *readiness).await,
            Err(error) => {
                readiness.failed(&error);
                Err(error)
            }
        }
    });
    match ending {
        Ok(ending) => {
            report(ending);
            Ok(ExitCode::SUCCESS)
        }
        // A daemonized child told its parent, which prints it.
        Err(_) if daemonized => Ok(ExitCode::from(1)),
        Err(error) => Ok(cannot_start(&error.to_string())),
    }
}

/// QEMU's way out when it cannot start: the reason, exit status 1.
fn cannot_start(reason: &str) -> ExitCode {
    eprintln!("qmp: {reason}");
    ExitCode::from(1)
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
