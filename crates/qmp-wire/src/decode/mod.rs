//! The incremental decoder for QEMU's JSON dialect: lexer, message
//! boundaries (QEMU's "streamer"), limits and error recovery.
//!
//! Bytes go in in chunks of any size; each complete top-level value, or the
//! error QEMU would report instead, comes out as soon as QEMU would hand it
//! on. The result never depends on how the input was chunked.
//!
//! How QEMU reads a stream, and so how this decoder does:
//! * the lexer turns bytes into tokens; numbers and keywords need one byte of
//!   lookahead to end, everything else ends on its last byte;
//! * a message ends when the counts of `{`/`}` and `[`/`]` are back to zero,
//!   or as soon as one goes negative (a stray `}` is a message of its own);
//! * a byte the lexer cannot take discards the message in progress, is
//!   reported as `stray '...'`, and the lexer skips to the next structural
//!   character, control byte or 0xFE/0xFF;
//! * the limits (nesting, token count, total size) discard the message too.

mod parser;
mod text;

use std::collections::VecDeque;

use crate::Value;
use parser::{Outcome, Parser};

/// QEMU's limit on the bytes of one token and of all tokens of one message
/// (`MAX_TOKEN_SIZE`, 64 MiB).
pub const MAX_TOKEN_SIZE: usize = 64 << 20;
/// QEMU's limit on the tokens of one message (`MAX_TOKEN_COUNT`, 2^21).
pub const MAX_TOKEN_COUNT: usize = 2 << 20;
/// QEMU's limit on `{` plus `[` nesting (`MAX_NESTING`, 1024).
pub const MAX_NESTING: usize = 1 << 10;
/// The most bytes of a grammar error's text: QEMU formats it into a
/// 1024-byte buffer (`parse_error` in `json-parser.c`), so the text after
/// `JSON parse error, ` is cut to 1023 bytes. Lexical errors (`stray`) are
/// not formatted there and are never cut.
pub const MAX_PARSE_ERROR_TEXT: usize = 1023;

/// The limits a decoder enforces. [`Limits::QEMU`] is the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one token, and of all tokens of one message.
    pub max_message_bytes: usize,
    /// Tokens in one message.
    pub max_tokens: usize,
    /// Depth of `{` plus `[`.
    pub max_nesting: usize,
}

impl Limits {
    /// QEMU's own limits.
    pub const QEMU: Limits = Limits {
        max_message_bytes: MAX_TOKEN_SIZE,
        max_tokens: MAX_TOKEN_COUNT,
        max_nesting: MAX_NESTING,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::QEMU
    }
}

/// An error in the input stream, with QEMU's text as its `Display`.
/// QEMU reports all of them as `GenericError`, without an `id`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// A byte the lexer cannot accept; holds the token text up to and
    /// including it, as QEMU prints it.
    #[error("JSON parse error, stray '{0}'")]
    Stray(String),
    /// Well-formed tokens that do not make a value (the text cut to
    /// [`MAX_PARSE_ERROR_TEXT`] bytes, as QEMU cuts it).
    #[error("JSON parse error, {}", cut_parse_error(.0))]
    Parse(ParseError),
    /// The message (or one token) is larger than the size limit.
    #[error("JSON token size limit exceeded")]
    TokenSize,
    /// The message has more tokens than the limit.
    #[error("JSON token count limit exceeded")]
    TokenCount,
    /// The message nests deeper than the limit.
    #[error("JSON nesting depth limit exceeded")]
    Nesting,
    /// A document held a second value (see [`from_slice`]).
    #[error("Expecting at most one JSON value")]
    TrailingValue,
    /// A document held no value (see [`from_slice`]).
    #[error("Expecting a JSON value")]
    Empty,
}

