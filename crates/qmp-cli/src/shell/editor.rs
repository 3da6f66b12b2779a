//! The line editor's helper: rustyline asks it for completions (from the
//! schema in QMP mode, from HMP's `help` in HMP mode); hints, highlighting
//! and validation are rustyline's defaults (none).

use std::sync::Arc;

use qapi_schema::introspect::SchemaInfo;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::completion::{complete, complete_first_word, Completion};

/// Where completions come from.
pub enum Source {
    /// A QMP schema.
    Schema(Arc<SchemaInfo>),
    /// HMP command names.
    Words(Vec<String>),
    /// Nothing to complete from.
    Nothing,
}

/// The shell's rustyline helper.
pub struct ShellHelper {
    /// Where completions come from.
    pub source: Source,
    /// True inside a multi-line `transaction(` block (set before each line).
    pub in_transaction: bool,
}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = line.get(..pos).unwrap_or(line);
        let Completion { start, candidates } = match &self.source {
            Source::Schema(schema) => complete(schema, before, self.in_transaction),
            Source::Words(words) => complete_first_word(words.iter().map(String::as_str), before),
            Source::Nothing => Completion::default(),
        };
        Ok((start, candidates))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}
