//! Pass 1: reads the include tree and turns each file into top-level
//! expressions and doc blocks, handling the `include` and `pragma`
//! directives and the placement rules of doc comments.

use std::collections::HashSet;

use crate::doc::{Dialect, Doc, DocParser};
use crate::error::Error;
use crate::lexer::{normalize_source, Lexer, Token};
use crate::pathutil;
use crate::source::{SourceInfo, Sources};
use crate::value::{Object, Value};

/// Deepest nesting of arrays and objects accepted. QEMU's Python parser is
/// only bounded by the interpreter's recursion limit; this bound keeps
/// hostile input from exhausting the stack.
pub const MAX_NESTING: usize = 1024;

/// Reads schema files. The default reads the file system; tests and fuzzers
/// can serve files from memory.
pub trait SourceReader {
    /// The text of the file at `path` (as QEMU would open it), or the
    /// error text (`strerror` wording, e.g. `No such file or directory`).
    fn read(&self, path: &str) -> Result<String, String>;
}

/// Reads schema files from the file system, relative to the current
/// directory.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsReader;

/// `strerror`-style text of an I/O error (Rust appends `(os error N)`).
fn strerror(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(idx) => text[..idx].to_string(),
        None => text,
    }
}

impl SourceReader for FsReader {
    fn read(&self, path: &str) -> Result<String, String> {
        let bytes = std::fs::read(path).map_err(|e| strerror(&e))?;
        String::from_utf8(bytes).map_err(|_| "invalid UTF-8".to_string())
    }
}

/// Serves files from a list of `(path, text)` pairs; other paths do not
/// exist.
#[derive(Clone, Debug, Default)]
pub struct MemoryReader {
    /// The files.
    pub files: Vec<(String, String)>,
}

impl SourceReader for MemoryReader {
    fn read(&self, path: &str) -> Result<String, String> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| "No such file or directory".to_string())
    }
}

/// The `pragma` settings. They are global: a later pragma for a key replaces
/// the earlier value, and checks see the values at the end of parsing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pragma {
    /// `doc-required`: every definition needs a doc block.
    pub doc_required: bool,
    /// `command-name-exceptions`: commands allowed to use `_`.
    pub command_name_exceptions: Vec<String>,
    /// `command-returns-exceptions`: commands allowed to return non-objects.
    pub command_returns_exceptions: Vec<String>,
    /// `documentation-exceptions`: definitions whose members may be
    /// undocumented.
    pub documentation_exceptions: Vec<String>,
    /// `member-name-exceptions`: types whose members may use upper case and `_`.
    pub member_name_exceptions: Vec<String>,
}

/// A top-level expression after pass 1.
#[derive(Clone, Debug)]
pub(crate) enum TopExpr {
    /// An include directive: the path as joined with the includer's folder.
    Include { path: String, info: SourceInfo },
    /// A definition, with the index of its doc block.
    Definition {
        expr: Object,
        info: SourceInfo,
        doc: Option<usize>,
    },
}

/// Everything pass 1 produces.
pub(crate) struct Parsed {
    pub sources: Sources,
    pub pragma: Pragma,
    pub exprs: Vec<TopExpr>,
    pub docs: Vec<Doc>,
}

struct Ctx<'r> {
    sources: Sources,
    included: HashSet<String>,
    pragma: Pragma,
    exprs: Vec<TopExpr>,
    docs: Vec<Doc>,
    reader: &'r dyn SourceReader,
    dialect: Dialect,
    /// Text buffer lent to the doc parser.
    doc_text: String,
    /// `abspath` of each file read, by file id.
    abs_paths: Vec<String>,
}

/// Parses the schema rooted at `fname` (the path as it will appear in
/// messages).
pub(crate) fn parse_schema(
    fname: &str,
    reader: &dyn SourceReader,
    dialect: Dialect,
) -> Result<Parsed, Error> {
    let mut ctx = Ctx {
        sources: Sources::default(),
        included: HashSet::new(),
        pragma: Pragma::default(),
        exprs: Vec::new(),
        docs: Vec::new(),
        reader,
        dialect,
        doc_text: String::new(),
        abs_paths: Vec::new(),
    };
    let abs = pathutil::abspath(fname);
    ctx.included.insert(abs.clone());
    let text = reader
        .read(fname)
        .map_err(|e| Error::bare(format!("can't read schema file '{fname}': {e}")))?;
    ctx.parse_file(fname, abs, None, &text)?;
    Ok(Parsed {
        sources: ctx.sources,
        pragma: ctx.pragma,
        exprs: ctx.exprs,
        docs: ctx.docs,
    })
}

