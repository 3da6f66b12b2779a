//! The reader task: decodes the server's messages and routes replies to
//! their callers and events to subscribers. A message over a decoder limit
//! (size, token count, nesting) is skipped to the end of its line (QEMU
//! ends every message with a line break and never puts a raw one inside)
//! and fails its call, with the limit it broke, when its id can be found at
//! the end of the line, where QEMU writes it. Input that is not JSON at all
//! closes the connection: QEMU never sends it, and the call it answered
//! could not be told, so it would otherwise wait forever.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use qmp_wire::io::BusyPoll;
use qmp_wire::{Decoded, Decoder, JsonError, ServerMessage};

use crate::session::Shared;
use crate::transcript::{MessageDirection, Transcript};
use crate::transport::ReadHalf;
use crate::Error;

/// How many bytes of an oversized line are kept to look for its id.
const TAIL_BYTES: usize = 64;

/// Everything the reader owns.
pub(crate) struct Reader {
    pub(crate) read: ReadHalf,
    pub(crate) decoder: Decoder,
    pub(crate) buf: BytesMut,
    pub(crate) transcript: Option<Arc<Transcript>>,
    /// How long a wait for the next message polls before parking.
    pub(crate) busy_poll: BusyPoll,
    /// The launched QEMU, if any: when the connection ends because it
    /// died, the reason says how.
    pub(crate) child: Option<crate::child::SharedChild>,
}

/// How long a reader whose connection ended waits for a launched QEMU to
/// be seen exiting, to say how it ended.
const CHILD_EXIT_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Why the reader stopped when the server closed the stream.
pub(crate) const END_OF_STREAM: &str = "the server closed the connection";

impl Reader {
    /// Reads until EOF or an error, then closes the session.
    pub(crate) async fn run(mut self, shared: Arc<Shared>) {
        let limit = self.decoder.limits().max_message_bytes;
        // While skipping the rest of a message over a limit: the bytes
        // before its end, and the limit it broke.
        let mut skipping: Option<(Vec<u8>, JsonError)> = None;
        let reason = 'read: loop {
            let mut delivered = false;
            loop {
                if let Some((tail, broken)) = skipping.as_mut() {
                    if !skip_line(&mut self.buf, tail) {
                        break;
                    }
                    self.decoder.reset();
                    over_limit(&shared, tail, broken, limit);
                    skipping = None;
                }
                let item = match self.decoder.next() {
                    Some(item) => item,
                    None if self.buf.is_empty() => break,
                    None => {
                        let used = self.decoder.feed_until_message(&self.buf);
                        self.buf.advance(used);
                        match self.decoder.next() {
                            Some(item) => item,
                            None => break,
                        }
                    }
                };
                match self.handle(&shared, item) {
                    Handled::Done => delivered = true,
                    Handled::OverLimit(broken) => {
                        skipping = Some((Vec::with_capacity(TAIL_BYTES), broken));
                    }
                    Handled::Invalid(error) => {
                        tracing::warn!("the server sent invalid JSON: {error}");
                        break 'read Some(format!(
                            "the server sent invalid JSON ({error}), so the connection was closed"
                        ));
                    }
                }
            }
            if delivered {
                // The callers and subscribers just handed their messages
                // go first: the next read most likely finds nothing, and
                // need not delay them.
                tokio::task::yield_now().await;
            }
            match self.busy_poll.wait(self.read.read_buf(&mut self.buf)).await {
                Ok(0) => break None,
                Ok(_) => {}
                Err(e) => break Some(format!("read failed: {e}")),
            }
        };
        // `None`: the stream ended, which is the server closing in good
        // order unless a launched QEMU died, which then explains the end.
        match (reason, self.child_end().await) {
            (None, None) => {
                tracing::debug!("reader stopped: {END_OF_STREAM}");
                shared.close_at_end();
            }
            (reason, end) => {
                let reason = reason.unwrap_or_else(|| END_OF_STREAM.to_owned());
                let reason = match end {
                    Some(end) => format!("{reason}: {end}"),
                    None => reason,
                };
                tracing::debug!("reader stopped: {reason}");
                shared.close(&reason);
            }
        }
    }

    /// How the launched QEMU ended, if it did so abnormally (the handle is
    /// cloned: the reader itself is not `Sync`, so it is not borrowed
    /// across the wait).
    fn child_end(&self) -> impl std::future::Future<Output = Option<String>> + Send + 'static {
        let child = self.child.clone();
        async move { crate::child::abnormal_end(&child?, CHILD_EXIT_WAIT).await }
    }

    /// Handles one decoded item.
    fn handle(&self, shared: &Shared, item: Decoded) -> Handled {
        let value = match item {
            Ok(value) => value,
            Err(e @ (JsonError::TokenSize | JsonError::TokenCount | JsonError::Nesting)) => {
                return Handled::OverLimit(e);
            }
            Err(e) => return Handled::Invalid(e),
        };
        if let Some(t) = &self.transcript {
            t.record(MessageDirection::Received, value.to_string().as_bytes());
        }
        match ServerMessage::from_value(value) {
            Ok(ServerMessage::Response(response)) => shared.route(response),
            Ok(ServerMessage::Event(event)) => shared.events.publish(&event),
            Ok(ServerMessage::Greeting(_)) => tracing::warn!("dropped a second greeting"),
            Err(e) => tracing::warn!("dropped: {e}"),
        }
        Handled::Done
    }
}

