//! Doc comments: the block model (body, member and feature descriptions,
//! tagged sections), its one parser for two dialects (QEMU 10.0's syntax,
//! and the relaxed mode for the older syntax of QEMU 7.2's schemas), and
//! the checks of a block against the definition it documents.

mod check;
mod dialect;
mod model;
mod parse;

pub(crate) use dialect::Dialect;
pub use model::{Doc, Section, SectionKind};
pub(crate) use parse::DocParser;
