//! What the examples share: the monitor they drive.

use std::future::Future;
use std::path::PathBuf;

/// Runs `run` on the QMP socket named on the command line, or else on the
/// built-in simulator (started for it, stopped after).
pub async fn socket_or_simulator<T, Fut>(
    run: impl FnOnce(PathBuf) -> Fut,
) -> Result<T, Box<dyn std::error::Error>>
where
    Fut: Future<Output = qmp_client::Result<T>>,
{
    match std::env::args_os().nth(1) {
        Some(socket) => Ok(run(socket.into()).await?),
        None => {
            let simulator = qmp_sim::Simulator::start().await?;
            Ok(run(simulator.socket().to_owned()).await?)
        }
    }
}
