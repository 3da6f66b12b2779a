//! One shell session's behaviour for a line of input, whoever reads the
//! lines (the line editor or a pipe): parse, check against the schema, send,
//! and render the reply; QMP mode or HMP mode (`human-monitor-command`).

use std::io::Write;
use std::sync::Arc;

use qapi_schema::introspect::{SchemaInfo, ValidationError};
use qmp_client::{Client, Error as ClientError};
use qmp_wire::{ErrorClass, Map, QmpError, Value};
use tokio::runtime::Handle;

use super::help;
use super::render::Renderer;
use crate::input::{CommandLine, LineReader};

/// What the shell sends lines as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// qmp-shell's syntax, QMP commands.
    Qmp,
    /// Lines are HMP commands, sent through `human-monitor-command`.
    Hmp,
}

/// Whether to go on reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// The connection is gone: leave.
    Quit,
}

/// A connected shell.
pub struct Session {
    client: Client,
    handle: Handle,
    mode: Mode,
    schema: Option<Arc<SchemaInfo>>,
    reader: LineReader,
    renderer: Renderer,
    check: bool,
    verbose: bool,
    cpu_index: Option<i64>,
    log: Option<std::fs::File>,
}

/// Session settings from the command line.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// QMP or HMP.
    pub mode: Mode,
    /// Check input against the schema before sending.
    pub check: bool,
    /// Print each request before sending it.
    pub verbose: bool,
    /// Output layout and color.
    pub renderer: Renderer,
}

impl Session {
    /// A session over `client`; in QMP mode it loads the schema
    /// (`query-qmp-schema`) for checking and completion.
    pub fn new(client: Client, handle: Handle, options: Options) -> (Session, Option<String>) {
        let mut session = Session {
            client,
            handle,
            mode: options.mode,
            schema: None,
            reader: LineReader::default(),
            renderer: options.renderer,
            check: options.check,
            verbose: options.verbose,
            cpu_index: None,
            log: None,
        };
        let mut notice = None;
        if options.mode == Mode::Qmp {
            match session.load_schema() {
                Ok(schema) => session.schema = Some(Arc::new(schema)),
                Err(why) => {
                    notice = Some(session.renderer.notice(&format!(
                        "No schema ({why}): no completion, input is sent unchecked"
                    )))
                }
            }
        }
        (session, notice)
    }

    fn load_schema(&self) -> Result<SchemaInfo, String> {
        let value = self
            .run("query-qmp-schema", Map::new())
            .map_err(|e| e.to_string())?;
        SchemaInfo::from_value(&value).map_err(|e| e.to_string())
    }

    fn run(&self, command: &str, arguments: Map) -> Result<Value, ClientError> {
        self.handle
            .block_on(self.client.execute(command, arguments))
    }

    /// Logs every command sent from now on, with its reply, to `file`
    /// (qmp-shell's `-l`).
    pub fn log_to(&mut self, file: std::fs::File) {
        self.log = Some(file);
    }

