//! `qmp schema fetch` (a server's `query-qmp-schema`) and `qmp schema diff`
//! (the API change report between two schemas or saved replies).

use std::io::Write;
use std::process::ExitCode;

use std::path::Path;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use qapi_schema::introspect::{diff, query, ApiSource, ChangeKind, Compat, SchemaInfo};
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

Each change is classified for clients, breaking ones first: breaking (a
command, event, argument, enum value or branch a client could send removed;
an argument added as or made mandatory; a type changed; a member a client
receives removed or made optional; out-of-band use withdrawn), compatible,
or a type renamed (type names are not on the wire; the renamed type's
contents are compared too). --breaking prints only the breaking changes and
exits 1 when there is one, 0 otherwise.

Examples:
  qmp schema diff qemu-7.2/qapi/qapi-schema.json qemu-10.0/qapi/qapi-schema.json
  qmp schema diff old-reply.json new-reply.json --json
  qmp schema diff --breaking old-reply.json new-reply.json || echo breaks clients"
    )]
    Diff(DiffArgs),
    /// Answer schema paths in libvirt's syntax: does the server, saved
    /// reply or schema have this command, member, branch, enum value or
    /// feature?
    #[command(
        after_help = "TARGET is a saved query-qmp-schema reply or a QAPI schema (an existing
file), or a server: a socket path, unix:PATH, tcp:HOST:PORT or sim; with
--tcp, --launch or --sim every word is a PATH.

PATH: COMMAND-OR-EVENT/arg-type|ret-type/MEMBER/... with *MEMBER (an optional
member), +CASE (a union branch), ^VALUE (an enum value, may be followed by
$FEATURE), !JSON-TYPE (a built-in's JSON type), $FEATURE (a feature of the
command, event or object); a leading space escapes a name.

Prints 'yes PATH' or 'no PATH' for each. Exit status: 0 when every PATH
exists, 1 when one does not, 2 for a malformed PATH or an unreachable or
unreadable TARGET.

Examples:
  qmp schema query /run/qemu/qmp.sock blockdev-add/arg-type/+file/aio/^io_uring
  qmp schema query reply.json query-machines/ret-type/deprecated 'migrate/$deprecated'
  qmp schema query qemu-10.0/qapi/qapi-schema.json BLOCK_JOB_COMPLETED/arg-type/error"
    )]
    Query(QueryArgs),
}

/// `qmp schema query`
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// TARGET (unless a flag chose it), then one or more paths.
    #[arg(value_name = "TARGET PATH", required = true, num_args = 1..)]
    words: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
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
    /// Print only the breaking changes, and exit 1 when there is one.
    #[arg(long)]
    breaking: bool,
}

/// Runs `qmp schema ...`.
pub fn run(command: SchemaCommand) -> anyhow::Result<ExitCode> {
    match command {
        SchemaCommand::Fetch(args) => fetch(args),
        SchemaCommand::Diff(args) => report(args),
        SchemaCommand::Query(args) => query(args),
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

/// The API of `word`: an existing file is a saved reply or a schema
/// ([`ApiSource::Detect`]); anything else (or a target flag) names a
/// server, whose `query-qmp-schema` is asked.
pub fn target_info(word: Option<&str>, args: &TargetArgs) -> anyhow::Result<SchemaInfo> {
    if let Some(file) = word.filter(|w| !args.chosen_by_flag() && Path::new(w).is_file()) {
        return load_side(file);
    }
    let target = args.target(word)?;
    let config = args.client_config();
    runtime()?.block_on(async move {
        let connection = target.connect(config).await?;
        let reply = connection.client.execute("query-qmp-schema", ()).await?;
        SchemaInfo::from_value(&reply)
            .with_context(|| format!("{target} sent a query-qmp-schema reply that does not read"))
    })
}

fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let (word, paths) = match args.words.split_first() {
        Some((first, rest)) if !args.target.chosen_by_flag() => (Some(first.as_str()), rest),
        _ => (None, args.words.as_slice()),
    };
    if paths.is_empty() {
        bail!("give a TARGET and at least one PATH");
    }
    // A malformed path is refused before the target is reached.
    for path in paths {
        query::check(path)?;
    }
    let info = target_info(word, &args.target)?;
    let mut out = std::io::stdout().lock();
    let mut all = true;
    for path in paths {
        let found = info.query(path)?;
        all &= found;
        writeln!(out, "{} {path}", if found { "yes" } else { "no" })?;
    }
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One side of a diff: a saved reply, or a QAPI schema (see [`ApiSource`]).
fn load_side(path: &str) -> anyhow::Result<SchemaInfo> {
    Ok(ApiSource::Detect(path.into()).load()?.into_info())
}

fn report(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let old = load_side(&args.old)?;
    let new = load_side(&args.new)?;
    let mut changes = diff(&old, &new);
    let breaking = changes.iter().any(|c| c.compat == Compat::Breaking);
    if args.breaking {
        changes.retain(|c| c.compat == Compat::Breaking);
    }
    // Grouped by class, worst first; in found order within a class.
    changes.sort_by_key(|c| c.compat);
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<Value> = changes
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("change", c.kind.word());
                m.insert("class", c.compat.word());
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
        let mut class = None;
        for change in &changes {
            if class != Some(change.compat) {
                class = Some(change.compat);
                writeln!(out, "{}", class_heading(change.compat))?;
            }
            writeln!(out, "{change}")?;
        }
        let count = |kind| changes.iter().filter(|c| c.kind == kind).count();
        let class = |compat| changes.iter().filter(|c| c.compat == compat).count();
        writeln!(
            out,
            "{} changes: {} added, {} removed, {} changed, {} renamed, {} newly deprecated, {} newly unstable; {} breaking, {} compatible, {} renames",
            changes.len(),
            count(ChangeKind::Added),
            count(ChangeKind::Removed),
            count(ChangeKind::Changed),
            count(ChangeKind::Renamed),
            count(ChangeKind::Deprecated),
            count(ChangeKind::Unstable),
            class(Compat::Breaking),
            class(Compat::Compatible),
            class(Compat::Rename),
        )?;
    }
    Ok(if args.breaking && breaking {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The line before the changes of one class (`#` lines are headings).
fn class_heading(compat: Compat) -> &'static str {
    match compat {
        Compat::Breaking => "# breaking: a client of the older API may fail",
        Compat::Compatible => "# compatible: a client of the older API works unchanged",
        Compat::Rename => "# renamed types: the same on the wire",
    }
}
