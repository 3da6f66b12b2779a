//! The `build.rs` API in the style of prost-build: `Builder::new(schema)`,
//! options, then `compile(out_dir)` writes the generated module and tells
//! Cargo to rerun when any schema file changes.
//!
//! Errors print the way QEMU prints them (`file:line:col: message`, after
//! the include chain), through `Display` and `Debug` alike, so a build
//! script's `fn main() -> Result<(), Box<dyn std::error::Error>>` shows
//! QEMU's text rather than a dump of the error's fields.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use qapi_schema::introspect::ApiSource;
use qapi_schema::{load_detecting, load_with, Conditions, FsReader, LoadOptions};

use crate::rust::{generate, RustOptions};

/// Why generation failed. `Debug` shows the same text as `Display`.
#[derive(thiserror::Error)]
pub enum BuildError {
    /// The schema has an error (QEMU's message).
    #[error("{0}")]
    Schema(#[from] qapi_schema::Error),
    /// Reading a conditions file or writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `rustfmt` ran but rejected the generated code.
    #[error("rustfmt failed: {0}")]
    Rustfmt(String),
    /// The saved `query-qmp-schema` reply could not be read.
    #[error("{0}")]
    Reply(#[from] qapi_schema::introspect::ApiError),
    /// The reply could not be turned into a schema.
    #[error("{0}")]
    Rebuild(#[from] qapi_schema::introspect::SourceError),
}

impl std::fmt::Debug for BuildError {
    /// The `Display` text: what `fn main() -> Result<..>` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// What the code is generated from.
#[derive(Clone, Debug)]
enum Input {
    /// A QAPI schema's root file.
    Schema(PathBuf),
    /// A saved `query-qmp-schema` reply.
    Reply(PathBuf),
}

/// Generates Rust code for one schema (see the crate docs).
#[derive(Clone, Debug)]
pub struct Builder {
    input: Input,
    options: RustOptions,
    relaxed_docs: Option<bool>,
    format: bool,
    file_name: String,
    emit_rerun: bool,
}

impl Builder {
    /// A builder for the schema whose root file is `schema`.
    pub fn new(schema: impl Into<PathBuf>) -> Builder {
        Builder::with_input(Input::Schema(schema.into()))
    }

    /// A builder for a saved `query-qmp-schema` reply (its `return`
    /// value, or the whole reply), for a QEMU whose schema source one does
    /// not have: the schema is rebuilt from the reply
    /// ([`SchemaInfo::to_schema_source`](qapi_schema::introspect::SchemaInfo::to_schema_source)),
    /// with type names derived from the command and member paths where
    /// QEMU masks them (`QueryStatusRet`, `BlockdevAddArg`), and without
    /// docs. The reply already has the build's conditions.
    pub fn from_introspection(reply: impl Into<PathBuf>) -> Builder {
        Builder::with_input(Input::Reply(reply.into()))
    }

    fn with_input(input: Input) -> Builder {
        Builder {
            input,
            options: RustOptions::default(),
            relaxed_docs: None,
            format: false,
            file_name: "qapi.rs".to_string(),
            emit_rerun: true,
        }
    }

    /// Only the commands and events of these QAPI modules, and the types
    /// they reach (schema files by stem: `block` takes `block.json`,
    /// `block-core.json` and `block-export.json`); a client that uses a
    /// few modules compiles only those. Default: every module.
    pub fn modules<I, S>(mut self, modules: I) -> Builder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.modules = modules.into_iter().map(Into::into).collect();
        self
    }

    /// Decides `if` conditions this way (default: all true).
    pub fn conditions(mut self, conditions: Conditions) -> Builder {
        self.options.conditions = conditions;
        self
    }

    /// Decides `if` conditions with a conditions file (`[DEFINED]` symbols).
    pub fn conditions_file(self, path: impl AsRef<Path>) -> Result<Builder, BuildError> {
        let path = path.as_ref();
        let conditions = Conditions::from_file(path).map_err(|source| BuildError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if self.emit_rerun {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        Ok(self.conditions(conditions))
    }

    /// Generates the `server` module too: a trait with one method per
    /// command and a dispatcher (default: no; it needs `qapi-schema`).
    pub fn server(mut self, on: bool) -> Builder {
        self.options.server = on;
        self
    }

    /// Reads doc comments in QEMU 7.2's older syntax (`true`) or QEMU
    /// 10.0's (`false`). By default the syntax is detected: QEMU 10.0's,
    /// else QEMU 7.2's when that one reads the schema
    /// ([`qapi_schema::load_detecting`]).
    pub fn relaxed_docs(mut self, on: bool) -> Builder {
        self.relaxed_docs = Some(on);
        self
    }

    /// Runs `rustfmt` over the output when it is installed (default: no;
    /// the code is laid out readably as generated, and formatting a whole
    /// schema's bindings costs most of a second in every build; `qmp qapi
    /// rust`, for code that is checked in, formats).
    pub fn format(mut self, on: bool) -> Builder {
        self.format = on;
        self
    }

    /// Name of the file written by [`Builder::compile`] (default `qapi.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Builder {
        self.file_name = name.into();
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: yes).
    pub fn emit_rerun_if_changed(mut self, on: bool) -> Builder {
        self.emit_rerun = on;
        self
    }

    /// The generated code, without writing it anywhere.
    pub fn generate(&self) -> Result<String, BuildError> {
        let schema = match &self.input {
            Input::Schema(path) => {
                let path = path.to_string_lossy();
                match self.relaxed_docs {
                    Some(relaxed_docs) => {
                        load_with(&path, LoadOptions { relaxed_docs }, &FsReader)?
                    }
                    None => load_detecting(&path, &FsReader)?.0,
                }
            }
            Input::Reply(path) => {
                let info = ApiSource::Introspection(path.clone()).load()?.into_info();
                let text = info.to_schema_source()?;
                let name = format!("{} (rebuilt)", path.display());
                qapi_schema::load_str(&name, &text, LoadOptions::default())?
            }
        };
        if self.emit_rerun {
            match &self.input {
                Input::Schema(_) => {
                    for file in schema.sources.files() {
                        println!("cargo:rerun-if-changed={}", file.path);
                    }
                }
                Input::Reply(path) => println!("cargo:rerun-if-changed={}", path.display()),
            }
        }
        let code = generate(&schema, &self.options);
        if self.format {
            rustfmt(&code)
        } else {
            Ok(code)
        }
    }

    /// Writes the generated module to `out_dir`/file name and returns the
    /// path (include it with `include!(concat!(env!("OUT_DIR"), "/qapi.rs"))`).
    pub fn compile(&self, out_dir: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
        let code = self.generate()?;
        let path = out_dir.as_ref().join(&self.file_name);
        std::fs::write(&path, code).map_err(|source| BuildError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

/// Formats `code` with the `rustfmt` binary; unchanged when it is absent.
pub fn rustfmt(code: &str) -> Result<String, BuildError> {
    use std::io::Write as _;
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let child = Command::new(program)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return Ok(code.to_string());
    };
    let io = |source| BuildError::Io {
        path: PathBuf::from("rustfmt"),
        source,
    };
    // Write from another thread: rustfmt may fill its stdout pipe first.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = code.to_string();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()))
    });
    let output = child.wait_with_output().map_err(io)?;
    if let Some(writer) = writer {
        writer
            .join()
            .map_err(|_| BuildError::Rustfmt("writer thread panicked".into()))?
            .map_err(io)?;
    }
    if output.status.success() {
        String::from_utf8(output.stdout).map_err(|e| BuildError::Rustfmt(e.to_string()))
    } else {
        Err(BuildError::Rustfmt(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}