/// Reads values with the lexer.
struct ValueParser<'a, 'l, 's> {
    lexer: &'l mut Lexer<'s>,
    sources: &'a Sources,
}

impl ValueParser<'_, '_, '_> {
    fn err(&self, msg: &str) -> Error {
        self.lexer.error(self.sources, msg)
    }

    fn accept(&mut self) -> Result<(), Error> {
        self.lexer.accept(self.sources, true)
    }

    fn get_expr(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_NESTING {
            return Err(self.err("nesting too deep"));
        }
        match &mut self.lexer.tok {
            Token::Punct('{') => {
                self.accept()?;
                Ok(Value::Object(self.get_members(depth)?))
            }
            Token::Punct('[') => {
                self.accept()?;
                Ok(Value::Array(self.get_values(depth)?))
            }
            Token::Str(s) => {
                let s = std::mem::take(s);
                self.accept()?;
                Ok(Value::Str(s))
            }
            Token::Bool(b) => {
                let b = *b;
                self.accept()?;
                Ok(Value::Bool(b))
            }
            _ => Err(self.err("expected '{', '[', string, or boolean")),
        }
    }

    fn get_members(&mut self, depth: usize) -> Result<Object, Error> {
        let mut obj = Object::default();
        if self.lexer.tok == Token::Punct('}') {
            self.accept()?;
            return Ok(obj);
        }
        if !matches!(self.lexer.tok, Token::Str(_)) {
            return Err(self.err("expected string or '}'"));
        }
        loop {
            let Token::Str(key) = &mut self.lexer.tok else {
                return Err(self.err("expected string"));
            };
            let key = std::mem::take(key);
            self.accept()?;
            if self.lexer.tok != Token::Punct(':') {
                return Err(self.err("expected ':'"));
            }
            self.accept()?;
            if obj.contains(&key) {
                return Err(self.err(&format!("duplicate key '{key}'")));
            }
            let value = self.get_expr(depth + 1)?;
            obj.push(key, value);
            if self.lexer.tok == Token::Punct('}') {
                self.accept()?;
                return Ok(obj);
            }
            if self.lexer.tok != Token::Punct(',') {
                return Err(self.err("expected ',' or '}'"));
            }
            self.accept()?;
            if !matches!(self.lexer.tok, Token::Str(_)) {
                return Err(self.err("expected string"));
            }
        }
    }

    fn get_values(&mut self, depth: usize) -> Result<Vec<Value>, Error> {
        let mut values = Vec::new();
        if self.lexer.tok == Token::Punct(']') {
            self.accept()?;
            return Ok(values);
        }
        if !self.lexer.tok.starts_value() {
            return Err(self.err("expected '{', '[', ']', string, or boolean"));
        }
        loop {
            values.push(self.get_expr(depth + 1)?);
            if self.lexer.tok == Token::Punct(']') {
                self.accept()?;
                return Ok(values);
            }
            if self.lexer.tok != Token::Punct(',') {
                return Err(self.err("expected ',' or ']'"));
            }
            self.accept()?;
        }
    }
}