/// A grammar error; `Display` is QEMU's text after `JSON parse error, `.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A value was expected (also for trailing commas and stray `}`/`]`).
    #[error("expecting value")]
    ExpectingValue,
    /// An object member was followed by something other than `,` or `}`.
    #[error("expected separator in dict")]
    ExpectedSeparatorInDict,
    /// An array element was followed by something other than `,` or `]`.
    #[error("expected separator in list")]
    ExpectedSeparatorInList,
    /// A key was not followed by `:`.
    #[error("missing : in object pair")]
    MissingColon,
    /// A key that is not a string.
    #[error("key is not a string in object")]
    KeyNotString,
    /// The same key twice in one object.
    #[error("duplicate key")]
    DuplicateKey,
    /// A lower-case word other than `true`, `false`, `null` (no more of
    /// it than QEMU's message can show).
    #[error("invalid keyword '{0}'")]
    InvalidKeyword(String),
    /// A backslash followed by a character that is no escape.
    #[error("invalid escape sequence in string")]
    InvalidEscape,
    /// A `\u` escape (or pair) that is no valid character; holds its text.
    #[error("{0} is not a valid Unicode character")]
    InvalidUnicode(String),
    /// Raw string bytes that are not valid (modified) UTF-8.
    #[error("invalid UTF-8 sequence in string")]
    InvalidUtf8,
    /// The input ended inside a value (only at the end of a document).
    #[error("premature EOI")]
    PrematureEoi,
}

/// A grammar error's text as QEMU's message buffer holds it.
fn cut_parse_error(error: &ParseError) -> String {
    let mut text = error.to_string();
    if text.len() > MAX_PARSE_ERROR_TEXT {
        let mut end = MAX_PARSE_ERROR_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// One decoded message: a value, or the error QEMU reports in its place.
pub type Decoded = Result<Value, JsonError>;

/// What the lexer noticed in a string token, so that decoding can take a
/// shortcut for the common plain-ASCII case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StringShape {
    /// The token contains a backslash.
    pub(crate) escaped: bool,
    /// The token contains a byte from 0x80 up.
    pub(crate) non_ascii: bool,
}

/// Token kinds, as the lexer hands them to the message layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    Integer,
    Float,
    Keyword,
    String,
    /// A token cut off at the size limit, still unfinished.
    Oversized,
}

/// Lexer states, after QEMU's lexer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    Start,
    /// After an error: skipping to a resynchronisation byte.
    Recovery,
    /// Inside a string delimited by `quote`.
    Str {
        quote: u8,
    },
    /// Right after a backslash inside a string.
    StrEscape {
        quote: u8,
    },
    /// `0`
    Zero,
    /// `-`
    Sign,
    /// `[1-9][0-9]*`, or after the sign
    Digits,
    /// After `.`
    Mantissa,
    /// After `.` and a digit
    MantissaDigits,
    /// After `e`/`E`
    Exp,
    /// After the exponent sign
    ExpSign,
    /// Exponent digits
    ExpDigits,
    /// `[a-z]+`
    Keyword,
}

impl Lex {
    /// The token this state ends as when a byte it cannot take arrives, if
    /// it ends by lookahead rather than by error.
    fn lookahead_token(self) -> Option<Token> {
        match self {
            Lex::Zero | Lex::Digits => Some(Token::Integer),
            Lex::MantissaDigits | Lex::ExpDigits => Some(Token::Float),
            Lex::Keyword => Some(Token::Keyword),
            _ => None,
        }
    }
}

/// Bytes that can stay inside a string without a closer look: printable
/// ASCII except the quotes and the backslash. (Bytes 0x80..=0xFD are valid
/// too but take the slower path, which notes that the string is not ASCII.)
static STRING_PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x80 {
        table[b] = !matches!(b as u8, b'"' | b'\'' | b'\\');
        b += 1;
    }
    table
};

/// The length of the leading run of plain string bytes (see
/// [`STRING_PLAIN`]), found eight bytes at a time; it may stop short of the
/// first special byte, never past it.
fn plain_ascii_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// High bit set in each byte of `w` that is zero (exact when no byte
    /// of `w` has its high bit set, which the caller checks too).
    fn zero_bytes(w: u64) -> u64 {
        w.wrapping_sub(ONES) & !w & HIGH
    }
    let mut done = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let special = w & HIGH // 0x80 and up
            | w.wrapping_sub(ONES * 0x20) & !w & HIGH // below 0x20
            | zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\'')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            break;
        }
        done += 8;
    }
    done
}

/// True for the bytes that end error recovery: structural characters,
/// control bytes other than TAB, and 0xFE/0xFF.
fn resynchronises(b: u8) -> bool {
    matches!(b, b'[' | b']' | b'{' | b'}' | b':' | b',' | 0xFE | 0xFF) || (b < 0x20 && b != b'\t')
}

