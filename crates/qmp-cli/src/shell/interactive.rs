//! The interactive loop: rustyline reads lines with completion and
//! history; events arriving meanwhile are printed above the line being
//! typed (rustyline's external printer), without disturbing it.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use qmp_client::EventFilter;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter};

use super::editor::{ShellHelper, Source};
use super::events::Events;
use super::render::Renderer;
use super::session::{Flow, Mode, Session};

/// Entries kept in the history file.
const HISTORY_SIZE: usize = 1000;

/// Runs the shell on a terminal until Ctrl-D or the connection closes.
pub fn run(mut session: Session, renderer: Renderer, history: Option<&Path>) -> anyhow::Result<()> {
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
    let events = Events::new(session.client().subscribe(EventFilter::any()), renderer);
    match editor.create_external_printer() {
        Ok(mut printer) => events.spawn_printer(session.client().clone(), move |text| {
            let _ = printer.print(text);
        }),
        // stdout is not a terminal: whole events straight to it.
        Err(_) => events.spawn_printer(session.client().clone(), |text| {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }),
    }
    loop {
        if let Some(helper) = editor.helper_mut() {
            helper.in_transaction = session.in_transaction();
        }
        match editor.readline(session.prompt()) {
            // The printer said so; nothing more can be sent.
            Ok(_) if session.client().closed_reason().is_some() => break,
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                events.begin();
                let (out, flow) = session.handle(&line);
                events.finish(&out)?;
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
