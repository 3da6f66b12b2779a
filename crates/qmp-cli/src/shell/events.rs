//! Events while the shell runs, in the order they came: while a command is
//! in flight they are held back and written just before its reply; the rest
//! of the time a printer thread shows them as they arrive (above the line
//! being typed, through rustyline's external printer).

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use qmp_client::{Client, EventStream};

use super::render::Renderer;

/// How often the printer thread looks for events.
const POLL: Duration = Duration::from_millis(40);

/// The subscription, shared by the reading loop and the printer thread.
#[derive(Clone)]
pub struct Events {
    state: Arc<Mutex<State>>,
    renderer: Renderer,
}

struct State {
    stream: EventStream,
    /// A command is in flight: its reply is written with the events.
    busy: bool,
}

impl State {
    fn drain(&mut self, renderer: Renderer) -> String {
        let mut out = String::new();
        while let Some(event) = self.stream.try_next() {
            out.push_str(&renderer.event(&event));
        }
        out
    }
}

impl Events {
    /// Events from `stream`, rendered with `renderer`.
    pub fn new(stream: EventStream, renderer: Renderer) -> Events {
        Events {
            state: Arc::new(Mutex::new(State {
                stream,
                busy: false,
            })),
            renderer,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A command goes out: the printer thread holds back until [`Events::finish`].
    pub fn begin(&self) {
        self.lock().busy = true;
    }

    /// Writes the events received so far, then `out`, to stdout; the
    /// printer thread goes on.
    pub fn finish(&self, out: &str) -> std::io::Result<()> {
        let mut state = self.lock();
        let events = state.drain(self.renderer);
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(events.as_bytes())?;
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
        state.busy = false;
        Ok(())
    }

    /// Shows events with `print` as they arrive while no command is in
    /// flight, from a thread of its own, then that `client`'s connection
    /// closed, if it does.
    pub fn spawn_printer(&self, client: Client, mut print: impl FnMut(String) + Send + 'static) {
        let events = self.clone();
        std::thread::spawn(move || loop {
            let text = {
                let mut state = events.lock();
                match state.busy {
                    true => String::new(),
                    false => state.drain(events.renderer),
                }
            };
            // Printed without the lock: rustyline's printer may wait for
            // the editor.
            if !text.is_empty() {
                print(text);
            } else if let Some(reason) = client.closed_reason() {
                print(events.renderer.notice(&format!("Disconnected: {reason}")));
                return;
            }
            std::thread::sleep(POLL);
        });
    }
}
