//! A child process the client owns (a launched QEMU): killed and reaped
//! when the client goes, its standard error passed on and its last lines
//! kept, and its end described ("exited with status 1", "was killed by
//! signal 9 (SIGKILL)") for the errors of calls it took down.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the child's standard error kept for error messages.
const STDERR_LINES_KEPT: usize = 8;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Child,
    program: String,
    exited: Option<ExitStatus>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// The shared handle the client and its reader keep.
pub(crate) type SharedChild = Arc<Mutex<Option<ChildGuard>>>;

impl ChildGuard {
    /// Takes ownership of `child`, started from `program`. When its stderr
    /// was piped, a thread passes it on to ours and keeps the last lines.
    pub(crate) fn new(mut child: Child, program: String) -> ChildGuard {
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            let _ = std::thread::Builder::new()
                .name("qmp-child-stderr".into())
                .spawn(move || pass_on_stderr(stderr, &tail));
        }
        ChildGuard {
            child,
            program,
            exited: None,
            stderr_tail,
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the child has exited (reaping it).
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Waits up to `timeout` for the child to exit by itself.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Kills the child (if it still runs) and reaps it.
    pub(crate) fn kill_and_reap(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
        self.exited
    }

    /// The error for a child that ended with `status` before `when`.
    pub(crate) fn exited_error(&self, status: ExitStatus, when: &'static str) -> crate::Error {
        crate::Error::ChildExited {
            program: self.program.clone(),
            status,
            when,
            stderr: self.last_stderr(),
        }
    }

    /// The last lines the child wrote to its standard error.
    fn last_stderr(&self) -> Vec<String> {
        self.stderr_tail
            .lock()
            .map(|tail| tail.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Waits up to `timeout` for the shared child to end; describes how it did
/// when that was not a clean exit.
pub(crate) async fn abnormal_end(child: &SharedChild, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        // Some(how it ended, or None for a clean exit) once it has ended.
        let ended = {
            let mut guard = child.lock().ok()?;
            let child = guard.as_mut()?;
            child.try_status().map(|status| {
                (!status.success()).then(|| {
                    child
                        .exited_error(status, "the connection closed")
                        .to_string()
                })
            })
        };
        match ended {
            Some(end) => return end,
            None if Instant::now() >= deadline => return None,
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// How a process ended, in words.
pub(crate) fn describe_status(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => match signal_name(signal) {
            Some(name) => format!("was killed by signal {signal} ({name})"),
            None => format!("was killed by signal {signal}"),
        },
        (None, None) => format!("ended ({status})"),
    }
}

/// The usual name of a signal that ends processes.
fn signal_name(number: i32) -> Option<&'static str> {
    use rustix::process::Signal;
    let signal = Signal::from_named_raw(number)?;
    [
        (Signal::HUP, "SIGHUP"),
        (Signal::INT, "SIGINT"),
        (Signal::QUIT, "SIGQUIT"),
        (Signal::ILL, "SIGILL"),
        (Signal::ABORT, "SIGABRT"),
        (Signal::BUS, "SIGBUS"),
        (Signal::FPE, "SIGFPE"),
        (Signal::KILL, "SIGKILL"),
        (Signal::SEGV, "SIGSEGV"),
        (Signal::PIPE, "SIGPIPE"),
        (Signal::TERM, "SIGTERM"),
    ]
    .into_iter()
    .find_map(|(known, name)| (known == signal).then_some(name))
}

fn pass_on_stderr(stderr: std::process::ChildStderr, tail: &Mutex<VecDeque<String>>) {
    let mut lines = std::io::BufReader::new(stderr);
    let mut line = Vec::new();
    while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        let _ = std::io::stderr().write_all(&line);
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_LINES_KEPT {
                tail.pop_front();
            }
            tail.push_back(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        line.clear();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}
