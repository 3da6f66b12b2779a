//! Connecting to a peer that may not be ready yet (QEMU or the guest agent
//! still starting): try, and on an error that readiness would cure (no
//! socket yet, nothing listening, no greeting or sync reply yet) try again
//! with a fresh socket after a growing pause, until a deadline.

use std::future::Future;
use std::time::Duration;

use crate::{Error, Result};

/// The longest a single try waits for the greeting or the sync reply, so
/// that a try that found the peer busy does not hold its one-connection
/// backlog against the next.
pub const READY_TRY_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs `attempt` (given the time it may take) until it succeeds, fails for
/// a reason readiness would not cure, or `within` has passed.
pub(crate) async fn until_ready<T, F, Fut>(within: Duration, mut attempt: F) -> Result<T>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let error = match attempt(READY_TRY_TIMEOUT.min(left)).await {
            Ok(done) => return Ok(done),
            Err(error) => error,
        };
        if !not_ready_yet(&error) || tokio::time::Instant::now() + pause >= deadline {
            return Err(error);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Errors a peer that is still starting gives.
fn not_ready_yet(error: &Error) -> bool {
    match error {
        Error::Connect { cause, .. } => matches!(
            cause.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
        ),
        Error::Timeout { .. } | Error::Disconnected(_) => true,
        _ => false,
    }
}
