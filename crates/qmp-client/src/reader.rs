//! The reader task: decodes the server's messages and routes replies to
//! their callers and events to subscribers. A message over the size limit
//! is skipped to the end of its line (QEMU ends every message with a line
//! break and never puts a raw one inside) and fails its call when its id
//! can be found at the end of the line, where QEMU writes it.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use qmp_wire::io::BusyPoll;
use qmp_wire::{Decoded, Decoder, JsonError, ServerMessage};

use crate::session::Shared;
use crate::transcript::{Direction, Transcript};
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
}

impl Reader {
    /// Reads until EOF or an error, then closes the session.
    pub(crate) async fn run(mut self, shared: Arc<Shared>) {
        let limit = self.decoder.limits().max_message_bytes;
        // Some(tail) while skipping the rest of an oversized message.
        let mut skipping: Option<Vec<u8>> = None;
        let reason = loop {
            loop {
                if let Some(tail) = skipping.as_mut() {
                    if !skip_line(&mut self.buf, tail) {
                        break;
                    }
                    self.decoder.reset();
                    oversized(&shared, tail, limit);
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
                if self.handle(&shared, item) {
                    skipping = Some(Vec::with_capacity(TAIL_BYTES));
                }
            }
            match self.busy_poll.wait(self.read.read_buf(&mut self.buf)).await {
                Ok(0) => break "the server closed the connection".to_owned(),
                Ok(_) => {}
                Err(e) => break format!("read failed: {e}"),
            }
        };
        tracing::debug!("reader stopped: {reason}");
        shared.close(&reason);
    }

    /// Handles one decoded item; returns true when it was over a limit and
    /// the rest of its line must be skipped.
    fn handle(&self, shared: &Shared, item: Decoded) -> bool {
        let value = match item {
            Ok(value) => value,
            Err(JsonError::TokenSize | JsonError::TokenCount | JsonError::Nesting) => {
                return true;
            }
            Err(e) => {
                tracing::warn!("the server sent invalid JSON (dropped): {e}");
                return false;
            }
        };
        if let Some(t) = &self.transcript {
            t.record(Direction::In, value.to_string().as_bytes());
        }
        match ServerMessage::from_value(value) {
            Ok(ServerMessage::Response(response)) => shared.route(response),
            Ok(ServerMessage::Event(event)) => shared.events.publish(&event),
            Ok(ServerMessage::Greeting(_)) => tracing::warn!("dropped a second greeting"),
            Err(e) => tracing::warn!("dropped: {e}"),
        }
        false
    }
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

/// Fails the call whose oversized reply ended with `tail`, if its id is
/// there; otherwise logs and drops.
fn oversized(shared: &Shared, tail: &[u8], limit: usize) {
    match trailing_id(tail) {
        Some(id) if shared.fail(id, Error::ReplyTooLarge { limit }) => {
            tracing::warn!(id, limit, "a reply over the size limit was skipped");
        }
        _ => tracing::warn!(limit, "a message over the size limit was skipped"),
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
