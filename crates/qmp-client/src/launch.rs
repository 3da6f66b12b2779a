//! Launching QEMU as a child with its monitor on a socketpair (no socket
//! file), and accepting a QEMU that connects in (QEMU's `server=off`).

use std::ffi::OsString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener, UnixStream};

use crate::child::ChildGuard;
use crate::connect::establish;
use crate::transport::Transport;
use crate::{Client, ClientConfig, Error, Result};

/// Builds a QEMU command line and launches it with a QMP monitor on one end
/// of a socketpair (`-chardev socket,id=ID,fd=N -mon chardev=ID,mode=control`).
/// The child is killed and reaped when the client goes away.
#[derive(Clone, Debug)]
pub struct QemuLauncher {
    program: PathBuf,
    args: Vec<OsString>,
    quiet: bool,
}

/// The chardev id the launcher gives the monitor.
pub const MONITOR_CHARDEV_ID: &str = "qmp-rs-monitor";

impl QemuLauncher {
    /// A launcher for `program` (for example `qemu-system-x86_64`).
    pub fn new(program: impl AsRef<Path>) -> QemuLauncher {
        QemuLauncher {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            quiet: false,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> QemuLauncher {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> QemuLauncher
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Discards the child's standard error (by default it is passed on to
    /// ours, and its last lines go into the error should QEMU die).
    pub fn quiet(mut self) -> QemuLauncher {
        self.quiet = true;
        self
    }

    /// Starts QEMU and connects to its monitor (see
    /// [`ClientBuilder::launch`](crate::ClientBuilder::launch)).
    pub(crate) async fn spawn(&self, config: ClientConfig) -> Result<Client> {
        let launch_error = |e: std::io::Error| Error::Launch {
            program: self.program.display().to_string(),
            source: Arc::new(e),
        };
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(launch_error)?;
        let child_fd = theirs.as_raw_fd();
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .arg("-chardev")
            .arg(format!("socket,id={MONITOR_CHARDEV_ID},fd={child_fd}"))
            .arg("-mon")
            .arg(format!("chardev={MONITOR_CHARDEV_ID},mode=control"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // Passed on to ours by the guard, which keeps the last lines for
        // the error should QEMU die.
        command.stderr(if self.quiet {
            Stdio::null()
        } else {
            Stdio::piped()
        });
        // SAFETY: runs in the forked child before exec and only calls
        // fcntl, which is async-signal-safe. Clearing close-on-exec there
        // (not in the parent) keeps the descriptor out of any other child
        // spawned concurrently.
        unsafe {
            command.pre_exec(move || {
                let fd = BorrowedFd::borrow_raw(child_fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                Ok(())
            });
        }
        let program = self.program.display().to_string();
        let child = ChildGuard::new(command.spawn().map_err(launch_error)?, program);
        drop(theirs);
        ours.set_nonblocking(true).map_err(launch_error)?;
        let stream = UnixStream::from_std(ours).map_err(launch_error)?;
        establish(Transport::from_unix(stream), config, Some(child)).await
    }
}

/// A listening socket QEMU connects to (`-qmp unix:PATH,server=off` or
/// `-chardev socket,...,server=off`). A unix socket file is removed when
/// the listener is dropped.
#[derive(Debug)]
pub struct QmpListener {
    inner: Listener,
}

#[derive(Debug)]
enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

impl QmpListener {
    /// Listens on a unix socket at `path`.
    pub fn bind_unix(path: impl AsRef<Path>) -> Result<QmpListener> {
        let path = path.as_ref().to_owned();
        let listener = UnixListener::bind(&path)?;
        Ok(QmpListener {
            inner: Listener::Unix(listener, path),
        })
    }

    /// Listens on a TCP address.
    pub async fn bind_tcp(addr: impl tokio::net::ToSocketAddrs) -> Result<QmpListener> {
        Ok(QmpListener {
            inner: Listener::Tcp(TcpListener::bind(addr).await?),
        })
    }

    /// The TCP address listened on (for `bind_tcp` with port 0).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.inner {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// Waits up to `timeout` for QEMU to connect, then greets and
    /// negotiates (see [`ClientBuilder::accept`](crate::ClientBuilder::accept)).
    pub(crate) async fn accept_within(
        &self,
        config: ClientConfig,
        timeout: Duration,
    ) -> Result<Client> {
        let accepted = async {
            let transport = match &self.inner {
                Listener::Unix(l, _) => Transport::from_unix(l.accept().await?.0),
                Listener::Tcp(l) => Transport::from_tcp(l.accept().await?.0)?,
            };
            establish(transport, config, None).await
        };
        tokio::time::timeout(timeout, accepted)
            .await
            .map_err(|_| Error::timeout(timeout))?
    }
}

impl Drop for QmpListener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = &self.inner {
            let _ = std::fs::remove_file(path);
        }
    }
}
