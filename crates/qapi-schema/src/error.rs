//! Schema errors with QEMU's exact text: the include chain, the
//! `In META 'NAME':` context line and `FILE:LINE[:COL]: message`.

use std::fmt;

use crate::source::{SourceInfo, Sources};

/// Where an error happened, already resolved to text as QEMU prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// `(file, line)` of each include directive leading to the file,
    /// outermost first.
    pub include_chain: Vec<(String, u32)>,
    /// `(meta, name)` of the definition the line belongs to, if known.
    pub definition: Option<(String, String)>,
    /// The file path as opened.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, only for syntax errors.
    pub column: Option<u32>,
}

/// A schema error: the first problem found, reported the way QEMU 10.0's
/// generator reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// The position, or `None` for errors without one (unreadable root file).
    pub location: Option<Box<Location>>,
    /// The message (may span several lines).
    pub message: String,
}

impl Error {
    /// An error without a position.
    pub fn bare(message: impl Into<String>) -> Self {
        Error {
            location: None,
            message: message.into(),
        }
    }

    /// An error at `info`, rendered with the current definition context.
    pub(crate) fn at(
        sources: &Sources,
        info: SourceInfo,
        column: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        let include_chain = sources
            .include_chain(info.file)
            .into_iter()
            .map(|i| (sources.path(i.file).to_string(), i.line))
            .collect();
        let definition = sources
            .defn(info)
            .map(|(meta, name)| (meta.as_str().to_string(), name.to_string()));
        Error {
            location: Some(Box::new(Location {
                include_chain,
                definition,
                file: sources.path(info.file).to_string(),
                line: info.line,
                column,
            })),
            message: message.into(),
        }
    }
}

impl Error {
    /// An error at `info`, or without a position where there is none
    /// (built-in and predefined definitions).
    pub(crate) fn at_opt(
        sources: &Sources,
        info: Option<SourceInfo>,
        message: impl Into<String>,
    ) -> Self {
        match info {
            Some(info) => Error::at(sources, info, None, message),
            None => Error::bare(message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(loc) = &self.location else {
            return f.write_str(&self.message);
        };
        for (file, line) in &loc.include_chain {
            writeln!(f, "In file included from {file}:{line}:")?;
        }
        if let Some((meta, name)) = &loc.definition {
            writeln!(f, "{}: In {meta} '{name}':", loc.file)?;
        }
        write!(f, "{}:{}", loc.file, loc.line)?;
        if let Some(col) = loc.column {
            write!(f, ":{col}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Result alias for schema operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