/// The incremental decoder. See the module documentation.
///
/// ```
/// use qmp_wire::{Decoder, Value};
/// let mut decoder = Decoder::new();
/// decoder.feed(b"{'execute': 'query-status'}\n{\"a\"");
/// let first = decoder.next().unwrap().unwrap();
/// assert_eq!(first.get("execute").and_then(Value::as_str), Some("query-status"));
/// assert!(decoder.next().is_none()); // the second object is not complete yet
/// ```
pub struct Decoder {
    limits: Limits,
    lex: Lex,
    /// The start of the current token when it began in an earlier chunk.
    carried: Vec<u8>,
    /// What the lexer saw in the current string token.
    string: StringShape,
    braces: i64,
    brackets: i64,
    tokens: usize,
    token_bytes: usize,
    parser: Parser,
    ready: VecDeque<Decoded>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("limits", &self.limits)
            .field("lex", &self.lex)
            .field("pending_tokens", &self.tokens)
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder with QEMU's limits.
    pub fn new() -> Decoder {
        Decoder::with_limits(Limits::QEMU)
    }

    /// A decoder with other limits (a client may want a smaller size limit).
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            limits,
            lex: Lex::Start,
            carried: Vec::new(),
            string: StringShape::default(),
            braces: 0,
            brackets: 0,
            tokens: 0,
            token_bytes: 0,
            parser: Parser::default(),
            ready: VecDeque::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Consumes all of `input`; decoded messages queue up for [`Decoder::next`].
    pub fn feed(&mut self, input: &[u8]) {
        self.run(input, false);
    }

    /// Consumes `input` up to and including the first byte that completes a
    /// message (or all of it), and returns how many bytes it consumed.
    ///
    /// This is how QEMU reads a monitor that must stop after each request:
    /// the bytes after it stay unread, not even lexed.
    pub fn feed_until_message(&mut self, input: &[u8]) -> usize {
        self.run(input, true)
    }

