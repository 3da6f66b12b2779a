//! Events: a cloneable [`Emitter`] that anyone can use, QEMU's throttling,
//! and delivery to every session in command mode, in order.
//!
//! Throttling is QEMU's: a throttled event is sent at once and opens a
//! window (1 s); events like it (same name and, for some events, the same
//! value of one data member) that arrive inside the window are held back,
//! only the last one kept; when the window ends the kept event is sent with
//! its original timestamp and a new window opens; a window that ends with
//! nothing kept closes the state. Throttling is global, not per session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use qmp_wire::{Event, Map, Value};

use crate::session::SessionShared;

/// How one event is throttled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleRule {
    /// The event name.
    pub event: String,
    /// The `data` member whose value tells events apart (`None`: the name alone).
    pub key: Option<String>,
    /// A `data` member and value that exempt an event from throttling
    /// (`BLOCK_IO_ERROR` with `action: "stop"`).
    pub exempt_when: Option<(String, String)>,
}

/// Which events are throttled, and the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleTable {
    /// The window after a throttled event is sent.
    pub period: Duration,
    /// The throttled events.
    pub rules: Vec<ThrottleRule>,
}

fn rule(event: &str, key: Option<&str>) -> ThrottleRule {
    ThrottleRule {
        event: event.into(),
        key: key.map(Into::into),
        exempt_when: None,
    }
}

impl ThrottleTable {
    /// No throttling.
    pub fn none() -> ThrottleTable {
        ThrottleTable {
            period: Duration::from_secs(1),
            rules: Vec::new(),
        }
    }

    /// QEMU 7.2's table.
    pub fn qemu_7_2() -> ThrottleTable {
        ThrottleTable {
            period: Duration::from_secs(1),
            rules: vec![
                rule("RTC_CHANGE", None),
                rule("WATCHDOG", None),
                rule("BALLOON_CHANGE", None),
                rule("QUORUM_REPORT_BAD", Some("node-name")),
                rule("QUORUM_FAILURE", None),
                rule("VSERPORT_CHANGE", Some("id")),
                rule("MEMORY_DEVICE_SIZE_CHANGE", Some("qom-path")),
            ],
        }
    }

    /// QEMU 10.0's table (7.2's plus `HV_BALLOON_STATUS_REPORT` and
    /// `BLOCK_IO_ERROR`, the latter not throttled when its action is `stop`).
    pub fn qemu_10_0() -> ThrottleTable {
        let mut table = ThrottleTable::qemu_7_2();
        table.rules.push(rule("HV_BALLOON_STATUS_REPORT", None));
        table.rules.push(ThrottleRule {
            exempt_when: Some(("action".into(), "stop".into())),
            ..rule("BLOCK_IO_ERROR", Some("qom-path"))
        });
        table
    }

    /// The throttle key of `event`, or `None` when it is sent unthrottled.
    fn key_of(&self, event: &Event) -> Option<(String, Option<Value>)> {
        let rule = self.rules.iter().find(|r| r.event == event.name)?;
        let member = |name: &str| event.data.as_ref().and_then(|d| d.get(name));
        if let Some((name, value)) = &rule.exempt_when {
            if member(name).and_then(Value::as_str) == Some(value.as_str()) {
                return None;
            }
        }
        let discriminator = rule
            .key
            .as_deref()
            .map(|k| member(k).cloned().unwrap_or_default());
        Some((event.name.clone(), discriminator))
    }
}

/// A throttle window in progress: the event held back, if any.
struct Window {
    held: Option<Arc<Event>>,
}

type WindowKey = (String, Option<String>);

/// The event bus of one server.
pub(crate) struct EventBus {
    throttle: ThrottleTable,
    sessions: Mutex<Vec<Weak<SessionShared>>>,
    windows: Mutex<HashMap<WindowKey, Window>>,
    runtime: Option<tokio::runtime::Handle>,
}

impl EventBus {
    pub(crate) fn new(throttle: ThrottleTable) -> Arc<EventBus> {
        Arc::new(EventBus {
            throttle,
            sessions: Mutex::new(Vec::new()),
            windows: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::try_current().ok(),
        })
    }

    /// Starts delivering events to a session (once it is in command mode).
    pub(crate) fn subscribe(&self, session: &Arc<SessionShared>) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|s| s.strong_count() > 0);
            sessions.push(Arc::downgrade(session));
        }
    }

    /// Sends an event to every subscribed session, now.
    fn deliver(&self, event: &Event) {
        let value = event.to_value();
        let Ok(mut sessions) = self.sessions.lock() else {
            return;
        };
        sessions.retain(|weak| match weak.upgrade() {
            Some(session) => session.send_event(&value),
            None => false,
        });
    }

    /// Sends a pre-encoded event to every subscribed session, now.
    fn deliver_encoded(&self, event: &crate::EncodedJson) {
        let Ok(mut sessions) = self.sessions.lock() else {
            return;
        };
        sessions.retain(|weak| match weak.upgrade() {
            Some(session) => session.send_encoded_event(event),
            None => false,
        });
    }

    fn emit(self: &Arc<Self>, event: Event) {
        let Some((name, discriminator)) = self.throttle.key_of(&event) else {
            return self.deliver(&event);
        };
        let key = (name, discriminator.map(|v| v.to_string()));
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        if let Some(window) = windows.get_mut(&key) {
            window.held = Some(Arc::new(event));
            return;
        }
        self.deliver(&event);
        windows.insert(key.clone(), Window { held: None });
        drop(windows);
        let bus = Arc::clone(self);
        let period = self.throttle.period;
        let timer = async move {
            loop {
                tokio::time::sleep(period).await;
                let Ok(mut windows) = bus.windows.lock() else {
                    return;
                };
                match windows.get_mut(&key).and_then(|w| w.held.take()) {
                    Some(held) => {
                        drop(windows);
                        bus.deliver(&held);
                    }
                    None => {
                        windows.remove(&key);
                        return;
                    }
                }
            }
        };
        match tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| self.runtime.clone())
        {
            Some(runtime) => {
                runtime.spawn(timer);
            }
            None => {
                // No runtime to run the window on: forget the window, so
                // later events are not held back forever.
                if let Ok(mut windows) = self.windows.lock() {
                    windows.clear();
                }
            }
        }
    }
}

/// Emits events to every session of a server in command mode. Cheap to
/// clone; usable from any thread.
#[derive(Clone)]
pub struct Emitter {
    bus: Arc<EventBus>,
}

impl Emitter {
    pub(crate) fn new(bus: Arc<EventBus>) -> Emitter {
        Emitter { bus }
    }

    pub(crate) fn bus(&self) -> &Arc<EventBus> {
        &self.bus
    }

    /// Emits event `name` with `data`, stamped now.
    pub fn emit(&self, name: &str, data: Option<Map>) {
        self.emit_event(Event::new(name, data));
    }

    /// Emits a prepared event (its timestamp is kept).
    pub fn emit_event(&self, event: Event) {
        self.bus.emit(event);
    }

    /// Relays an event encoded elsewhere, byte for byte as `event` encodes
    /// it (to sessions with QEMU's compact layout; a `pretty` session gets
    /// it re-encoded), unthrottled: for a proxy passing on what its QEMU
    /// already throttled.
    pub fn relay_encoded(&self, event: &crate::EncodedJson) {
        self.bus.deliver_encoded(event);
    }
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter").finish_non_exhaustive()
    }
}
