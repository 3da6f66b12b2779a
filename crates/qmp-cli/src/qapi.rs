//! `qmp qapi check|dump`: loads a schema and prints QEMU's errors or the
//! test-suite dump.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use qapi_schema::{dump, load_with, FsReader, LoadOptions};

/// `qmp qapi` subcommands.
#[derive(Debug, Subcommand)]
pub enum QapiCommand {
    /// Check a schema; print the first error as QEMU does (exit 1) or
    /// nothing (exit 0).
    Check {
        /// The root schema file.
        schema: String,
        /// Accept QEMU 7.2's older doc-comment syntax.
        #[arg(long)]
        relaxed_docs: bool,
    },
    /// Print the schema in the format of QEMU's test-suite `.out` files.
    Dump {
        /// The root schema file.
        schema: String,
        /// Accept QEMU 7.2's older doc-comment syntax.
        #[arg(long)]
        relaxed_docs: bool,
    },
}

/// Runs a `qmp qapi` subcommand.
pub fn run(command: QapiCommand) -> anyhow::Result<ExitCode> {
    let (schema, relaxed_docs, want_dump) = match command {
        QapiCommand::Check {
            schema,
            relaxed_docs,
        } => (schema, relaxed_docs, false),
        QapiCommand::Dump {
            schema,
            relaxed_docs,
        } => (schema, relaxed_docs, true),
    };
    let options = LoadOptions { relaxed_docs };
    match load_with(&schema, options, &FsReader) {
        Ok(model) => {
            if want_dump {
                std::io::stdout()
                    .lock()
                    .write_all(dump(&model).as_bytes())
                    .context("writing the dump")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            writeln!(std::io::stderr(), "{err}").context("writing the error")?;
            Ok(ExitCode::FAILURE)
        }
    }
}
