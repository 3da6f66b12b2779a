//! The writer task: drains queued messages, batching those that are ready
//! into one write, and sends descriptors with the message they belong to.

use std::sync::{Arc, Weak};

use tokio::sync::mpsc;

use crate::session::{Outgoing, Shared};
use crate::transcript::{Direction, Transcript};
use crate::transport::WriteHalf;

/// Bytes gathered into one write at most.
const BATCH_BYTES: usize = 64 * 1024;

/// Runs until every sender is gone (the session was dropped) or a write
/// fails (then the session closes).
pub(crate) async fn run(
    mut half: WriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Weak<Shared>,
    transcript: Option<Arc<Transcript>>,
) {
    let mut batch = Vec::with_capacity(4096);
    let mut held: Option<Outgoing> = None;
    loop {
        let next = match held.take() {
            Some(message) => message,
            None => match rx.recv().await {
                Some(message) => message,
                None => break,
            },
        };
        log(&transcript, &next.bytes);
        let result = if next.fds.is_empty() {
            batch.clear();
            batch.extend_from_slice(&next.bytes);
            while batch.len() < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(more) if more.fds.is_empty() => {
                        log(&transcript, &more.bytes);
                        batch.extend_from_slice(&more.bytes);
                    }
                    Ok(more) => {
                        held = Some(more);
                        break;
                    }
                    Err(_) => break,
                }
            }
            half.write_all(&batch).await
        } else {
            half.write_with_fds(&next.bytes, &next.fds).await
        };
        if let Err(e) = result {
            tracing::debug!("write failed: {e}");
            if let Some(shared) = shared.upgrade() {
                shared.close(&format!("write failed: {e}"));
            }
            return;
        }
    }
    half.shutdown().await;
}

fn log(transcript: &Option<Arc<Transcript>>, bytes: &[u8]) {
    if let Some(t) = transcript {
        t.record(Direction::Out, bytes);
    }
}
