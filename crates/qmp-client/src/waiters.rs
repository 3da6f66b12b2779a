//! Waiting for what finishes a command: a block job to its end, a
//! migration to its end, a device to go after `device_del`. Each
//! subscribes before it sends, follows the event that reports progress,
//! and also polls the matching query now and then, so that an event
//! missed (a full buffer, a reconnect) cannot leave it waiting; each has a
//! deadline. Called through [`QemuExt`](crate::QemuExt).

use std::time::Duration;

use qmp_wire::{ErrorClass, Event, Map, Value};

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

/// See [`QemuExt::run_job`](crate::QemuExt::run_job).
pub(crate) async fn run_job(
    client: &Client,
    command: &str,
    arguments: Arguments,
    job_id: &str,
    within: Duration,
) -> Result<JobOutcome> {
    let events = client.subscribe(EventFilter::name("JOB_STATUS_CHANGE").with_member("id", job_id));
    let mut follow = Follower::new(events, "a job");
    let work = async {
        client.execute(command, arguments).await?;
        loop {
            let concluded = match follow.next().await? {
                Wake::Event(event) => {
                    status_of(&event).is_some_and(|s| matches!(s, "concluded" | "null"))
                }
                Wake::Poll => job_status(client, job_id)
                    .await?
                    .is_none_or(|(status, _)| status == "concluded"),
            };
            if concluded {
                return conclude_job(client, job_id).await;
            }
        }
    };
    deadline(&format!("job {job_id}"), within, work).await
}

/// The job's status and its `query-jobs` entry, or `None` when the
/// server no longer lists it (auto-dismissed).
async fn job_status(client: &Client, job_id: &str) -> Result<Option<(String, Map)>> {
    let jobs = client.execute("query-jobs", ()).await?;
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
async fn conclude_job(client: &Client, job_id: &str) -> Result<JobOutcome> {
    let entry = job_status(client, job_id).await?;
    let text = |job: &Map, key: &str| job.get(key).and_then(Value::as_str).map(str::to_owned);
    let outcome = JobOutcome {
        id: job_id.to_owned(),
        job_type: entry.as_ref().and_then(|(_, job)| text(job, "type")),
        error: entry.as_ref().and_then(|(_, job)| text(job, "error")),
    };
    if entry.is_some() {
        let mut args = Map::new();
        args.insert("id", job_id);
        client.execute("job-dismiss", args).await?;
    }
    match &outcome.error {
        Some(error) => Err(Error::JobFailed {
            id: job_id.to_owned(),
            error: error.clone(),
        }),
        None => Ok(outcome),
    }
}

/// See [`QemuExt::migrate_and_wait`](crate::QemuExt::migrate_and_wait).
pub(crate) async fn migrate_and_wait(
    client: &Client,
    arguments: Arguments,
    within: Duration,
) -> Result<Value> {
    let mut follow = Follower::new(client.subscribe("MIGRATION"), "a migration");
    let work = async {
        client.execute("migrate", arguments).await?;
        loop {
            let check = match follow.next().await? {
                Wake::Event(event) => status_of(&event).is_some_and(migration_ended),
                Wake::Poll => true,
            };
            if !check {
                continue;
            }
            let info = client.execute("query-migrate", ()).await?;
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

/// The QOM container of devices added with an id.
const PERIPHERAL: &str = "/machine/peripheral/";

/// See [`QemuExt::device_del`](crate::QemuExt::device_del).
pub(crate) async fn device_del(
    client: &Client,
    id: &str,
    within: Duration,
) -> Result<Option<Event>> {
    // `device_del` takes an id or a QOM path; DEVICE_DELETED carries the
    // id as `device` (when the device has one) and the path as `path`.
    let (member, path) = match id.starts_with('/') {
        true => ("path", id.to_owned()),
        false => ("device", format!("{PERIPHERAL}{id}")),
    };
    let events = client.subscribe(EventFilter::name("DEVICE_DELETED").with_member(member, id));
    let mut follow = Follower::new(events, "a device to be deleted");
    let work = async {
        let mut args = Map::new();
        args.insert("id", id);
        client.execute("device_del", args).await?;
        loop {
            match follow.next().await? {
                Wake::Event(event) => return Ok(Some(event)),
                Wake::Poll => {
                    if device_gone(client, &path).await? {
                        return Ok(None);
                    }
                }
            }
        }
    };
    deadline("device_del", within, work).await
}

/// True when nothing is at QOM path `path` any more (`qom-list` answers
/// `DeviceNotFound`).
async fn device_gone(client: &Client, path: &str) -> Result<bool> {
    let mut args = Map::new();
    args.insert("path", path);
    match client.execute("qom-list", args).await {
        Ok(_) => Ok(false),
        Err(Error::Qmp(e)) if e.class == ErrorClass::DeviceNotFound => Ok(true),
        Err(e) => Err(e),
    }
}

/// What woke a waiter.
enum Wake {
    /// An event came.
    Event(Event),
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

    /// The next event, or a poll.
    async fn next(&mut self) -> Result<Wake> {
        tokio::select! {
            event = self.events.next_event() => match event {
                Some(event) => Ok(Wake::Event(event)),
                None => Err(Error::disconnected(format!(
                    "connection closed while waiting for {}",
                    self.what
                ))),
            },
            _ = self.tick.tick() => Ok(Wake::Poll),
        }
    }
}

/// The `status` member of an event's data.
fn status_of(event: &Event) -> Option<&str> {
    event.data.as_ref()?.get("status")?.as_str()
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
