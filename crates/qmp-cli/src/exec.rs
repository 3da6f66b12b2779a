//! `qmp exec` (one command, its result as JSON) and `qmp events` (events as
//! JSON lines).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use futures_util::StreamExt;
use qmp_client::{ClientConfig, Error as ClientError, EventFilter};
use qmp_wire::{Encoder, Value};

use crate::input::{add_pairs, parse_line, CommandLine};
use crate::target::{reply_deadline, runtime, seconds, TargetArgs};

/// Exit code for a QMP error reply.
pub const EXIT_QMP_ERROR: u8 = 1;

/// `qmp exec`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp exec /run/qemu/qmp.sock query-status
  qmp exec /run/qemu/qmp.sock blockdev-add driver=null-co node-name=n0 size=1048576
  qmp exec tcp:127.0.0.1:4444 '{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine\", \"property\": \"type\"}}'
  qmp exec --sim query-version
  qmp exec --launch query-kvm -- qemu-system-x86_64 -machine none

Exit status: 0 on success, 1 when the server answers with an error (class and
text on stderr), 2 for bad usage or input, when the server cannot be reached,
or when it does not answer within --timeout.")]
pub struct ExecArgs {
    /// TARGET (socket path, tcp:HOST:PORT or sim; omitted with --tcp,
    /// --launch or --sim), then COMMAND and its arguments as key=value
    /// pairs or one JSON object.
    #[arg(required = true, value_name = "[TARGET] COMMAND [ARGS]")]
    words: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Print on one line instead of QEMU's pretty layout.
    #[arg(long)]
    compact: bool,
    /// Send with exec-oob.
    #[arg(long)]
    oob: bool,
    /// Seconds to wait for the reply (0: as long as the connection lives).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds)]
    timeout: Duration,
}

/// Splits the positional words into the target word and the command line.
fn split_target<'a>(target: &TargetArgs, words: &'a [String]) -> (Option<&'a str>, &'a [String]) {
    if target.chosen_by_flag() {
        (None, words)
    } else {
        match words.split_first() {
            Some((first, rest)) => (Some(first.as_str()), rest),
            None => (None, words),
        }
    }
}

/// The command line of `qmp exec`: `COMMAND key=value...`, `COMMAND JSON`,
/// or a whole JSON request.
fn command_line(words: &[String]) -> anyhow::Result<CommandLine> {
    let Some((command, rest)) = words.split_first() else {
        bail!("give a COMMAND to execute");
    };
    if command.trim_start().starts_with('{') && rest.is_empty() {
        return Ok(parse_line(command)?);
    }
    if command.starts_with("transaction(") {
        let line = shlex::try_join(words.iter().map(String::as_str))
            .context("the transaction's words cannot be quoted")?;
        return Ok(parse_line(&line)?);
    }
    let mut arguments = qmp_wire::Map::new();
    match rest {
        [json] if json.trim_start().starts_with('{') => {
            let value = qmp_wire::from_str(json).context("arguments are not valid JSON")?;
            match value {
                Value::Object(map) => arguments = map,
                _ => bail!("arguments must be a JSON object"),
            }
        }
        pairs => add_pairs(&mut arguments, pairs.iter().map(String::as_str))?,
    }
    Ok(CommandLine {
        command: command.clone(),
        arguments,
    })
}

/// The JSON layout for output: QEMU's pretty layout or one line, LF endings.
pub(crate) fn encoder(compact: bool) -> Encoder {
    Encoder::QGA.with_pretty(!compact)
}

