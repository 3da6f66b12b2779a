//! Generators over a compiled QAPI schema ([`qapi_schema::Schema`]).
//!
//! This crate owns turning a schema into outputs: the `query-qmp-schema`
//! list exactly as QEMU builds it ([`introspect()`]) and typed Rust code
//! for clients and servers ([`rust`], with a `build.rs` API,
//! [`Builder`]). It does not parse or check schemas (`qapi-schema` does),
//! and owns no runtime: generated code depends on `serde`, `serde_json`,
//! `qmp-wire`, and for its server part on `qapi-schema`'s validator.

pub mod builder;
pub mod conditions;
pub mod introspect;

pub use builder::{BuildError, Builder};
pub use conditions::Conditions;
pub use introspect::{introspect, IntrospectOptions};
pub mod rust;

pub use rust::{generate, type_names, RustOptions};
