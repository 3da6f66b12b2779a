//! Pass 2: context-free checks of each definition, in QEMU's order, and
//! its normalisation (sugar removed) into typed expressions.
//!
//! The checks move the strings they keep out of the expression (nothing
//! reads them again) instead of copying them.

mod ast;
mod check;
mod parts;

pub(crate) use ast::*;
pub(crate) use check::check_exprs;