/// Runs `qmp exec`.
pub fn exec(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let (target_word, rest) = split_target(&args.target, &args.words);
    let target = args.target.target(target_word)?;
    let line = command_line(rest)?;
    let config = ClientConfig {
        call_timeout: reply_deadline(args.timeout),
        ..args.target.client_config()
    };
    runtime()?.block_on(async move {
        let connection = target.connect(config).await?;
        let client = &connection.client;
        let result = if args.oob {
            let options = qmp_client::CallOptions::new().out_of_band();
            client
                .execute_with(&line.command, line.arguments, options)
                .await
        } else {
            client.execute(&line.command, line.arguments).await
        };
        match result {
            Ok(value) => {
                let mut out = Vec::new();
                encoder(args.compact).write_message(&value, &mut out);
                std::io::stdout().write_all(&out)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(ClientError::Qmp(error)) => {
                eprintln!("{}: {}", error.class, crate::terminal::safe(&error.desc));
                Ok(ExitCode::from(EXIT_QMP_ERROR))
            }
            Err(error @ ClientError::Timeout { .. }) => {
                bail!("{error} from {target} (see --timeout)")
            }
            Err(other) => Err(other.into()),
        }
    })
}

/// `qmp events`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp events /run/qemu/qmp.sock
  qmp events /run/qemu/qmp.sock --name STOP --name RESUME --count 1 --timeout 30

Prints each event as one JSON line. Events that arrive faster than they can
be printed are buffered; any that overflow the buffer are dropped, and each
time that happens the count is reported on stderr.

Exit status: 0 when --count events arrived or the connection closed or
--timeout passed without --count; 1 when --timeout passed before --count
events arrived; 2 for bad usage or when the server cannot be reached; 3 when
events were missed (unless --ignore-missed).")]
pub struct EventsArgs {
    /// The target: a socket path, tcp:HOST:PORT or sim.
    #[arg(value_name = "TARGET")]
    target_word: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Only events with this name (repeat for several).
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    timeout: Option<Duration>,
    /// Exit 0 even when events were missed, and do not report them.
    #[arg(long)]
    ignore_missed: bool,
}

/// Exit code of `qmp events` when events were missed.
pub const EXIT_EVENTS_MISSED: u8 = 3;

/// Events `qmp events` buffers while its output is being written.
const EVENTS_BUFFER: usize = 1 << 16;

/// Runs `qmp events`.
pub fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let target = args.target.target(args.target_word.as_deref())?;
    let filter = if args.names.is_empty() {
        EventFilter::any()
    } else {
        EventFilter::names(args.names.clone())
    };
    let config = ClientConfig {
        event_buffer: EVENTS_BUFFER,
        // Subscribed before negotiation: events sent the moment it
        // completes are printed too.
        early_events: Some(filter),
        ..args.target.client_config()
    };
    runtime()?.block_on(async move {
        let connection = target.connect(config).await?;
        let mut stream = connection
            .client
            .take_early_events()
            .context("the client made no early subscription")?;
        let deadline = args.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut printer = EventPrinter::new(args.ignore_missed);
        let enough = |printed: usize| args.count.is_some_and(|c| printed >= c);
        let ended = loop {
            if enough(printer.printed) {
                break ExitCode::SUCCESS;
            }
            let next = match deadline {
                Some(at) => match tokio::time::timeout_at(at, stream.next()).await {
                    Ok(next) => next,
                    Err(_) if args.count.is_some() => break ExitCode::FAILURE,
                    Err(_) => break ExitCode::SUCCESS,
                },
                None => stream.next().await,
            };
            let Some(event) = next else {
                break ExitCode::SUCCESS;
            };
            printer.print(&event, stream.missed())?;
            // Write out what is already here before flushing once.
            while !enough(printer.printed) {
                let Some(event) = stream.try_next() else {
                    break;
                };
                printer.print(&event, stream.missed())?;
            }
            printer.flush()?;
        };
        printer.note_missed(stream.missed());
        printer.flush()?;
        let client = &connection.client;
        if let Some(reason) = client.closed_reason().filter(|_| !client.ended_by_server()) {
            bail!("the connection to {target} failed: {reason}");
        }
        Ok(match printer.missed {
            0 => ended,
            _ if args.ignore_missed => ended,
            missed => {
                eprintln!("qmp: {missed} events were missed in all");
                ExitCode::from(EXIT_EVENTS_MISSED)
            }
        })
    })
}

/// `qmp events`' output: events as JSON lines, and where events were
/// missed, a note on stderr.
struct EventPrinter {
    out: std::io::BufWriter<std::io::Stdout>,
    encoder: Encoder,
    line: Vec<u8>,
    printed: usize,
    /// Missed events reported so far.
    missed: u64,
    /// When missed events were last reported.
    noted: Option<std::time::Instant>,
    quiet: bool,
}

/// The least time between two reports of missed events.
const MISSED_NOTE_INTERVAL: Duration = Duration::from_secs(1);

impl EventPrinter {
    fn new(quiet: bool) -> EventPrinter {
        EventPrinter {
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            encoder: encoder(true),
            line: Vec::with_capacity(256),
            printed: 0,
            missed: 0,
            noted: None,
            quiet,
        }
    }

    /// Prints `event`, after a note if more were missed before it (at
    /// most one note per [`MISSED_NOTE_INTERVAL`]).
    fn print(&mut self, event: &qmp_client::Event, missed_so_far: u64) -> std::io::Result<()> {
        if self
            .noted
            .is_none_or(|at| at.elapsed() >= MISSED_NOTE_INTERVAL)
        {
            self.note_missed(missed_so_far);
        }
        self.line.clear();
        self.encoder
            .write_message(&event.to_value(), &mut self.line);
        self.out.write_all(&self.line)?;
        self.printed += 1;
        Ok(())
    }

    /// Reports events missed since the last report.
    fn note_missed(&mut self, missed_so_far: u64) {
        if missed_so_far > self.missed {
            self.noted = Some(std::time::Instant::now());
            let _ = self.out.flush();
            if !self.quiet {
                eprintln!(
                    "qmp: {} events missed: they came faster than they could be printed \
                     (buffer of {EVENTS_BUFFER})",
                    missed_so_far - self.missed
                );
            }
            self.missed = missed_so_far;
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
