//! The interactive loop: rustyline reads lines with completion and
//! history, and events are printed above the line being typed as they
//! arrive (rustyline's external printer), without disturbing it.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use futures_util::StreamExt;
use qmp_client::{EventFilter, EventStream};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter};
use tokio::runtime::Handle;

use super::editor::{ShellHelper, Source};
use super::render::Renderer;
use super::session::{Flow, Mode, Session};

/// Entries kept in the history file.
const HISTORY_SIZE: usize = 1000;

/// Runs the shell on a terminal until Ctrl-D or the connection closes.
pub fn run(
    mut session: Session,
    handle: Handle,
    renderer: Renderer,
    history: Option<&Path>,
) -> anyhow::Result<()> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .history_ignore_space(true)
        .max_history_size(HISTORY_SIZE)
        .context("history size")?
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> =
        Editor::with_config(config).context("cannot start the line editor")?;
    let source = match (session.mode(), session.schema()) {
        (Mode::Qmp, Some(schema)) => Source::Schema(schema),
        (Mode::Qmp, None) => Source::Nothing,
        (Mode::Hmp, _) => Source::Words(session.hmp_commands()),
    };
    editor.set_helper(Some(ShellHelper {
        source,
        in_transaction: false,
    }));
    if let Some(path) = history {
        // A missing history file is a first session.
        let _ = editor.load_history(path);
    }
    let events = session.client().subscribe(EventFilter::any());
    match editor.create_external_printer() {
        Ok(mut printer) => print_events(events, handle, renderer, move |text| {
            let _ = printer.print(text);
        }),
        // stdout is not a terminal: whole events straight to it.
        Err(_) => print_events(events, handle, renderer, |text| {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }),
    }
    loop {
        if let Some(helper) = editor.helper_mut() {
            helper.in_transaction = session.in_transaction();
        }
        match editor.readline(session.prompt()) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let (out, flow) = session.handle(&line);
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(out.as_bytes())?;
                stdout.flush()?;
                if flow == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => session.abandon(),
            Err(ReadlineError::Eof) => {
                println!();
                break;
            }
            Err(error) => return Err(error).context("cannot read the terminal"),
        }
    }
    if let Some(path) = history {
        save_history(&mut editor, path);
    }
    Ok(())
}

/// Appends this session's lines to the history file, creating its folder.
fn save_history(editor: &mut Editor<ShellHelper, DefaultHistory>, path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(error) = editor.append_history(path) {
        eprintln!(
            "qmp: cannot save the history to {}: {error}",
            path.display()
        );
    }
}

/// Prints every event with `print`, from a thread of its own, until the
/// connection closes.
fn print_events(
    mut events: EventStream,
    handle: Handle,
    renderer: Renderer,
    mut print: impl FnMut(String) + Send + 'static,
) {
    std::thread::spawn(move || {
        while let Some(event) = handle.block_on(events.next()) {
            print(renderer.event(&event));
        }
    });
}
