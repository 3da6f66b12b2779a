//! Simulated block layer: nodes (`blockdev-add`, `blockdev-del`,
//! `query-named-block-nodes`) and block jobs (`block-stream`, `query-jobs`,
//! `job-cancel`, `job-dismiss`) that advance over time with QEMU's
//! `JOB_STATUS_CHANGE` events and QEMU's error texts.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::shared::Shared;
use qmp_server::{Call, CommandEntry, CommandResult, Emitter, Reply};
use qmp_wire::{Map, QmpError, Value};

use crate::machine::{ok_empty, sync_entry};

/// How long one step of a simulated job takes, and how many steps it has.
pub const JOB_STEP: Duration = Duration::from_millis(50);
/// Steps of a simulated job (its `total-progress`).
pub const JOB_STEPS: i64 = 20;

struct Node {
    driver: String,
    file: String,
    read_only: bool,
    size: i64,
}

struct Job {
    status: &'static str,
    device: String,
    progress: i64,
    speed: i64,
    auto_dismiss: bool,
    cancelled: bool,
}

#[derive(Default)]
struct State {
    nodes: BTreeMap<String, Node>,
    jobs: BTreeMap<String, Job>,
    anonymous: u64,
}

/// A node as `query-named-block-nodes` and `query-block` describe it.
fn node_info(name: &str, node: &Node) -> Value {
    let mut image = Map::new();
    image.insert("filename", node.file.as_str());
    image.insert("format", node.driver.as_str());
    image.insert("virtual-size", node.size);
    let mut cache = Map::new();
    cache.insert("writeback", true);
    cache.insert("direct", false);
    cache.insert("no-flush", false);
    let mut info = Map::new();
    info.insert("file", node.file.as_str());
    info.insert("node-name", name);
    info.insert("ro", node.read_only);
    info.insert("drv", node.driver.as_str());
    info.insert("backing_file_depth", 0);
    info.insert("encrypted", false);
    info.insert("detect_zeroes", "off");
    for limit in ["bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"] {
        info.insert(limit, 0);
    }
    info.insert("image", Value::Object(image));
    info.insert("write_threshold", 0);
    info.insert("cache", Value::Object(cache));
    Value::Object(info)
}

/// `query-blockstats` for devices `(qdev, node)`: nothing read or written.
pub fn attached_stats(drives: &[(String, String)]) -> Value {
    let list = drives
        .iter()
        .map(|(qdev, node)| {
            let mut info = Map::new();
            info.insert("device", "");
            info.insert("node-name", node.as_str());
            info.insert("qdev", qdev.as_str());
            info.insert("stats", idle_stats());
            Value::Object(info)
        })
        .collect();
    Value::Array(list)
}

/// QEMU 7.2's `BlockDeviceStats` of a device nothing has read or written.
fn idle_stats() -> Value {
    let mut stats = Map::new();
    for counter in [
        "rd_bytes",
        "wr_bytes",
        "unmap_bytes",
        "rd_operations",
        "wr_operations",
        "flush_operations",
        "unmap_operations",
        "rd_total_time_ns",
        "wr_total_time_ns",
        "flush_total_time_ns",
        "unmap_total_time_ns",
        "wr_highest_offset",
        "rd_merged",
        "wr_merged",
        "unmap_merged",
        "failed_rd_operations",
        "failed_wr_operations",
        "failed_flush_operations",
        "failed_unmap_operations",
        "invalid_rd_operations",
        "invalid_wr_operations",
        "invalid_flush_operations",
        "invalid_unmap_operations",
    ] {
        stats.insert(counter, 0);
    }
    stats.insert("account_invalid", true);
    stats.insert("account_failed", true);
    stats.insert("timed_stats", Value::Array(Vec::new()));
    Value::Object(stats)
}

/// The block layer's state.
#[derive(Clone, Default)]
pub struct Block {
    state: Shared<State>,
}

fn text<'a>(call: &'a Call, name: &str) -> Option<&'a str> {
    call.arguments.get(name).and_then(Value::as_str)
}

