//! `qmp profile`: machine profiles, recorded from a real QEMU binary, for
//! `qmp fake-qemu --profile`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use qmp_sim::profile::Profile;
use qmp_sim::profile_record::{record, RecordOptions};

use crate::target::runtime;

/// `qmp profile ...`
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Record what a QEMU binary answers about its machine.
    #[command(after_help = "Examples:
  qmp profile record -o qemu-7.2.jsonl.gz
  qmp profile record --binary /usr/bin/qemu-system-x86_64 --accel tcg -o tcg-only.jsonl

The binary is started with -machine none once per accelerator (default: kvm
when /dev/kvm can be opened, and tcg) and asked every parameterless query,
every QOM type's properties, every device's properties and every CPU model's
expansion. Takes some seconds.")]
    Record {
        /// The QEMU binary.
        #[arg(long, value_name = "PATH", default_value = "qemu-system-x86_64")]
        binary: PathBuf,
        /// An accelerator to record (repeat for more).
        #[arg(long = "accel", value_name = "NAME")]
        accelerators: Vec<String>,
        /// Where to write the profile (JSON lines; gzip-compressed when the
        /// name ends in .gz).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Summarise a profile: the binary, version, accelerators and counts.
    Show {
        /// The profile (default: the built-in one).
        file: Option<PathBuf>,
    },
}

/// Runs `qmp profile ...`.
pub fn run(command: ProfileCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProfileCommand::Record {
            binary,
            accelerators,
            output,
        } => {
            let mut options = RecordOptions::new(binary);
            if !accelerators.is_empty() {
                options.accelerators = accelerators;
            }
            let profile = runtime()?.block_on(record(&options))?;
            profile
                .write_file(&output)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "qmp: recorded {} answers of {} ({}) to {}",
                profile.entries().count(),
                profile.binary(),
                options.accelerators.join(", "),
                output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Show { file } => {
            let profile = match &file {
                Some(path) => std::sync::Arc::new(Profile::read_file(path)?),
                None => Profile::builtin()?,
            };
            println!("binary: {}", profile.binary());
            println!(
                "version: {} ({})",
                profile.version().qemu,
                profile.version().package
            );
            for accelerator in profile.accelerators() {
                let own = profile
                    .entries()
                    .filter(|(a, _)| *a == Some(accelerator))
                    .count();
                println!("accelerator {accelerator}: {own} answers of its own");
            }
            let common = profile.entries().filter(|(a, _)| a.is_none()).count();
            println!("common answers: {common}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