    /// The next decoded message, if one is complete.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Decoded> {
        self.ready.pop_front()
    }

    /// True when a decoded message is waiting.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// True when part of a message has been read but not completed.
    pub fn is_mid_message(&self) -> bool {
        self.tokens > 0 || !matches!(self.lex, Lex::Start | Lex::Recovery)
    }

    /// Ends the input: a pending number or keyword is completed, an
    /// unterminated token is a stray error, and an unfinished message is
    /// `premature EOI`, as QEMU's end-of-input flush does.
    pub fn finish(&mut self) {
        let token = std::mem::take(&mut self.carried);
        match self.lex {
            Lex::Start | Lex::Recovery => {}
            state => match state.lookahead_token() {
                Some(kind) => self.token(kind, &token),
                None => self.lex_error(&token),
            },
        }
        self.lex = Lex::Start;
        if self.tokens > 0 {
            let item = match self.parser.finish() {
                Outcome::Value(v) => Ok(v),
                Outcome::Error(e) => Err(JsonError::Parse(e)),
                Outcome::Incomplete => Err(JsonError::Parse(ParseError::PrematureEoi)),
            };
            self.end_message(item);
        }
    }

    /// Forgets all input, partial and decoded (a new connection).
    pub fn reset(&mut self) {
        *self = Decoder::with_limits(self.limits);
    }

    fn run(&mut self, input: &[u8], stop_when_ready: bool) -> usize {
        let len = input.len();
        let mut i = 0;
        // Where the current token starts in `input` (0 when it was carried in).
        let mut start = 0;
        // Set when a lookahead token ended: the byte is looked at again
        // before the stop check, as QEMU processes it in the same step.
        let mut reprocess = false;
        while i < len {
            if stop_when_ready && !reprocess && !self.ready.is_empty() {
                break;
            }
            reprocess = false;
            let b = input[i];
            match self.lex {
                Lex::Start => {
                    start = i;
                    i += 1;
                    match b {
                        b' ' | b'\t' | b'\r' | b'\n' => {
                            while i < len && matches!(input[i], b' ' | b'\t' | b'\r' | b'\n') {
                                i += 1;
                            }
                            continue;
                        }
                        b'{' => self.token(Token::LCurly, b"{"),
                        b'}' => self.token(Token::RCurly, b"}"),
                        b'[' => self.token(Token::LSquare, b"["),
                        b']' => self.token(Token::RSquare, b"]"),
                        b':' => self.token(Token::Colon, b":"),
                        b',' => self.token(Token::Comma, b","),
                        b'"' | b'\'' => {
                            self.string = StringShape::default();
                            self.lex = Lex::Str { quote: b };
                        }
                        b'0' => self.lex = Lex::Zero,
                        b'1'..=b'9' => self.lex = Lex::Digits,
                        b'-' => self.lex = Lex::Sign,
                        b'a'..=b'z' => self.lex = Lex::Keyword,
                        _ => self.lex_error(&[b]),
                    }
                }
                Lex::Recovery => {
                    match input[i..].iter().position(|&b| resynchronises(b)) {
                        Some(skip) => {
                            i += skip;
                            self.lex = Lex::Start;
                        }
                        None => i = len,
                    }
                    continue;
                }
                Lex::Str { quote } => {
                    let room = self.token_room(start, i);
                    let end = len.min(i.saturating_add(room));
                    let mut j = i + plain_ascii_prefix(&input[i..end]);
                    while j < end {
                        let c = input[j];
                        if STRING_PLAIN[usize::from(c)] {
                            j += 1;
                            continue;
                        }
                        j += 1;
                        if c == quote {
                            self.lex = Lex::Start;
                            self.finish_token(Token::String, input, start, j);
                        } else if c == b'\\' {
                            self.string.escaped = true;
                            self.lex = Lex::StrEscape { quote };
                        } else if c == b'"' || c == b'\'' {
                            continue;
                        } else if (0x80..=0xFD).contains(&c) {
                            self.string.non_ascii = true;
                            continue;
                        } else {
                            self.lex_error_at(input, start, j);
                        }
                        break;
                    }
                    i = j;
                }
                Lex::StrEscape { quote } => {
                    i += 1;
                    if (0x20..=0xFD).contains(&b) {
                        self.string.non_ascii |= b >= 0x80;
                        self.lex = Lex::Str { quote };
                    } else {
                        self.lex_error_at(input, start, i);
                    }
                }
                Lex::Keyword => {
                    let room = self.token_room(start, i);
                    let end = len.min(i.saturating_add(room));
                    let run = input[i..end]
                        .iter()
                        .position(|c| !c.is_ascii_lowercase())
                        .unwrap_or(end - i);
                    i += run;
                    if i < end {
                        // The byte after the word ends it and is looked at again.
                        self.lex = Lex::Start;
                        self.finish_token(Token::Keyword, input, start, i);
                        reprocess = true;
                        continue;
                    }
                }
                Lex::Digits | Lex::MantissaDigits | Lex::ExpDigits if b.is_ascii_digit() => {
                    let end = len.min(i.saturating_add(self.token_room(start, i)));
                    let run = input[i..end]
                        .iter()
                        .position(|c| !c.is_ascii_digit())
                        .unwrap_or(end - i);
                    i += run;
                }
                state => {
                    // The other number states, one byte at a time.
                    let next = match (state, b) {
                        (Lex::Zero, b'0'..=b'9') => None,
                        (Lex::Zero, b'.') => Some(Lex::Mantissa),
                        (Lex::Sign, b'0') => Some(Lex::Zero),
                        (Lex::Sign, b'1'..=b'9') => Some(Lex::Digits),
                        (Lex::Digits, b'0'..=b'9') => Some(Lex::Digits),
                        (Lex::Digits, b'.') => Some(Lex::Mantissa),
                        (Lex::Digits | Lex::MantissaDigits, b'e' | b'E') => Some(Lex::Exp),
                        (Lex::Mantissa | Lex::MantissaDigits, b'0'..=b'9') => {
                            Some(Lex::MantissaDigits)
                        }
                        (Lex::Exp, b'-' | b'+') => Some(Lex::ExpSign),
                        (Lex::Exp | Lex::ExpSign | Lex::ExpDigits, b'0'..=b'9') => {
                            Some(Lex::ExpDigits)
                        }
                        _ => None,
                    };
                    match (next, state.lookahead_token()) {
                        (Some(next), _) => {
                            self.lex = next;
                            i += 1;
                        }
                        (None, Some(kind)) if !(state == Lex::Zero && b.is_ascii_digit()) => {
                            self.lex = Lex::Start;
                            self.finish_token(kind, input, start, i);
                            reprocess = true;
                            continue;
                        }
                        (None, _) => {
                            i += 1;
                            self.lex_error_at(input, start, i);
                        }
                    }
                }
            }
            if self.in_token() && self.token_room(start, i) == 0 {
                self.oversized(input, start, i);
            }
        }
        if self.in_token() {
            let part = input.get(start..i).unwrap_or_default();
            self.carried.extend_from_slice(part);
        }
        i
    }

    /// True while the lexer is inside a token.
    fn in_token(&self) -> bool {
        !matches!(self.lex, Lex::Start | Lex::Recovery)
    }

    /// How many more bytes the current token may take before it is cut at
    /// the size limit (QEMU cuts a token once it is longer than the limit).
    fn token_room(&self, start: usize, i: usize) -> usize {
        let have = self.carried.len() + (i - start);
        (self.limits.max_message_bytes + 1).saturating_sub(have)
    }

    /// A token grew past the size limit: hand the piece on (the message
    /// layer reports the limit) and lex afresh from the next byte.
    fn oversized(&mut self, input: &[u8], start: usize, end: usize) {
        self.lex = Lex::Start;
        self.finish_token(Token::Oversized, input, start, end);
    }

    /// Completes the token `input[start..end]`, prefixed by any carried part.
    fn finish_token(&mut self, kind: Token, input: &[u8], start: usize, end: usize) {
        let part = input.get(start..end).unwrap_or_default();
        if self.carried.is_empty() {
            self.token(kind, part);
        } else {
            let mut text = std::mem::take(&mut self.carried);
            text.extend_from_slice(part);
            self.token(kind, &text);
            text.clear();
            self.carried = text;
        }
    }

    /// A lexical error whose token text is `input[start..end]` plus any
    /// carried part.
    fn lex_error_at(&mut self, input: &[u8], start: usize, end: usize) {
        let part = input.get(start..end).unwrap_or_default();
        let mut text = std::mem::take(&mut self.carried);
        text.extend_from_slice(part);
        self.lex_error(&text);
        text.clear();
        self.carried = text;
    }

    fn lex_error(&mut self, text: &[u8]) {
        self.lex = Lex::Recovery;
        self.end_message(Err(JsonError::Stray(text::c_text(text))));
    }

    /// The message layer: counts brackets, enforces the limits, feeds the
    /// parser and ends the message when the brackets balance.
    fn token(&mut self, kind: Token, text: &[u8]) {
        match kind {
            Token::LCurly => self.braces += 1,
            Token::RCurly => self.braces -= 1,
            Token::LSquare => self.brackets += 1,
            Token::RSquare => self.brackets -= 1,
            _ => {}
        }
        let limits = self.limits;
        if self
            .token_bytes
            .saturating_add(text.len())
            .saturating_add(1)
            > limits.max_message_bytes
        {
            return self.end_message(Err(JsonError::TokenSize));
        }
        if self.tokens + 1 > limits.max_tokens {
            return self.end_message(Err(JsonError::TokenCount));
        }
        if self.braces + self.brackets > limits.max_nesting as i64 {
            return self.end_message(Err(JsonError::Nesting));
        }
        self.tokens += 1;
        self.token_bytes += text.len();
        self.parser.push(kind, text, self.string);
        let open = self.braces > 0 || self.brackets > 0;
        if open && self.braces >= 0 && self.brackets >= 0 {
            return;
        }
        let item = match self.parser.finish() {
            Outcome::Value(v) => Ok(v),
            Outcome::Error(e) => Err(JsonError::Parse(e)),
            // Balanced brackets always end a value or an error; this only
            // guards against a grammar bug.
            Outcome::Incomplete => Err(JsonError::Parse(ParseError::PrematureEoi)),
        };
        self.end_message(item);
    }

    /// Queues a result and readies the message layer for the next message.
    fn end_message(&mut self, item: Decoded) {
        self.braces = 0;
        self.brackets = 0;
        self.tokens = 0;
        self.token_bytes = 0;
        self.parser.reset();
        self.ready.push_back(item);
    }
}

/// Decodes a complete document holding exactly one value (a file, a saved
/// reply), with QEMU's syntax and errors.
pub fn from_slice(input: &[u8]) -> Result<Value, JsonError> {
    let mut decoder = Decoder::new();
    decoder.feed(input);
    decoder.finish();
    let first = decoder.next().ok_or(JsonError::Empty)??;
    match decoder.next() {
        None => Ok(first),
        Some(_) => Err(JsonError::TrailingValue),
    }
}

/// Decodes a complete document from a string (see [`from_slice`]).
pub fn from_str(input: &str) -> Result<Value, JsonError> {
    from_slice(input.as_bytes())
}
