//! Doc comments: the block model (body, member and feature descriptions,
//! tagged sections), its parser, with QEMU 10.0's rules and a relaxed mode
//! for the older syntax of QEMU 7.2's schemas, and the checks of a block
//! against the definition it documents.

mod check;
mod model;
mod parse;

pub use model::{Doc, Section, SectionKind};
pub(crate) use parse::DocParser;
