//! The QAPI schema language, read and checked exactly as QEMU 10.0's
//! generator (`scripts/qapi`) reads and checks it.
//!
//! This crate owns the front end: the lexer and parser (with `include`,
//! `pragma` and doc comments), the expression checks, the semantic model
//! ([`Schema`]: modules, entities, resolved types, flattened members,
//! variants, conditions, features, docs, positions), QEMU's error messages
//! and the test-suite dump format, which `if` conditions hold for a build
//! ([`Conditions`], with the one reader of conditions files), and all of
//! introspection ([`introspect`]): the `query-qmp-schema` model
//! ([`introspect::SchemaInfo`]), built from a compiled schema as QEMU's
//! generator builds it or read from a server's reply, with a validator of
//! argument values, the API diff, and [`introspect::ApiSource`], the one
//! loader of "a schema or a saved reply" with one policy for QEMU 7.2's
//! doc syntax. It does not generate code (that is `qapi-gen`'s job, which
//! calls into this crate for introspection data), and does no I/O beyond
//! reading schema, conditions and saved-reply files.
//!
//! ```no_run
//! let schema = qapi_schema::load("qapi/qapi-schema.json").map_err(|e| e.to_string())?;
//! for def in schema.definitions() {
//!     println!("{} {}", def.meta(), def.name);
//! }
//! # Ok::<(), String>(())
//! ```

#![warn(missing_docs)]

mod build;
mod conditions;
mod doc;
mod dump;
mod error;
mod expr;
mod hash;
mod ifcond;
pub mod introspect;
mod lexer;
mod model;
mod names;
mod parser;
mod pathutil;
mod source;
mod value;

pub use conditions::Conditions;
pub use doc::{Doc, Section, SectionKind};
pub use dump::dump;
pub use error::{Error, Location, Result};
pub use ifcond::{IfCond, Symbols};
pub use model::*;
pub use parser::{FsReader, MemoryReader, Pragma, SourceReader, MAX_NESTING};
pub use source::{FileId, Meta, SourceFile, SourceInfo, Sources};

/// How to read a schema.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept the older doc-comment syntax of QEMU 7.2's schemas
    /// (`Note:`/`Example:` sections, headings anywhere in free-form blocks),
    /// which QEMU 10.0 rejects.
    pub relaxed_docs: bool,
}

/// Reads and checks the schema at `path` (relative paths are relative to
/// the current directory; messages show paths as given).
pub fn load(path: &str) -> Result<Schema> {
    load_with(path, LoadOptions::default(), &FsReader)
}

/// Reads and checks a schema with options and a custom file reader.
pub fn load_with(path: &str, options: LoadOptions, reader: &dyn SourceReader) -> Result<Schema> {
    let mut parsed = parser::parse_schema(path, reader, doc::Dialect::of(options.relaxed_docs))?;
    let exprs = expr::check_exprs(
        parsed.exprs,
        &mut parsed.sources,
        &parsed.pragma,
        &parsed.docs,
    )?;
    let mut builder = build::Builder::new(path, parsed.sources, parsed.pragma, parsed.docs);
    builder.define_all(exprs)?;
    builder.check_all()
}

/// Reads and checks a schema whose doc syntax is not known: QEMU 10.0's
/// first and, when that fails but QEMU 7.2's older syntax
/// ([`LoadOptions::relaxed_docs`]) works, that one. Returns the schema and
/// whether it needed the older syntax; when both fail, QEMU 10.0's error.
pub fn load_detecting(path: &str, reader: &dyn SourceReader) -> Result<(Schema, bool)> {
    let with = |relaxed_docs| load_with(path, LoadOptions { relaxed_docs }, reader);
    match with(false) {
        Ok(schema) => Ok((schema, false)),
        Err(strict) => with(true).map(|schema| (schema, true)).map_err(|_| strict),
    }
}

/// Checks schema text held in memory, as if it were the file `name` (its
/// includes can only name `name` itself and fail otherwise).
pub fn load_str(name: &str, text: &str, options: LoadOptions) -> Result<Schema> {
    let reader = MemoryReader {
        files: vec![(name.to_string(), text.to_string())],
    };
    load_with(name, options, &reader)
}
