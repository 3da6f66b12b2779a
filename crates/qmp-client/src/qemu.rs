//! Helpers that know QEMU's commands, kept out of the protocol client:
//! descriptors (`getfd`, `closefd`, `add-fd`), and the waiters (a job, a
//! migration, `device_del`, `quit`), each with a deadline.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::time::Duration;

use qmp_wire::{Event, Map, Value};

use crate::{Arguments, CallOptions, Client, Error, JobOutcome, Result};

/// QEMU's commands as one call each; `use qmp_client::QemuExt` to call
/// them on a [`Client`] (on the blocking facade through
/// [`BlockingClient::run`](crate::blocking::BlockingClient::run)).
pub trait QemuExt {
    /// Passes `fd` to QEMU under `fdname` (`getfd`).
    fn getfd(&self, fdname: &str, fd: OwnedFd) -> impl Future<Output = Result<()>> + Send;

    /// Closes a descriptor passed with [`getfd`](QemuExt::getfd) (`closefd`).
    fn closefd(&self, fdname: &str) -> impl Future<Output = Result<()>> + Send;

    /// Adds `fd` to an fd set (`add-fd`); returns QEMU's `AddfdInfo`
    /// (`{"fdset-id": N, "fd": M}`).
    fn add_fd(
        &self,
        fd: OwnedFd,
        fdset_id: Option<i64>,
        opaque: Option<&str>,
    ) -> impl Future<Output = Result<Value>> + Send;

    /// Sends `command` (which starts job `job_id`), then waits up to
    /// `within` for the job to conclude; dismisses it when it is not
    /// auto-dismissed. A job that failed is [`Error::JobFailed`].
    fn run_job(
        &self,
        command: &str,
        arguments: impl Into<Arguments> + Send,
        job_id: &str,
        within: Duration,
    ) -> impl Future<Output = Result<JobOutcome>> + Send;

    /// Sends `migrate` with `arguments`, then waits up to `within` for the
    /// migration to end; returns the final `query-migrate`. A migration
    /// that failed or was cancelled is [`Error::MigrationFailed`].
    fn migrate_and_wait(
        &self,
        arguments: impl Into<Arguments> + Send,
        within: Duration,
    ) -> impl Future<Output = Result<Value>> + Send;

    /// `device_del` of `id` (a device id or a QOM path), then waits up to
    /// `within` for the device to go: its `DEVICE_DELETED` event, or, in
    /// case that event was missed, `qom-list` of its path answering
    /// `DeviceNotFound` (checked every [`POLL_INTERVAL`](crate::POLL_INTERVAL)).
    /// Returns the event, or `None` when polling saw the device gone first.
    fn device_del(
        &self,
        id: &str,
        within: Duration,
    ) -> impl Future<Output = Result<Option<Event>>> + Send;

    /// `quit`, then its `SHUTDOWN` event, then the server closing the
    /// connection (and, for a launched QEMU, the process exiting), all
    /// within `within`. Returns the `SHUTDOWN` event.
    fn quit(&self, within: Duration) -> impl Future<Output = Result<Event>> + Send;
}

/// `{"fdname": NAME}`.
fn fdname(name: &str) -> Map {
    let mut args = Map::new();
    args.insert("fdname", name);
    args
}

impl QemuExt for Client {
    async fn getfd(&self, name: &str, fd: OwnedFd) -> Result<()> {
        self.execute_with("getfd", fdname(name), CallOptions::new().fd(fd))
            .await?;
        Ok(())
    }

    async fn closefd(&self, name: &str) -> Result<()> {
        self.execute("closefd", fdname(name)).await?;
        Ok(())
    }

    async fn add_fd(
        &self,
        fd: OwnedFd,
        fdset_id: Option<i64>,
        opaque: Option<&str>,
    ) -> Result<Value> {
        let mut args = Map::new();
        if let Some(id) = fdset_id {
            args.insert("fdset-id", id);
        }
        if let Some(opaque) = opaque {
            args.insert("opaque", opaque);
        }
        self.execute_with("add-fd", args, CallOptions::new().fd(fd))
            .await
    }

    async fn run_job(
        &self,
        command: &str,
        arguments: impl Into<Arguments> + Send,
        job_id: &str,
        within: Duration,
    ) -> Result<JobOutcome> {
        crate::waiters::run_job(self, command, arguments.into(), job_id, within).await
    }

    async fn migrate_and_wait(
        &self,
        arguments: impl Into<Arguments> + Send,
        within: Duration,
    ) -> Result<Value> {
        crate::waiters::migrate_and_wait(self, arguments.into(), within).await
    }

    async fn device_del(&self, id: &str, within: Duration) -> Result<Option<Event>> {
        crate::waiters::device_del(self, id, within).await
    }

    async fn quit(&self, within: Duration) -> Result<Event> {
        let mut shutdown = self.subscribe("SHUTDOWN");
        let steps = async {
            match self.execute("quit", ()).await {
                Ok(_) => {}
                // QEMU may close before the reply is read; the event says it quit.
                Err(Error::Disconnected(_)) => {}
                Err(e) => return Err(e),
            }
            let event = shutdown
                .next_event()
                .await
                .ok_or_else(|| Error::disconnected("closed without a SHUTDOWN event"))?;
            self.closed().await;
            Ok(event)
        };
        let event = tokio::time::timeout(within, steps)
            .await
            .map_err(|_| Error::timeout(within))??;
        if let Some(mut child) = self.take_child() {
            if child.wait_exit(within).await.is_none() {
                child.kill_and_reap();
                return Err(Error::timeout(within));
            }
        }
        Ok(event)
    }
}