fn flag(call: &Call, name: &str, default: bool) -> bool {
    call.arguments
        .get(name)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

impl Block {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.state.with(f)
    }

    /// The simulated block commands.
    pub fn commands(&self) -> Vec<CommandEntry> {
        vec![
            self.blockdev_add(),
            sync_entry(self, "blockdev-del", |b, call| b.blockdev_del(&call)),
            sync_entry(self, "query-named-block-nodes", |b, _| {
                Ok(Reply::Value(b.named_nodes()))
            }),
            sync_entry(self, "block-stream", |b, call| b.block_stream(&call)),
            sync_entry(self, "block_resize", |b, call| b.block_resize(&call)),
            sync_entry(self, "query-jobs", |b, _| Ok(Reply::Value(b.jobs()))),
            sync_entry(self, "job-cancel", |b, call| b.job_cancel(&call)),
            sync_entry(self, "job-dismiss", |b, call| b.job_dismiss(&call)),
        ]
    }

    /// `blockdev-add`; a `blkdebug` node reads its `config` file in full
    /// first, as QEMU does (a FIFO blocks the main loop until its writer
    /// closes it, while out-of-band commands go on).
    fn blockdev_add(&self) -> CommandEntry {
        let block = self.clone();
        CommandEntry::new("blockdev-add", move |call| {
            let block = block.clone();
            async move {
                if text(&call, "driver") == Some("blkdebug") {
                    if let Some(config) = text(&call, "config") {
                        if let Err(e) = tokio::fs::read(config).await {
                            return Err(QmpError::generic(format!(
                                "Could not read blkdebug config file: {e}"
                            )));
                        }
                    }
                }
                block.add(&call.arguments)
            }
        })
    }

    /// Adds a node (`blockdev-add`, `-blockdev`) with `arguments`.
    pub fn add(&self, arguments: &Map) -> CommandResult {
        let text = |name: &str| arguments.get(name).and_then(Value::as_str);
        let driver = text("driver").unwrap_or_default().to_owned();
        let file = match arguments.get("file") {
            Some(Value::String(reference)) => reference.clone(),
            _ => text("filename").unwrap_or_default().to_owned(),
        };
        let size = arguments.get("size").and_then(Value::as_i64).unwrap_or(0);
        let read_only = match arguments.get("read-only") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "on" | "true" | "yes"),
            _ => false,
        };
        self.with(|s| {
            let name = match text("node-name") {
                Some(name) => name.to_owned(),
                None => {
                    s.anonymous += 1;
                    format!("#block{:03}", s.anonymous)
                }
            };
            if s.nodes.contains_key(&name) {
                return Err(QmpError::generic(format!(
                    "Duplicate nodes with node-name='{name}'"
                )));
            }
            s.nodes.insert(
                name,
                Node {
                    driver,
                    file,
                    read_only,
                    size,
                },
            );
            ok_empty()
        })
    }

    fn blockdev_del(&self, call: &Call) -> CommandResult {
        let name = text(call, "node-name").unwrap_or_default();
        self.with(|s| {
            if !s.nodes.contains_key(name) {
                return Err(QmpError::generic(format!(
                    "Failed to find node with node-name='{name}'"
                )));
            }
            if s.jobs.values().any(|j| j.device == name) {
                return Err(QmpError::generic(format!(
                    "Node '{name}' is busy: block device is in use by block job: stream"
                )));
            }
            s.nodes.remove(name);
            ok_empty()
        })
    }

    fn named_nodes(&self) -> Value {
        self.with(|s| {
            let list = s
                .nodes
                .iter()
                .map(|(name, node)| node_info(name, node))
                .collect();
            Value::Array(list)
        })
    }

    /// `query-block` for devices `(qdev, node)` (the device's QOM path as
    /// QEMU reports it, and the node it reads).
    pub fn attached(&self, drives: &[(String, String)]) -> Value {
        let list = drives
            .iter()
            .map(|(qdev, node)| {
                let mut info = Map::new();
                info.insert("io-status", "ok");
                info.insert("device", "");
                info.insert("locked", false);
                info.insert("removable", false);
                if let Some(inserted) = self.with(|s| s.nodes.get(node).map(|n| node_info(node, n)))
                {
                    info.insert("inserted", inserted);
                }
                info.insert("qdev", qdev.as_str());
                info.insert("type", "unknown");
                Value::Object(info)
            })
            .collect();
        Value::Array(list)
    }

    /// `block_resize {device | node-name, size}`: changes a node's size.
    fn block_resize(&self, call: &Call) -> CommandResult {
        let device = text(call, "device").unwrap_or_default();
        let node = text(call, "node-name").unwrap_or_default();
        let size = call
            .arguments
            .get("size")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        self.with(|s| {
            let name = if node.is_empty() { device } else { node };
            match s.nodes.get_mut(name) {
                Some(found) => {
                    found.size = size;
                    ok_empty()
                }
                None => Err(QmpError::generic(format!(
                    "Cannot find device='{device}' nor node-name='{node}'"
                ))),
            }
        })
    }

    fn block_stream(&self, call: &Call) -> CommandResult {
        let device = text(call, "device").unwrap_or_default().to_owned();
        let id = text(call, "job-id").unwrap_or(&device).to_owned();
        let job = Job {
            status: "created",
            device: device.clone(),
            progress: 0,
            speed: call
                .arguments
                .get("speed")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            auto_dismiss: flag(call, "auto-dismiss", true),
            cancelled: false,
        };
        self.with(|s| {
            if !s.nodes.contains_key(&device) {
                return Err(QmpError::generic(format!(
                    "Cannot find device='{device}' nor node-name='{device}'"
                )));
            }
            if s.jobs.contains_key(&id) {
                return Err(QmpError::generic(format!("Job ID '{id}' already in use")));
            }
            s.jobs.insert(id.clone(), job);
            Ok(())
        })?;
        status_change(&call.events, &id, "created");
        let block = self.clone();
        let events = call.events.clone();
        tokio::spawn(async move { block.run_job(id, events).await });
        ok_empty()
    }

    /// Moves job `id` to `status` and says so.
    fn transition(&self, events: &Emitter, id: &str, status: &'static str) {
        self.with(|s| {
            if let Some(job) = s.jobs.get_mut(id) {
                job.status = status;
            }
        });
        status_change(events, id, status);
    }

    async fn run_job(&self, id: String, events: Emitter) {
        tokio::time::sleep(JOB_STEP).await;
        self.transition(&events, &id, "running");
        loop {
            tokio::time::sleep(JOB_STEP).await;
            let step = self.with(|s| match s.jobs.get_mut(&id) {
                Some(job) if job.cancelled => Step::Cancelled,
                Some(job) => {
                    job.progress += 1;
                    if job.progress < JOB_STEPS {
                        Step::Working
                    } else {
                        Step::Done
                    }
                }
                None => Step::Gone,
            });
            match step {
                Step::Working => continue,
                Step::Done => return self.finish(&events, &id, false),
                Step::Cancelled => return self.finish(&events, &id, true),
                Step::Gone => return,
            }
        }
    }

    /// QEMU's ending of a job: waiting, pending, the completion (or
    /// cancellation) event, concluded, and null when auto-dismissed.
    fn finish(&self, events: &Emitter, id: &str, cancelled: bool) {
        let Some((progress, speed, auto_dismiss)) = self.with(|s| {
            s.jobs
                .get(id)
                .map(|j| (j.progress, j.speed, j.auto_dismiss))
        }) else {
            return;
        };
        if cancelled {
            self.transition(events, id, "aborting");
        } else {
            self.transition(events, id, "waiting");
            self.transition(events, id, "pending");
        }
        let mut data = Map::new();
        data.insert("type", "stream");
        data.insert("device", id);
        data.insert("len", JOB_STEPS);
        data.insert("offset", progress);
        data.insert("speed", speed);
        let name = if cancelled {
            "BLOCK_JOB_CANCELLED"
        } else {
            "BLOCK_JOB_COMPLETED"
        };
        events.emit(name, Some(data));
        self.transition(events, id, "concluded");
        if auto_dismiss {
            self.dismiss(events, id);
        }
    }

    fn dismiss(&self, events: &Emitter, id: &str) {
        self.with(|s| s.jobs.remove(id));
        status_change(events, id, "null");
    }

    fn jobs(&self) -> Value {
        self.with(|s| {
            Value::Array(
                s.jobs
                    .iter()
                    .map(|(id, job)| {
                        let mut info = Map::new();
                        info.insert("id", id.as_str());
                        info.insert("type", "stream");
                        info.insert("status", job.status);
                        info.insert("current-progress", job.progress);
                        info.insert("total-progress", JOB_STEPS);
                        Value::Object(info)
                    })
                    .collect(),
            )
        })
    }

    fn job_cancel(&self, call: &Call) -> CommandResult {
        let id = text(call, "id").unwrap_or_default();
        let status = self.with(|s| s.jobs.get(id).map(|j| j.status));
        match status {
            None => Err(QmpError::generic("Job not found")),
            Some("created" | "running") => {
                self.with(|s| {
                    if let Some(job) = s.jobs.get_mut(id) {
                        job.cancelled = true;
                    }
                });
                ok_empty()
            }
            Some(status) => Err(verb_refused(id, status, "cancel")),
        }
    }

    fn job_dismiss(&self, call: &Call) -> CommandResult {
        let id = text(call, "id").unwrap_or_default();
        match self.with(|s| s.jobs.get(id).map(|j| j.status)) {
            None => Err(QmpError::generic("Job not found")),
            Some("concluded") => {
                self.dismiss(&call.events, id);
                ok_empty()
            }
            Some(status) => Err(verb_refused(id, status, "dismiss")),
        }
    }
}

/// What one tick of a job found.
enum Step {
    Working,
    Done,
    Cancelled,
    Gone,
}

fn verb_refused(id: &str, status: &str, verb: &str) -> QmpError {
    QmpError::generic(format!(
        "Job '{id}' in state '{status}' cannot accept command verb '{verb}'"
    ))
}

fn status_change(events: &Emitter, id: &str, status: &str) {
    let mut data = Map::new();
    data.insert("id", id);
    data.insert("status", status);
    events.emit("JOB_STATUS_CHANGE", Some(data));
}