/// What became of one decoded item.
enum Handled {
    /// Routed, published or dropped with a warning.
    Done,
    /// Over a decoder limit: the rest of its line is to be skipped.
    OverLimit(JsonError),
    /// Not JSON.
    Invalid(JsonError),
}

/// Skips `buf` up to and including the next line feed, keeping the last
/// bytes before it in `tail`; returns true when the line feed was found.
pub(crate) fn skip_line(buf: &mut BytesMut, tail: &mut Vec<u8>) -> bool {
    let (end, found) = match buf.iter().position(|&b| b == b'\n') {
        Some(at) => (at, true),
        None => (buf.len(), false),
    };
    tail.extend_from_slice(buf.get(..end).unwrap_or_default());
    if tail.len() > TAIL_BYTES {
        tail.drain(..tail.len() - TAIL_BYTES);
    }
    buf.advance(if found { end + 1 } else { end });
    found
}

/// Fails the call whose reply over a limit ended with `tail`, if its id is
/// there, with the limit it broke; otherwise logs and drops.
fn over_limit(shared: &Shared, tail: &[u8], broken: &JsonError, size_limit: usize) {
    let error = match broken {
        JsonError::TokenSize => Error::ReplyTooLarge { limit: size_limit },
        other => Error::Protocol(format!("the reply was skipped: {other}")),
    };
    match trailing_id(tail) {
        Some(id) if shared.fail(id, error) => {
            tracing::warn!(id, "a reply over a limit was skipped: {broken}");
        }
        _ => tracing::warn!("a message over a limit was skipped: {broken}"),
    }
}

/// The integer id at the end of a reply line: `... "id": 42}` (QEMU's
/// member order puts `id` last in success replies).
fn trailing_id(tail: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(tail).ok()?.trim_end();
    let text = text.strip_suffix('}')?.trim_end();
    let digits_at = text.rfind(|c: char| !c.is_ascii_digit() && c != '-')? + 1;
    let id: i64 = text.get(digits_at..)?.parse().ok()?;
    let before = text
        .get(..digits_at)?
        .trim_end()
        .strip_suffix(':')?
        .trim_end();
    before.ends_with("\"id\"").then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_trailing_id() {
        assert_eq!(trailing_id(b"xxxx\"}, \"id\": 42}\r"), Some(42));
        assert_eq!(trailing_id(b"\"id\":7}"), Some(7));
        assert_eq!(trailing_id(b"\"idx\": 7}"), None);
        assert_eq!(trailing_id(b"\"id\": \"7\"}"), None);
        assert_eq!(trailing_id(b"garbage"), None);
    }

    #[test]
    fn skips_to_the_line_end() {
        let mut buf = BytesMut::from(&b"abc\"id\": 3}\r\n{next}"[..]);
        let mut tail = Vec::new();
        assert!(skip_line(&mut buf, &mut tail));
        assert_eq!(&buf[..], b"{next}");
        assert_eq!(trailing_id(&tail), Some(3));
        let mut buf = BytesMut::from(&b"no end"[..]);
        let mut tail = Vec::new();
        assert!(!skip_line(&mut buf, &mut tail));
        assert!(buf.is_empty());
    }
}
