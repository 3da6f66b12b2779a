//! The loop when stdin is not a terminal (as Python's qmp-shell): read
//! lines, print replies; events are printed in the order they came, before
//! the reply that followed them, and at the end.

use std::io::BufRead;

use qmp_client::EventFilter;

use super::events::Events;
use super::render::Renderer;
use super::session::{Flow, Session};

/// Runs the shell over stdin until its end or the connection closes.
pub fn run(mut session: Session, renderer: Renderer) -> anyhow::Result<()> {
    let events = Events::new(session.client().subscribe(EventFilter::any()), renderer);
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        events.begin();
        let (out, flow) = session.handle(&line);
        events.finish(&out)?;
        if flow == Flow::Quit {
            return Ok(());
        }
    }
    events.finish("")?;
    Ok(())
}
