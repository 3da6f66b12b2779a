//! The loop when stdin is not a terminal (as Python's qmp-shell): read
//! lines, print replies; events are printed in the order they came, before
//! the reply that followed them, and at the end.

use std::io::{BufRead, Write};

use qmp_client::{EventFilter, EventStream};

use super::render::Renderer;
use super::session::{Flow, Session};

/// Runs the shell over stdin until its end or the connection closes.
pub fn run(mut session: Session, renderer: Renderer) -> anyhow::Result<()> {
    let mut events = session.client().subscribe(EventFilter::any());
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        let (out, flow) = session.handle(&line);
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(drain(&mut events, renderer).as_bytes())?;
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
        if flow == Flow::Quit {
            return Ok(());
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(drain(&mut events, renderer).as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// The events received so far, rendered.
fn drain(events: &mut EventStream, renderer: Renderer) -> String {
    let mut out = String::new();
    while let Some(event) = events.try_next() {
        out.push_str(&renderer.event(&event));
    }
    out
}
