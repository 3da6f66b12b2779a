//! [`ApiSource`]: where an API comes from, a QAPI schema or a saved
//! `query-qmp-schema` reply, and the one way of loading it that every
//! command taking either uses (`qmp serve`, `qmp fake-qemu`, `qmp
//! fake-qga`, `qmp schema diff`).
//!
//! QEMU 7.2's doc syntax: an API does not depend on doc comments, so a
//! schema is read with [`crate::load_detecting`]: QEMU 10.0's doc syntax
//! and, when that fails, QEMU 7.2's ([`crate::LoadOptions::relaxed_docs`]);
//! when both fail the error is QEMU 10.0's. The code generator
//! (`qapi_gen::Builder`, `qmp qapi rust`, `qmp qapi introspect`) detects
//! the same way unless told a dialect; the checker's own commands (`qmp
//! qapi check|test-dump`) check exactly the dialect chosen with
//! `--relaxed-docs`, and say so when the other one would have worked.

use std::path::{Path, PathBuf};

use qmp_wire::Value;

use super::{IntrospectOptions, LoadError, SchemaInfo};
use crate::{Conditions, FsReader, Schema};

/// Where an API description comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiSource {
    /// A QAPI schema.
    Schema {
        /// The root schema file.
        path: PathBuf,
        /// A conditions file: the `if` symbols that hold (all, when
        /// `None`).
        conditions: Option<PathBuf>,
    },
    /// A saved `query-qmp-schema` reply: its `return` value, or the whole
    /// reply object.
    Introspection(PathBuf),
    /// Either, told apart by the file: a JSON list, or an object whose
    /// `return` is one, is a saved reply; anything else is a schema, with
    /// every condition true.
    Detect(PathBuf),
}

/// An API as loaded from an [`ApiSource`].
#[derive(Clone, Debug)]
pub enum Api {
    /// A compiled schema and the conditions that hold.
    Schema {
        /// The schema.
        schema: Box<Schema>,
        /// Which `if` conditions hold.
        conditions: Conditions,
    },
    /// A saved reply.
    Introspection {
        /// The list as read (the `return` value).
        wire: Value,
        /// The list as a model.
        info: SchemaInfo,
    },
}

/// Why an API could not be loaded; `Display` gives the whole reason.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The reply file is not QEMU's JSON.
    #[error("{path}: {error}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        error: qmp_wire::JsonError,
    },
    /// The reply is not a `query-qmp-schema` list.
    #[error("{path}: {error}")]
    Introspection {
        /// The file.
        path: String,
        /// Why.
        error: LoadError,
    },
    /// The QAPI schema has an error (QEMU's text).
    #[error("{0}")]
    Schema(crate::Error),
}

impl ApiSource {
    /// Reads the API.
    pub fn load(&self) -> Result<Api, ApiError> {
        match self {
            ApiSource::Schema { path, conditions } => schema_api(path, conditions.as_deref()),
            ApiSource::Introspection(path) => {
                let value = qmp_wire::from_slice(&read(path)?).map_err(|error| ApiError::Json {
                    path: path.display().to_string(),
                    error,
                })?;
                reply_api(path, reply_list(value))
            }
            ApiSource::Detect(path) => match qmp_wire::from_slice(&read(path)?).map(reply_list) {
                Ok(list @ Value::Array(_)) => reply_api(path, list),
                _ => schema_api(path, None),
            },
        }
    }
}

impl Api {
    /// The API's list with real names where the source has them: a
    /// schema's built with [`IntrospectOptions::VALIDATION`], a reply's as
    /// sent.
    pub fn into_info(self) -> SchemaInfo {
        match self {
            Api::Schema { schema, conditions } => {
                SchemaInfo::from_schema(&schema, &conditions, IntrospectOptions::VALIDATION)
            }
            Api::Introspection { info, .. } => info,
        }
    }
}

impl ApiError {
    /// The error for a failure to read `path`.
    fn reading(path: &Path) -> impl FnOnce(std::io::Error) -> ApiError + '_ {
        move |error| ApiError::Read {
            path: path.display().to_string(),
            error,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ApiError> {
    std::fs::read(path).map_err(ApiError::reading(path))
}

/// The list of a reply: its `return` value, or the value itself.
fn reply_list(value: Value) -> Value {
    match value.get("return") {
        Some(inner) => inner.clone(),
        None => value,
    }
}

fn reply_api(path: &Path, wire: Value) -> Result<Api, ApiError> {
    let info = SchemaInfo::from_value(&wire).map_err(|error| ApiError::Introspection {
        path: path.display().to_string(),
        error,
    })?;
    Ok(Api::Introspection { wire, info })
}

/// A schema with QEMU 10.0's doc syntax, else QEMU 7.2's; then its
/// conditions.
fn schema_api(path: &Path, conditions: Option<&Path>) -> Result<Api, ApiError> {
    let (schema, _) =
        crate::load_detecting(&path.display().to_string(), &FsReader).map_err(ApiError::Schema)?;
    let conditions = match conditions {
        Some(file) => Conditions::from_file(file).map_err(ApiError::reading(file))?,
        None => Conditions::All,
    };
    Ok(Api::Schema {
        schema: Box::new(schema),
        conditions,
    })
}
