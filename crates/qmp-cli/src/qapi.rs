//! `qmp qapi check|dump|introspect|conditions|rust`: loads a schema and
//! prints QEMU's errors, the test-suite dump, the `query-qmp-schema` list,
//! the conditions a QEMU binary was built with, or the generated Rust
//! module.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use qapi_gen::Builder;
use qapi_schema::introspect::{infer_conditions, IntrospectOptions, SchemaInfo};
use qapi_schema::{dump, load_with, Conditions, FsReader, LoadOptions, Schema};
use qmp_wire::{Encoder, MemberOrder};

use crate::target::TargetArgs;

/// `qmp qapi` subcommands.
#[derive(Debug, Subcommand)]
pub enum QapiCommand {
    /// Check a schema; print the first error as QEMU does (exit 1) or
    /// nothing (exit 0).
    Check(SchemaArgs),
    /// Print the schema in the format of QEMU's test-suite `.out` files
    /// (`qmp qapi dump` still works).
    #[command(name = "test-dump", alias = "dump")]
    TestDump(SchemaArgs),
    /// Print the `query-qmp-schema` list QEMU builds from the schema.
    Introspect {
        #[command(flatten)]
        schema: SchemaArgs,
        #[command(flatten)]
        conditions: ConditionArgs,
        /// Real type names instead of numbers (QEMU's `-u`).
        #[arg(long)]
        unmask: bool,
        /// QEMU's pretty layout instead of one line.
        #[arg(long)]
        pretty: bool,
    },
    /// Find the conditions a QEMU binary was built with: the `if` symbols
    /// under which the schema gives that QEMU's query-qmp-schema reply,
    /// as a conditions file for --conditions (exit 1 when no set of
    /// symbols gives the reply exactly; the differences end the file).
    #[command(after_help = "Examples:
  qmp qapi conditions --server /run/qemu/qmp.sock qemu-7.2/qapi/qapi-schema.json > conditions.txt
  qmp qapi rust qemu-7.2/qapi/qapi-schema.json --conditions conditions.txt -o src/qapi.rs")]
    Conditions {
        #[command(flatten)]
        schema: SchemaArgs,
        /// The QEMU: a socket path, unix:PATH or tcp:HOST:PORT, or a
        /// saved query-qmp-schema reply.
        #[arg(long, value_name = "TARGET")]
        server: String,
        /// Where to write the conditions file (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<String>,
    },
    /// Generate the Rust module for the schema (types, commands, events,
    /// and with --server the server trait), for code that is checked in.
    #[command(
        after_help = "Without the schema source: --introspection REPLY.json generates the
bindings from a saved query-qmp-schema reply alone (qmp schema fetch saves
one), which matches that QEMU exactly; type names QEMU masks are derived from
the command and member paths (QueryStatusRet, BlockdevAddArg), and there are
no docs.

Examples:
  qmp qapi rust qemu-10.0/qapi/qapi-schema.json -o src/qapi.rs
  qmp schema fetch /run/qemu/qmp.sock > reply.json
  qmp qapi rust --introspection reply.json -o src/qapi.rs"
    )]
    Rust {
        /// The root schema file (or --introspection).
        #[arg(required_unless_present = "introspection")]
        schema: Option<String>,
        /// Read doc comments in QEMU 7.2's older syntax (detected otherwise).
        #[arg(long)]
        relaxed_docs: bool,
        /// Generate from a saved query-qmp-schema reply instead of a schema.
        #[arg(long, value_name = "REPLY", conflicts_with_all = ["schema", "relaxed_docs", "conditions", "all_conditions"])]
        introspection: Option<String>,
        #[command(flatten)]
        conditions: ConditionArgs,
        /// Where to write the module (`-` for standard output).
        #[arg(short, long, value_name = "FILE")]
        output: String,
        /// Generate the server module too: a trait with one method per
        /// command and a dispatcher (it needs the qapi-schema crate).
        #[arg(long)]
        server: bool,
        /// Leave out the server module (the default; kept for old scripts).
        #[arg(long, hide = true, conflicts_with = "server")]
        no_server: bool,
        /// Do not run rustfmt over the output.
        #[arg(long)]
        no_format: bool,
        /// Only the commands and events of these QAPI modules and the types
        /// they reach (schema files by stem, comma-separated: block takes
        /// block.json, block-core.json and block-export.json).
        #[arg(long, value_name = "MODULE,...", value_delimiter = ',')]
        modules: Vec<String>,
    },
}

/// The schema to read.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The root schema file.
    schema: String,
    /// Read doc comments in QEMU 7.2's older syntax. Without it, check and
    /// test-dump read QEMU 10.0's syntax (and say when the older one would
    /// have worked), introspect and rust detect the syntax.
    #[arg(long)]
    relaxed_docs: bool,
}

/// Which `if` conditions hold.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ConditionArgs {
    /// A conditions file (`[DEFINED]` symbols are true, all others false).
    #[arg(long, value_name = "FILE")]
    conditions: Option<String>,
    /// Every condition true (the default).
    #[arg(long)]
    all_conditions: bool,
}

