//! The lexer of QAPI schema files: structural characters, single-quoted
//! strings, `true`/`false`, comments and doc-comment lines, with QEMU's
//! line/column bookkeeping and error messages.

use crate::error::Error;
use crate::source::{FileId, SourceInfo, Sources};

/// A token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// One of `{ } : , [ ]`.
    Punct(char),
    /// A string, without its quotes.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A comment line returned in doc mode: the byte range of the text
    /// from `#` to the end of the line (see [`Lexer::text`]).
    Comment(std::ops::Range<usize>),
    /// End of input.
    Eof,
}

impl Token {
    /// True for the `{`, `[`, string or boolean tokens that can start a value.
    pub fn starts_value(&self) -> bool {
        matches!(
            self,
            Token::Punct('{') | Token::Punct('[') | Token::Str(_) | Token::Bool(_)
        )
    }
}

/// Python's `str.isspace()`.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Applies Python's universal-newline translation and the trailing newline
/// QEMU's parser appends.
pub fn normalize_source(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') && text.ends_with('\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut src = text.replace("\r\n", "\n").replace('\r', "\n");
    if !src.ends_with('\n') {
        src.push('\n');
    }
    std::borrow::Cow::Owned(src)
}

/// The lexer over one file (already normalised with [`normalize_source`]).
pub struct Lexer<'s> {
    src: &'s str,
    file: FileId,
    /// Current line (of the current token).
    pub line: u32,
    /// Byte offset of the current line's start.
    line_pos: usize,
    /// Byte offset of the current token.
    pos: usize,
    cursor: usize,
    /// The current token.
    pub tok: Token,
}

impl<'s> Lexer<'s> {
    /// A lexer positioned before the first token (call [`Lexer::accept`]).
    pub fn new(src: &'s str, file: FileId) -> Self {
        Lexer {
            src,
            file,
            line: 1,
            line_pos: 0,
            pos: 0,
            cursor: 0,
            tok: Token::Eof,
        }
    }

    /// The position of the current token's line.
    pub fn info(&self) -> SourceInfo {
        SourceInfo {
            file: self.file,
            line: self.line,
        }
    }

    /// QEMU's column of the current token (with its tab quirk: a tab maps
    /// the column into 1..=8 instead of advancing to the next tab stop).
    pub fn column(&self) -> u32 {
        let mut col: u32 = 1;
        for ch in self.src.get(self.line_pos..self.pos).unwrap_or("").chars() {
            if ch == '\t' {
                col = (col + 7) % 8 + 1;
            } else {
                col = col.saturating_add(1);
            }
        }
        col
    }

    /// A syntax error at the current token.
    pub fn error(&self, sources: &Sources, msg: impl Into<String>) -> Error {
        Error::at(sources, self.info(), Some(self.column()), msg)
    }

    /// The source text of a token's byte range.
    pub fn text(&self, range: std::ops::Range<usize>) -> &'s str {
        self.src.get(range).unwrap_or("")
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|s| s.chars().next())
    }

    /// Reads the next token. With `skip_comment` false, comment lines are
    /// returned as [`Token::Comment`]; a comment starting with `##` is always
    /// returned.
    pub fn accept(&mut self, sources: &Sources, mut skip_comment: bool) -> Result<(), Error> {
        loop {
            self.pos = self.cursor;
            let ch = match self.src.as_bytes().get(self.cursor) {
                Some(&b) if b < 0x80 => Some(b as char),
                _ => self.char_at(self.cursor),
            };
            let Some(ch) = ch else {
                // Only reachable on input not normalised to end in '\n'.
                self.tok = Token::Eof;
                return Ok(());
            };
            self.cursor += ch.len_utf8();
            match ch {
                '#' => {
                    if self.src.as_bytes().get(self.cursor) == Some(&b'#') {
                        skip_comment = false;
                    }
                    let end = self.src[self.cursor..]
                        .find('\n')
                        .map_or(self.src.len(), |i| self.cursor + i);
                    self.cursor = end;
                    if !skip_comment {
                        self.tok = Token::Comment(self.pos..end);
                        return Ok(());
                    }
                }
                // Spaces first, a run at a time: they are most of what is
                // skipped.
                ' ' => {
                    let run = self.src.as_bytes().get(self.cursor..).unwrap_or(&[]);
                    self.cursor += run.iter().take_while(|&&b| b == b' ').count();
                }
                '{' | '}' | ':' | ',' | '[' | ']' => {
                    self.tok = Token::Punct(ch);
                    return Ok(());
                }
                '\'' => {
                    self.tok = Token::Str(self.string(sources)?);
                    return Ok(());
                }
                '\n' => {
                    if self.cursor >= self.src.len() {
                        self.tok = Token::Eof;
                        return Ok(());
                    }
                    self.line += 1;
                    self.line_pos = self.cursor;
                }
                _ if self.src[self.pos..].starts_with("true") => {
                    self.cursor = self.pos + 4;
                    self.tok = Token::Bool(true);
                    return Ok(());
                }
                _ if self.src[self.pos..].starts_with("false") => {
                    self.cursor = self.pos + 5;
                    self.tok = Token::Bool(false);
                    return Ok(());
                }
                _ if is_py_space(ch) => {}
                _ => {
                    let word: String = self.src[self.pos..]
                        .chars()
                        .take_while(|&c| {
                            !matches!(c, '[' | ']' | '{' | '}' | ':' | ',' | '\'')
                                && !is_py_space(c)
                        })
                        .collect();
                    return Err(self.error(sources, format!("stray '{word}'")));
                }
            }
        }
    }

    /// Reads a string body after the opening quote.
    fn string(&mut self, sources: &Sources) -> Result<String, Error> {
        // Fast path: printable ASCII up to the closing quote, no escapes.
        let rest = self.src.as_bytes().get(self.cursor..).unwrap_or(&[]);
        if let Some(len) = rest
            .iter()
            .position(|&b| b == b'\'' || b == b'\\' || !(b' '..=b'~').contains(&b))
        {
            if rest.get(len) == Some(&b'\'') {
                let out = self.src[self.cursor..self.cursor + len].to_string();
                self.cursor += len + 1;
                return Ok(out);
            }
        }
        let mut out = String::new();
        let mut esc = false;
        loop {
            let Some(ch) = self.char_at(self.cursor) else {
                return Err(self.error(sources, "missing terminating \"'\""));
            };
            self.cursor += ch.len_utf8();
            if ch == '\n' {
                return Err(self.error(sources, "missing terminating \"'\""));
            }
            if esc {
                if ch != '\\' {
                    return Err(self.error(sources, format!("unknown escape \\{ch}")));
                }
                esc = false;
            } else if ch == '\\' {
                esc = true;
                continue;
            } else if ch == '\'' {
                return Ok(out);
            }
            if !(' '..='~').contains(&ch) {
                return Err(self.error(sources, "funny character in string"));
            }
            out.push(ch);
        }
    }
}
