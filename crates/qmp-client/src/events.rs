//! Event subscriptions: filters, the fan-out to subscribers, and the
//! streams subscribers read.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use qmp_wire::{Event, EventData, Map, Value};
use tokio::sync::mpsc;

use crate::{Error, Result};

type Predicate = Arc<dyn Fn(&Event) -> bool + Send + Sync>;

/// Which events a subscriber wants: a set of names, a predicate, or both
/// (both must match). The default matches every event.
#[derive(Clone, Default)]
pub struct EventFilter {
    names: Option<HashSet<String>>,
    predicate: Option<Predicate>,
}

impl fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFilter")
            .field("names", &self.names)
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}

impl EventFilter {
    /// Every event.
    pub fn any() -> EventFilter {
        EventFilter::default()
    }

    /// Events with one of these names.
    pub fn names<I, S>(names: I) -> EventFilter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EventFilter {
            names: Some(names.into_iter().map(Into::into).collect()),
            predicate: None,
        }
    }

    /// Events with this name.
    pub fn name(name: impl Into<String>) -> EventFilter {
        EventFilter::names([name])
    }

    /// Events for which `predicate` holds.
    pub fn predicate(predicate: impl Fn(&Event) -> bool + Send + Sync + 'static) -> EventFilter {
        EventFilter {
            names: None,
            predicate: Some(Arc::new(predicate)),
        }
    }

    /// The same filter, further restricted by a predicate on the event's
    /// data (`{}` when the event has none).
    pub fn with_data(self, check: impl Fn(&Map) -> bool + Send + Sync + 'static) -> EventFilter {
        let before = self.predicate;
        let empty = Map::new();
        EventFilter {
            names: self.names,
            predicate: Some(Arc::new(move |event: &Event| {
                before.as_ref().is_none_or(|p| p(event))
                    && check(event.data.as_ref().unwrap_or(&empty))
            })),
        }
    }

    /// The same filter, further restricted to events whose data member
    /// `key` equals `value`.
    pub fn with_member(self, key: &str, value: impl Into<Value>) -> EventFilter {
        let key = key.to_owned();
        let value = value.into();
        self.with_data(move |data| data.get(&key) == Some(&value))
    }

    /// True when `event` passes the filter.
    pub fn matches(&self, event: &Event) -> bool {
        self.names.as_ref().is_none_or(|n| n.contains(&event.name))
            && self.predicate.as_ref().is_none_or(|p| p(event))
    }
}

impl From<&str> for EventFilter {
    fn from(name: &str) -> EventFilter {
        EventFilter::name(name)
    }
}

/// A callback the reader calls with each event as it is decoded, before
/// it reads anything after it: for a program that must keep events and
/// replies in the order the server sent them (a proxy relaying both).
/// It runs on the reader's task, so it must not block.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&Event) + Send + Sync>);

impl EventSink {
    /// A sink calling `f`.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> EventSink {
        EventSink(Arc::new(f))
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

struct Subscriber {
    filter: EventFilter,
    tx: mpsc::Sender<Event>,
    missed: Arc<AtomicU64>,
}

/// The fan-out: every subscriber whose filter matches gets its own copy.
pub(crate) struct EventBus {
    sink: std::sync::OnceLock<EventSink>,
    subscribers: Mutex<Vec<Subscriber>>,
    closed: std::sync::atomic::AtomicBool,
    buffer: usize,
}

impl EventBus {
    /// A bus buffering up to `buffer` events per subscriber.
    pub(crate) fn new(buffer: usize) -> EventBus {
        EventBus {
            sink: std::sync::OnceLock::new(),
            subscribers: Mutex::new(Vec::new()),
            closed: false.into(),
            buffer: buffer.max(1),
        }
    }