impl ConditionArgs {
    fn read(&self) -> anyhow::Result<Conditions> {
        match &self.conditions {
            Some(path) => Conditions::from_file(path)
                .with_context(|| format!("reading conditions file {path}")),
            None => Ok(Conditions::All),
        }
    }
}

/// What the hint after a doc-syntax error says.
pub const RELAXED_DOCS_HINT: &str =
    "note: the schema reads in QEMU 7.2's older doc syntax; pass --relaxed-docs";

/// Loads the schema in the dialect `--relaxed-docs` chooses, or prints
/// QEMU's error (with a hint when the other dialect reads the schema) and
/// gives the exit code.
fn load(args: &SchemaArgs) -> anyhow::Result<Result<Schema, ExitCode>> {
    let with = |relaxed_docs| load_with(&args.schema, LoadOptions { relaxed_docs }, &FsReader);
    match with(args.relaxed_docs) {
        Ok(schema) => Ok(Ok(schema)),
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            writeln!(stderr, "{err}").context("writing the error")?;
            if !args.relaxed_docs && with(true).is_ok() {
                writeln!(stderr, "{RELAXED_DOCS_HINT}").context("writing the error")?;
            }
            Ok(Err(ExitCode::FAILURE))
        }
    }
}

/// Loads the schema in the dialect `--relaxed-docs` chooses or, without
/// it, the one that reads it; or prints QEMU's error and gives the exit
/// code.
fn load_detecting(args: &SchemaArgs) -> anyhow::Result<Result<Schema, ExitCode>> {
    if args.relaxed_docs {
        return load(args);
    }
    match qapi_schema::load_detecting(&args.schema, &FsReader) {
        Ok((schema, _)) => Ok(Ok(schema)),
        Err(err) => {
            writeln!(std::io::stderr(), "{err}").context("writing the error")?;
            Ok(Err(ExitCode::FAILURE))
        }
    }
}

fn print(bytes: &[u8]) -> anyhow::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(bytes)
        .context("writing the output")
}

/// Runs a `qmp qapi` subcommand.
pub fn run(command: QapiCommand) -> anyhow::Result<ExitCode> {
    match command {
        QapiCommand::Check(args) => Ok(load(&args)?.err().unwrap_or(ExitCode::SUCCESS)),
        QapiCommand::TestDump(args) => match load(&args)? {
            Ok(schema) => print(dump(&schema).as_bytes()).map(|()| ExitCode::SUCCESS),
            Err(code) => Ok(code),
        },
        QapiCommand::Introspect {
            schema,
            conditions,
            unmask,
            pretty,
        } => {
            let conditions = conditions.read()?;
            let schema = match load_detecting(&schema)? {
                Ok(schema) => schema,
                Err(code) => return Ok(code),
            };
            let options = IntrospectOptions {
                unmask,
                ..IntrospectOptions::default()
            };
            let info = SchemaInfo::from_schema(&schema, &conditions, options);
            let encoder = Encoder::QMP
                .with_order(MemberOrder::Qemu)
                .with_pretty(pretty);
            let mut out = Vec::new();
            encoder.write_value(&info.to_value(), &mut out);
            out.push(b'\n');
            print(&out).map(|()| ExitCode::SUCCESS)
        }
        QapiCommand::Conditions {
            schema,
            server,
            output,
        } => {
            let schema = match load_detecting(&schema)? {
                Ok(schema) => schema,
                Err(code) => return Ok(code),
            };
            let reply = crate::schema::target_info(Some(&server), &TargetArgs::default())?;
            let found = infer_conditions(&schema, &reply);
            let text = found.to_file();
            match output {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("writing {path}"))?
                }
                None => print(text.as_bytes())?,
            }
            Ok(if found.exact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        QapiCommand::Rust {
            schema,
            relaxed_docs,
            introspection,
            conditions,
            output,
            server,
            no_server: _,
            no_format,
            modules,
        } => {
            let builder = match (introspection, schema) {
                (Some(reply), _) => Builder::from_introspection(reply),
                (None, Some(schema)) => Builder::new(schema).conditions(conditions.read()?),
                (None, None) => anyhow::bail!("give a SCHEMA or --introspection REPLY"),
            };
            let mut builder = builder
                .server(server)
                .modules(modules)
                .format(!no_format)
                .emit_rerun_if_changed(false);
            if relaxed_docs {
                builder = builder.relaxed_docs(true);
            }
            let code = match builder.generate() {
                Ok(code) => code,
                Err(qapi_gen::BuildError::Schema(err)) => {
                    writeln!(std::io::stderr(), "{err}").context("writing the error")?;
                    return Ok(ExitCode::FAILURE);
                }
                Err(err) => return Err(err.into()),
            };
            if output == "-" {
                print(code.as_bytes())?;
            } else {
                std::fs::write(&output, code).with_context(|| format!("writing {output}"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
