//! `qmp schema fetch` (a server's `query-qmp-schema`) and `qmp schema diff`
//! (the API change report between two schemas or saved replies).

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use qapi_schema::introspect::{diff, ApiSource, ChangeKind, SchemaInfo};
use qmp_wire::{Encoder, Map, Value};

use crate::target::{runtime, TargetArgs};

/// `qmp schema` subcommands.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Fetch a server's query-qmp-schema reply and print it as JSON
    /// (`qmp schema dump` still works).
    #[command(
        alias = "dump",
        after_help = "Examples:
  qmp schema fetch /run/qemu/qmp.sock > qemu-schema.json
  qmp schema fetch --launch -- qemu-system-x86_64 -machine none"
    )]
    Fetch(FetchArgs),
    /// Report the API changes between two schemas: commands, events, types,
    /// members and enum values added, removed or changed, and items newly
    /// deprecated or unstable.
    #[command(
        after_help = "Each side is a QAPI schema (the root .json file) or a saved
query-qmp-schema reply. Saved replies mask type names, so their changes are
reported under the command or event that reaches them.

Examples:
  qmp schema diff qemu-7.2/qapi/qapi-schema.json qemu-10.0/qapi/qapi-schema.json
  qmp schema diff old-reply.json new-reply.json --json"
    )]
    Diff(DiffArgs),
}

/// `qmp schema fetch`
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The target: a socket path, tcp:HOST:PORT or sim.
    #[arg(value_name = "TARGET")]
    target_word: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// One line instead of QEMU's pretty layout.
    #[arg(long)]
    compact: bool,
}

/// `qmp schema diff`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older schema or saved reply.
    old: String,
    /// The newer schema or saved reply.
    new: String,
    /// Print the changes as a JSON list.
    #[arg(long)]
    json: bool,
}

/// Runs `qmp schema ...`.
pub fn run(command: SchemaCommand) -> anyhow::Result<ExitCode> {
    match command {
        SchemaCommand::Fetch(args) => fetch(args),
        SchemaCommand::Diff(args) => report(args),
    }
}

fn fetch(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let target = args.target.target(args.target_word.as_deref())?;
    runtime()?.block_on(async move {
        let connection = target.connect(args.target.client_config()).await?;
        let schema = connection.client.execute("query-qmp-schema", ()).await?;
        let encoder = Encoder::QGA.with_pretty(!args.compact);
        std::io::stdout().write_all(&encoder.message_bytes(&schema))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// One side of a diff: a saved reply, or a QAPI schema (see [`ApiSource`]).
fn load_side(path: &str) -> anyhow::Result<SchemaInfo> {
    Ok(ApiSource::Detect(path.into()).load()?.into_info())
}

fn report(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let old = load_side(&args.old)?;
    let new = load_side(&args.new)?;
    let changes = diff(&old, &new);
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<Value> = changes
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("change", c.kind.word());
                m.insert("what", c.what.as_str());
                if let Some(detail) = &c.detail {
                    m.insert("detail", detail.as_str());
                }
                Value::Object(m)
            })
            .collect();
        let encoder = Encoder::QGA.with_pretty(true);
        out.write_all(&encoder.message_bytes(&Value::Array(list)))?;
    } else {
        for change in &changes {
            writeln!(out, "{change}")?;
        }
        let count = |kind| changes.iter().filter(|c| c.kind == kind).count();
        writeln!(
            out,
            "{} changes: {} added, {} removed, {} changed, {} newly deprecated, {} newly unstable",
            changes.len(),
            count(ChangeKind::Added),
            count(ChangeKind::Removed),
            count(ChangeKind::Changed),
            count(ChangeKind::Deprecated),
            count(ChangeKind::Unstable)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