    /// Appends a command and its reply to the log, if there is one.
    fn log(&self, command: &str, arguments: &Map, result: &Result<Value, QmpError>) {
        let Some(mut file) = self.log.as_ref() else {
            return;
        };
        let entry = self.renderer.log_entry(command, arguments, result);
        if let Err(e) = file.write_all(entry.as_bytes()) {
            eprintln!("qmp: cannot write the log file: {e}");
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The schema, when the server gave one.
    pub fn schema(&self) -> Option<Arc<SchemaInfo>> {
        self.schema.clone()
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// True inside a multi-line `transaction(` block.
    pub fn in_transaction(&self) -> bool {
        self.reader.in_transaction()
    }

    /// Drops a transaction block being typed (Ctrl-C).
    pub fn abandon(&mut self) {
        self.reader.abandon();
    }

    /// The prompt qmp-shell shows.
    pub fn prompt(&self) -> &'static str {
        if self.in_transaction() {
            "TRANS> "
        } else {
            "(QEMU) "
        }
    }

    /// The HMP command names (`help`'s first words), for completion.
    pub fn hmp_commands(&self) -> Vec<String> {
        let mut arguments = Map::new();
        arguments.insert("command-line", "help");
        let Ok(Value::String(text)) = self.run("human-monitor-command", arguments) else {
            return Vec::new();
        };
        let mut names: Vec<String> = text
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .flat_map(|word| word.split('|'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Handles one line: the text to print, and whether to go on.
    pub fn handle(&mut self, line: &str) -> (String, Flow) {
        match self.mode {
            Mode::Qmp => self.qmp_line(line),
            Mode::Hmp => self.hmp_line(line),
        }
    }

    fn qmp_line(&mut self, line: &str) -> (String, Flow) {
        if !self.in_transaction() {
            if let Some(out) = self.help(line) {
                return (out, Flow::Continue);
            }
        }
        let command = match self.reader.feed(line) {
            Ok(Some(command)) => command,
            Ok(None) => return (String::new(), Flow::Continue),
            Err(error) => {
                let text = format!(
                    "Error while parsing command line: {error}\n\
                     command format: <command-name> [arg-name1=arg1] ... [arg-nameN=argN]"
                );
                return (self.renderer.notice(&text), Flow::Continue);
            }
        };
        if let Some(refused) = self.refused(&command) {
            return (refused, Flow::Continue);
        }
        let mut out = String::new();
        if self.verbose {
            out.push_str(&self.renderer.request(&command.command, &command.arguments));
        }
        let (text, flow) = self.send(&command.command, command.arguments, |r, result| {
            r.reply(result)
        });
        out.push_str(&text);
        (out, flow)
    }

    /// `help` and `help COMMAND` (QMP has no command of that name).
    fn help(&self, line: &str) -> Option<String> {
        let mut words = line.split_whitespace();
        if words.next() != Some("help") {
            return None;
        }
        let text = match (words.next(), &self.schema) {
            (None, _) => help::SYNTAX.to_owned(),
            (Some(command), Some(schema)) => {
                crate::terminal::safe(&help::command_help(schema, command)).into_owned()
            }
            (Some(_), None) => "The server gave no schema to describe commands with".to_owned(),
        };
        Some(format!("{text}\n"))
    }

    /// The schema's objection to `command`, rendered, when it has one.
    fn refused(&self, command: &CommandLine) -> Option<String> {
        let schema = self.schema.as_ref().filter(|_| self.check)?;
        let error = schema
            .validate_command_arguments(&command.command, &command.arguments)
            .err()?;
        let class = match error {
            ValidationError::CommandNotFound(_) => ErrorClass::CommandNotFound,
            _ => ErrorClass::GenericError,
        };
        let text = format!("Not sent: {class}: {error}");
        Some(self.renderer.notice(&text))
    }

    /// Sends a command and renders the reply with `render`.
    fn send(
        &self,
        command: &str,
        arguments: Map,
        render: impl Fn(&Renderer, &Result<Value, QmpError>) -> String,
    ) -> (String, Flow) {
        // Kept for the log only when there is one.
        let logged = self.log.is_some().then(|| arguments.clone());
        let result = match self.run(command, arguments) {
            Ok(value) => Ok(value),
            Err(ClientError::Qmp(error)) => Err(error),
            Err(error) if error.is_disconnected() => {
                return ("Disconnected\n".to_owned(), Flow::Quit)
            }
            Err(error) => return (self.renderer.notice(&error.to_string()), Flow::Continue),
        };
        if let Some(arguments) = logged {
            self.log(command, &arguments, &result);
        }
        (render(&self.renderer, &result), Flow::Continue)
    }

    fn hmp_arguments(&self, line: &str, cpu_index: Option<i64>) -> Map {
        let mut arguments = Map::new();
        arguments.insert("command-line", line);
        if let Some(index) = cpu_index {
            arguments.insert("cpu-index", index);
        }
        arguments
    }

    fn hmp_line(&mut self, line: &str) -> (String, Flow) {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match words.next() {
            None => return (String::new(), Flow::Continue),
            // As qmp-shell: `cpu N` chooses the CPU for later commands.
            Some("cpu") => {
                let Some(index) = words.next().and_then(|w| w.parse::<i64>().ok()) else {
                    return (
                        "cpu command takes an integer argument\n".to_owned(),
                        Flow::Continue,
                    );
                };
                let probe = self.hmp_arguments("info version", Some(index));
                match self.run("human-monitor-command", probe) {
                    Ok(_) => self.cpu_index = Some(index),
                    Err(error) if error.is_disconnected() => {
                        return ("Disconnected\n".to_owned(), Flow::Quit)
                    }
                    Err(_) => return ("bad CPU index\n".to_owned(), Flow::Continue),
                }
            }
            Some(_) => {}
        }
        let arguments = self.hmp_arguments(line, self.cpu_index);
        self.send("human-monitor-command", arguments, |r, result| {
            r.hmp(result)
        })
    }
}
