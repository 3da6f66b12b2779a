//! The code generator over a compiled QAPI schema
//! ([`qapi_schema::Schema`]).
//!
//! This crate owns typed Rust code for clients and servers ([`rust`], with
//! a `build.rs` API, [`Builder`]). It does not parse or check schemas, and
//! does not own introspection: `qapi-schema` builds the `query-qmp-schema`
//! list ([`SchemaInfo::from_schema`], which the generated code embeds and
//! [`introspect()`] forwards to) and owns [`Conditions`]. It owns no
//! runtime: generated code depends on `serde`, `serde_json`, `qmp-wire`,
//! and for its server part on `qapi-schema`'s validator.

pub mod builder;
pub mod rust;

pub use builder::{BuildError, Builder};
pub use qapi_schema::introspect::IntrospectOptions;
pub use qapi_schema::Conditions;
pub use rust::{generate, type_names, RustOptions};

use qapi_schema::introspect::SchemaInfo;
use qapi_schema::Schema;

/// Builds the `query-qmp-schema` list of `schema`: the same as
/// [`SchemaInfo::from_schema`], which owns it, under the generator's name.
pub fn introspect(
    schema: &Schema,
    conditions: &Conditions,
    options: IntrospectOptions,
) -> SchemaInfo {
    SchemaInfo::from_schema(schema, conditions, options)
}