impl Ctx<'_> {
    fn reject_expr_doc(&self, doc: Option<usize>) -> Result<(), Error> {
        if let Some(doc) = doc.and_then(|i| self.docs.get(i)) {
            if let Some(symbol) = &doc.symbol {
                return Err(Error::at(
                    &self.sources,
                    doc.info,
                    None,
                    format!("documentation for '{symbol}' is not followed by the definition"),
                ));
            }
        }
        Ok(())
    }

    /// Parses the file `fname` (`abs` is its `abspath`).
    fn parse_file(
        &mut self,
        fname: &str,
        abs: String,
        incl_info: Option<SourceInfo>,
        text: &str,
    ) -> Result<(), Error> {
        let src = normalize_source(text);
        let file = self.sources.add_file(fname.to_string(), incl_info);
        self.abs_paths.push(abs);
        let mut lexer = Lexer::new(&src, file);
        lexer.accept(&self.sources, true)?;
        let mut cur_doc: Option<usize> = None;
        while lexer.tok != Token::Eof {
            let info = lexer.info();
            if matches!(lexer.tok, Token::Comment(_)) {
                self.reject_expr_doc(cur_doc)?;
                let doc = DocParser {
                    lexer: &mut lexer,
                    sources: &self.sources,
                    dialect: self.dialect,
                    pending: &mut self.doc_text,
                }
                .parse()?;
                self.docs.push(doc);
                cur_doc = Some(self.docs.len() - 1);
                continue;
            }
            let value = ValueParser {
                lexer: &mut lexer,
                sources: &self.sources,
            }
            .get_expr(0)?;
            let Value::Object(expr) = value else {
                return Err(Error::at(
                    &self.sources,
                    info,
                    None,
                    "top-level expression must be an object",
                ));
            };
            if expr.contains("include") {
                self.reject_expr_doc(cur_doc)?;
                self.include(fname, &expr, info)?;
            } else if expr.contains("pragma") {
                self.reject_expr_doc(cur_doc)?;
                self.pragma(&expr, info)?;
            } else {
                if let Some(doc) = cur_doc.and_then(|i| self.docs.get(i)) {
                    if doc.symbol.is_none() {
                        return Err(Error::at(
                            &self.sources,
                            doc.info,
                            None,
                            "definition documentation required",
                        ));
                    }
                }
                self.exprs.push(TopExpr::Definition {
                    expr,
                    info,
                    doc: cur_doc,
                });
            }
            cur_doc = None;
        }
        self.reject_expr_doc(cur_doc)
    }

    fn include(&mut self, fname: &str, expr: &Object, info: SourceInfo) -> Result<(), Error> {
        if expr.len() != 1 {
            return Err(Error::at(
                &self.sources,
                info,
                None,
                "invalid 'include' directive",
            ));
        }
        let Some(include) = expr.get("include").and_then(Value::as_str) else {
            return Err(Error::at(
                &self.sources,
                info,
                None,
                "value of 'include' must be a string",
            ));
        };
        let incl_fname = pathutil::join(pathutil::dirname(fname), include);
        self.exprs.push(TopExpr::Include {
            path: incl_fname.clone(),
            info,
        });
        let incl_abs = pathutil::abspath(&incl_fname);
        let mut chain = Some(info);
        while let Some(at) = chain {
            let at_abs = self.abs_paths.get(at.file.0 as usize);
            if at_abs.is_some_and(|a| *a == incl_abs) {
                return Err(Error::at(
                    &self.sources,
                    info,
                    None,
                    format!("inclusion loop for {include}"),
                ));
            }
            chain = self
                .sources
                .file(at.file)
                .and_then(|f| f.included_from)
                .filter(|p| p.file < at.file);
        }
        if !self.included.insert(incl_abs.clone()) {
            return Ok(());
        }
        let text = self.reader.read(&incl_fname).map_err(|e| {
            Error::at(
                &self.sources,
                info,
                None,
                format!("can't read include file '{incl_fname}': {e}"),
            )
        })?;
        self.parse_file(&incl_fname, incl_abs, Some(info), &text)
    }

    fn pragma(&mut self, expr: &Object, info: SourceInfo) -> Result<(), Error> {
        if expr.len() != 1 {
            return Err(Error::at(
                &self.sources,
                info,
                None,
                "invalid 'pragma' directive",
            ));
        }
        let Some(pragma) = expr.get("pragma").and_then(Value::as_object) else {
            return Err(Error::at(
                &self.sources,
                info,
                None,
                "value of 'pragma' must be an object",
            ));
        };
        for (name, value) in pragma.iter() {
            let list = || -> Result<Vec<String>, Error> {
                value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .ok_or_else(|| {
                        Error::at(
                            &self.sources,
                            info,
                            None,
                            format!("pragma {name} must be a list of strings"),
                        )
                    })
            };
            match name {
                "doc-required" => match value {
                    Value::Bool(b) => self.pragma.doc_required = *b,
                    _ => {
                        return Err(Error::at(
                            &self.sources,
                            info,
                            None,
                            "pragma 'doc-required' must be boolean",
                        ));
                    }
                },
                "command-name-exceptions" => self.pragma.command_name_exceptions = list()?,
                "command-returns-exceptions" => self.pragma.command_returns_exceptions = list()?,
                "documentation-exceptions" => self.pragma.documentation_exceptions = list()?,
                "member-name-exceptions" => self.pragma.member_name_exceptions = list()?,
                _ => {
                    return Err(Error::at(
                        &self.sources,
                        info,
                        None,
                        format!("unknown pragma '{name}'"),
                    ))
                }
            }
        }
        Ok(())
    }
}