    /// A new subscription; already ended if the connection is closed.
    pub(crate) fn subscribe(&self, filter: EventFilter) -> EventStream {
        let (tx, rx) = mpsc::channel(self.buffer);
        let missed = Arc::new(AtomicU64::new(0));
        if let Ok(mut subs) = self.subscribers.lock() {
            if !self.closed.load(Ordering::Acquire) {
                subs.push(Subscriber {
                    filter,
                    tx,
                    missed: missed.clone(),
                });
            }
        }
        EventStream { rx, missed }
    }

    /// Sets the sink called with every event (once, before reading starts).
    pub(crate) fn attach_sink(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }

    /// Hands `event` to the sink and every matching subscriber; forgets
    /// subscribers that went away. A subscriber whose buffer is full misses
    /// the event.
    pub(crate) fn publish(&self, event: &Event) {
        if let Some(sink) = self.sink.get() {
            (sink.0)(event);
        }
        let Ok(mut subs) = self.subscribers.lock() else {
            return;
        };
        subs.retain(|sub| {
            if sub.tx.is_closed() {
                return false;
            }
            if sub.filter.matches(event) {
                if let Err(mpsc::error::TrySendError::Full(_)) = sub.tx.try_send(event.clone()) {
                    let missed = sub.missed.fetch_add(1, Ordering::Relaxed) + 1;
                    // A burst would log once per event: log the 1st, 2nd, 4th, ...
                    if missed.is_power_of_two() {
                        tracing::warn!(
                            event = %event.name,
                            missed,
                            "a subscriber's event buffer is full: events dropped for it"
                        );
                    }
                }
            }
            true
        });
    }

    /// Ends every subscription (the connection closed).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.clear();
        }
    }
}

/// A subscription: a `Stream` of the events that pass its filter, in
/// arrival order. It ends when the connection closes (after the events
/// that arrived before that).
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<Event>,
    missed: Arc<AtomicU64>,
}

impl EventStream {
    /// The next event, or `None` once the connection has closed.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event within `timeout`; an error on timeout or when the
    /// connection closes first.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Event> {
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(Error::disconnected(
                "connection closed while waiting for an event",
            )),
            Err(_) => Err(Error::timeout(timeout)),
        }
    }

    /// Events this subscriber missed because its buffer was full.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }

    /// The same subscription, with each event's data decoded as `E`.
    pub fn typed<E: EventData>(self) -> TypedEventStream<E> {
        TypedEventStream {
            inner: self,
            _marker: PhantomData,
        }
    }

    /// The next event if one is already buffered (never waits).
    pub fn try_next(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.poll_event(cx)
    }
}

/// A subscription yielding event data decoded as `E` (see
/// [`EventStream::typed`]); an item is an error when the data does not fit.
#[derive(Debug)]
pub struct TypedEventStream<E> {
    inner: EventStream,
    _marker: PhantomData<fn() -> E>,
}

impl<E: EventData> TypedEventStream<E> {
    /// The next event's data, or `None` once the connection has closed.
    pub async fn next_event(&mut self) -> Option<Result<E>> {
        let event = self.inner.next_event().await?;
        Some(decode_event::<E>(&event))
    }

    /// The next event's data within `timeout`; an error on timeout, when
    /// the connection closes first, or when the data does not fit `E`.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<E> {
        decode_event::<E>(&self.inner.next_timeout(timeout).await?)
    }

    /// Events this subscriber missed because its buffer was full.
    pub fn missed(&self) -> u64 {
        self.inner.missed()
    }
}

impl<E: EventData> Stream for TypedEventStream<E> {
    type Item = Result<E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<E>>> {
        self.inner
            .poll_event(cx)
            .map(|event| event.map(|e| decode_event::<E>(&e)))
    }
}

/// Decodes an event's data as `E` (absent data reads as `{}`).
pub fn decode_event<E: EventData>(event: &Event) -> Result<E> {
    if event.name != E::NAME {
        return Err(Error::Protocol(format!(
            "expected event {}, got {}",
            E::NAME,
            event.name
        )));
    }
    let data = Value::Object(event.data.clone().unwrap_or_default());
    crate::error::decode(data, || format!("the data of event {}", event.name))
}
