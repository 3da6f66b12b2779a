//! Waiting for what finishes a command: a block job to its end, a
//! migration to its end. Each subscribes before it sends, follows the
//! event that reports progress, and also polls the matching query now and
//! then, so that an event missed (a full buffer, a reconnect) cannot leave
//! it waiting; each has a deadline.

use std::time::Duration;

use qmp_wire::{Map, Value};

use crate::{Arguments, Client, Error, EventFilter, EventStream, Result};

/// How often a waiter asks the server directly, in case an event was missed.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How a job ended.
#[derive(Clone, Debug, PartialEq)]
pub struct JobOutcome {
    /// The job's id.
    pub id: String,
    /// The job's type (`stream`, `backup`, ...), when the server said.
    pub job_type: Option<String>,
    /// The job's error, when it failed or was cancelled with one.
    pub error: Option<String>,
}

impl Client {
    /// Sends `command` (which starts job `job_id`), then waits up to
    /// `within` for the job to conclude; dismisses it when it is not
    /// auto-dismissed. A job that failed is [`Error::JobFailed`].
    pub async fn run_job(
        &self,
        command: &str,
        arguments: impl Into<Arguments>,
        job_id: &str,
        within: Duration,
    ) -> Result<JobOutcome> {
        let events =
            self.subscribe(EventFilter::name("JOB_STATUS_CHANGE").with_member("id", job_id));
        let mut follow = Follower::new(events, "a job");
        let work = async {
            self.execute(command, arguments).await?;
            loop {
                let concluded = match follow.next().await? {
                    Wake::Status(status) => {
                        status.is_some_and(|s| matches!(s.as_str(), "concluded" | "null"))
                    }
                    Wake::Poll => self
                        .job_status(job_id)
                        .await?
                        .is_none_or(|(status, _)| status == "concluded"),
                };
                if concluded {
                    return self.conclude_job(job_id).await;
                }
            }
        };
        deadline(&format!("job {job_id}"), within, work).await
    }

    /// The job's status and its `query-jobs` entry, or `None` when the
    /// server no longer lists it (auto-dismissed).
    async fn job_status(&self, job_id: &str) -> Result<Option<(String, Map)>> {
        let jobs = self.execute("query-jobs", ()).await?;
        let entry = jobs
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|job| match job {
                Value::Object(job) if job.get("id").and_then(Value::as_str) == Some(job_id) => {
                    Some(job.clone())
                }
                _ => None,
            });
        Ok(entry.map(|job| {
            let status = job
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (status, job)
        }))
    }

    /// Reads a concluded job's result and dismisses it.
    async fn conclude_job(&self, job_id: &str) -> Result<JobOutcome> {
        let entry = self.job_status(job_id).await?;
        let text = |job: &Map, key: &str| job.get(key).and_then(Value::as_str).map(str::to_owned);
        let outcome = JobOutcome {
            id: job_id.to_owned(),
            job_type: entry.as_ref().and_then(|(_, job)| text(job, "type")),
            error: entry.as_ref().and_then(|(_, job)| text(job, "error")),
        };
        if entry.is_some() {
            let mut args = Map::new();
            args.insert("id", job_id);
            self.execute("job-dismiss", args).await?;
        }
        match &outcome.error {
            Some(error) => Err(Error::JobFailed {
                id: job_id.to_owned(),
                error: error.clone(),
            }),
            None => Ok(outcome),
        }
    }

    /// Sends `migrate` with `arguments`, then waits up to `within` for the
    /// migration to end; returns the final `query-migrate`. A migration
    /// that failed or was cancelled is [`Error::MigrationFailed`].
    pub async fn migrate_and_wait(
        &self,
        arguments: impl Into<Arguments>,
        within: Duration,
    ) -> Result<Value> {
        let mut follow = Follower::new(self.subscribe("MIGRATION"), "a migration");
        let work = async {
            self.execute("migrate", arguments).await?;
            loop {
                let check = match follow.next().await? {
                    Wake::Status(status) => status.as_deref().is_some_and(migration_ended),
                    Wake::Poll => true,
                };
                if !check {
                    continue;
                }
                let info = self.execute("query-migrate", ()).await?;
                let status = info
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match status {
                    "completed" => return Ok(info),
                    status if migration_ended(status) => {
                        return Err(Error::MigrationFailed {
                            status: status.to_owned(),
                            info,
                        })
                    }
                    _ => {}
                }
            }
        };
        deadline("migration", within, work).await
    }
}

/// What woke a waiter.
enum Wake {
    /// An event came, with this `status` in its data.
    Status(Option<String>),
    /// [`POLL_INTERVAL`] passed: time to ask the server directly.
    Poll,
}

/// A waiter's events, and its polling clock.
struct Follower {
    events: EventStream,
    tick: tokio::time::Interval,
    what: &'static str,
}

impl Follower {
    /// Follows `events` while waiting for `what`.
    fn new(events: EventStream, what: &'static str) -> Follower {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.reset();
        Follower { events, tick, what }
    }

    /// The next event's status, or a poll.
    async fn next(&mut self) -> Result<Wake> {
        tokio::select! {
            event = self.events.next_event() => match event {
                Some(event) => Ok(Wake::Status(
                    event
                        .data
                        .as_ref()
                        .and_then(|d| d.get("status"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )),
                None => Err(Error::disconnected(format!(
                    "connection closed while waiting for {}",
                    self.what
                ))),
            },
            _ = self.tick.tick() => Ok(Wake::Poll),
        }
    }
}

/// `work` within `within`; a timeout names `what`.
async fn deadline<T>(
    what: &str,
    within: Duration,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(within, work)
        .await
        .unwrap_or_else(|_| Err(Error::reply_timeout(what, within)))
}

/// The statuses a migration does not leave by itself.
fn migration_ended(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}
