//! Simulated outgoing migration: `migrate` advances over time through
//! setup, active (with `MIGRATION_PASS` events) and completed, stopping the
//! guest at the end as QEMU does; `query-migrate` reports the progress; the
//! out-of-band `migrate-pause` and `migrate-recover` give QEMU's state errors.

use std::time::{Duration, Instant};

use crate::shared::Shared;
use qmp_server::{CommandEntry, Emitter, Reply};
use qmp_wire::{Map, QmpError, Value};

use crate::machine::Machine;

/// How long one pass over guest RAM takes in the simulation.
pub const PASS_TIME: Duration = Duration::from_millis(100);
/// Passes before the migration completes.
pub const PASSES: i64 = 3;
/// Simulated guest RAM, bytes.
const RAM_BYTES: i64 = 128 << 20;

#[derive(Default)]
struct State {
    status: Option<&'static str>,
    transferred: i64,
    started: Option<Instant>,
    total_ms: Option<i64>,
}

/// The migration's state.
#[derive(Clone, Default)]
pub struct Migration {
    state: Shared<State>,
}

impl Migration {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.state.with(f)
    }

    /// The simulated migration commands.
    pub fn commands(&self, machine: &Machine) -> Vec<CommandEntry> {
        let migration = self.clone();
        let machine = machine.clone();
        let start = CommandEntry::new("migrate", move |call| {
            let migration = migration.clone();
            let machine = machine.clone();
            async move {
                let busy = migration.with(|s| matches!(s.status, Some("setup" | "active")));
                if busy {
                    return Err(QmpError::generic("There's a migration process in progress"));
                }
                migration.with(|s| {
                    *s = State {
                        status: Some("setup"),
                        started: Some(Instant::now()),
                        ..State::default()
                    }
                });
                status_event(&call.events, "setup");
                let events = call.events.clone();
                tokio::spawn(async move { migration.run(&machine, events).await });
                Ok(Reply::Value(Value::Object(Map::new())))
            }
        });
        let query = {
            let migration = self.clone();
            CommandEntry::new("query-migrate", move |_| {
                let info = migration.info();
                async move { Ok(Reply::Value(info)) }
            })
        };
        let pause = CommandEntry::new("migrate-pause", |_| async {
            Err(QmpError::generic(
                "migrate-pause is currently only supported during postcopy-active state",
            ))
        })
        .allow_oob(true);
        let recover = CommandEntry::new("migrate-recover", |_| async {
            Err(QmpError::generic(
                "Migrate recover can only be run when postcopy is paused.",
            ))
        })
        .allow_oob(true);
        vec![start, query, pause, recover]
    }

    async fn run(&self, machine: &Machine, events: Emitter) {
        tokio::time::sleep(PASS_TIME / 2).await;
        self.with(|s| s.status = Some("active"));
        status_event(&events, "active");
        for pass in 1..=PASSES {
            let mut data = Map::new();
            data.insert("pass", pass);
            events.emit("MIGRATION_PASS", Some(data));
            tokio::time::sleep(PASS_TIME).await;
            self.with(|s| s.transferred = RAM_BYTES * pass / PASSES);
        }
        machine.stop_for_migration(&events);
        self.with(|s| {
            s.status = Some("completed");
            s.total_ms = s
                .started
                .map(|t| i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX));
        });
        status_event(&events, "completed");
    }

    fn info(&self) -> Value {
        self.with(|s| {
            let mut info = Map::new();
            let Some(status) = s.status else {
                return Value::Object(info);
            };
            info.insert("status", status);
            if status != "setup" {
                let mut ram = Map::new();
                ram.insert("transferred", s.transferred);
                ram.insert("remaining", RAM_BYTES - s.transferred);
                ram.insert("total", RAM_BYTES);
                for zero in ["duplicate", "skipped"] {
                    ram.insert(zero, 0);
                }
                ram.insert("normal", s.transferred / 4096);
                ram.insert("normal-bytes", s.transferred);
                ram.insert("dirty-pages-rate", 0);
                ram.insert("mbps", 0.0);
                ram.insert("dirty-sync-count", 1);
                ram.insert("postcopy-requests", 0);
                ram.insert("page-size", 4096);
                for zero in [
                    "multifd-bytes",
                    "pages-per-second",
                    "downtime-bytes",
                    "postcopy-bytes",
                    "dirty-sync-missed-zero-copy",
                ] {
                    ram.insert(zero, 0);
                }
                ram.insert("precopy-bytes", s.transferred);
                info.insert("ram", Value::Object(ram));
            }
            let elapsed = s
                .started
                .map(|t| i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            info.insert("total-time", s.total_ms.unwrap_or(elapsed));
            info.insert("setup-time", 0);
            if let Some(total) = s.total_ms {
                info.insert("downtime", total.min(10));
            }
            Value::Object(info)
        })
    }
}

fn status_event(events: &Emitter, status: &str) {
    let mut data = Map::new();
    data.insert("status", status);
    events.emit("MIGRATION", Some(data));
}
