//! The grammar: builds one value from the tokens of one message, pushed one
//! at a time, and finds the same first error QEMU's recursive-descent parser
//! finds in the same token list.
//!
//! QEMU parses a message only once its brackets balance; this parser works
//! as the tokens arrive but keeps only the first error, so the outcome is
//! the same while memory for a doomed message is released early.

use std::collections::HashSet;

use super::text::{decode_string, float_value, integer_value};
use super::{ParseError, StringShape, Token, MAX_PARSE_ERROR_TEXT};
use crate::{Map, Value};

/// Objects with this many members switch their duplicate-key check from a
/// scan to a hash set, so hostile input cannot make parsing quadratic.
const KEY_SET_THRESHOLD: usize = 24;

/// Where an array stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// After `[`: a value or `]`.
    Open,
    /// After a value: `,` or `]`.
    AfterValue,
    /// After `,`: a value.
    AfterComma,
}

/// Where an object stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ObjectState {
    /// After `{`: a key or `}`.
    Open,
    /// After a key: `:`.
    AfterKey,
    /// After `:`: a value.
    AfterColon,
    /// After a value: `,` or `}`.
    AfterValue,
    /// After `,`: a key.
    AfterComma,
}

enum Frame {
    Array(Vec<Value>, ArrayState),
    Object {
        map: Map,
        state: ObjectState,
        key: String,
        keys: Option<HashSet<String>>,
    },
}

/// What the parser makes of the tokens pushed so far.
pub(super) enum Outcome {
    /// More tokens are needed.
    Incomplete,
    /// A complete value.
    Value(Value),
    /// The first error.
    Error(ParseError),
}

/// A push parser for one message at a time.
#[derive(Default)]
pub(super) struct Parser {
    stack: Vec<Frame>,
    root: Option<Value>,
    error: Option<ParseError>,
}

impl Parser {
    /// True once an error was found: later tokens of the message are ignored.
    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Takes the result and readies the parser for the next message.
    pub(super) fn finish(&mut self) -> Outcome {
        self.stack.clear();
        if let Some(error) = self.error.take() {
            self.root = None;
            Outcome::Error(error)
        } else if let Some(value) = self.root.take() {
            Outcome::Value(value)
        } else {
            Outcome::Incomplete
        }
    }

    /// Drops any partial message.
    pub(super) fn reset(&mut self) {
        self.stack.clear();
        self.root = None;
        self.error = None;
    }

    fn fail(&mut self, error: ParseError) {
        self.stack.clear();
        self.root = None;
        self.error = Some(error);
    }

    /// Feeds one token; `text` is its bytes, `shape` what the lexer saw in
    /// a string token.
    pub(super) fn push(&mut self, token: Token, text: &[u8], shape: StringShape) {
        if self.failed() {
            return;
        }
        let expects_value = match self.stack.last() {
            None => true,
            Some(Frame::Array(_, state)) => *state != ArrayState::AfterValue,
            Some(Frame::Object { state, .. }) => {
                !matches!(state, ObjectState::AfterKey | ObjectState::AfterValue)
            }
        };
        if expects_value {
            self.value_token(token, text, shape);
        } else {
            self.separator_token(token);
        }
    }

    fn value_token(&mut self, token: Token, text: &[u8], shape: StringShape) {
        match token {
            Token::LCurly => self.stack.push(Frame::Object {
                map: Map::new(),
                state: ObjectState::Open,
                key: String::new(),
                keys: None,
            }),
            Token::LSquare => self.stack.push(Frame::Array(Vec::new(), ArrayState::Open)),
            Token::RSquare
                if matches!(self.stack.last(), Some(Frame::Array(_, ArrayState::Open))) =>
            {
                self.close()
            }
            Token::RCurly
                if matches!(
                    self.stack.last(),
                    Some(Frame::Object {
                        state: ObjectState::Open,
                        ..
                    })
                ) =>
            {
                self.close()
            }
            Token::String => match decode_string(text, shape) {
                Ok(s) => self.deliver(Value::String(s)),
                Err(e) => self.fail(e),
            },
            Token::Integer => self.deliver(integer_value(text)),
            Token::Float => self.deliver(float_value(text)),
            Token::Keyword => match text {
                b"true" => self.deliver(Value::Bool(true)),
                b"false" => self.deliver(Value::Bool(false)),
                b"null" => self.deliver(Value::Null),
                _ => {
                    // Only this much can show in QEMU's message; a longer
                    // word (up to the token size limit) is not kept whole.
                    let shown = text.get(..MAX_PARSE_ERROR_TEXT).unwrap_or(text);
                    self.fail(ParseError::InvalidKeyword(
                        String::from_utf8_lossy(shown).into_owned(),
                    ))
                }
            },
            _ => self.fail(ParseError::ExpectingValue),
        }
    }

    fn separator_token(&mut self, token: Token) {
        let error = match self.stack.last_mut() {
            Some(Frame::Array(_, state)) => match token {
                Token::Comma => {
                    *state = ArrayState::AfterComma;
                    return;
                }
                Token::RSquare => return self.close(),
                _ => ParseError::ExpectedSeparatorInList,
            },
            Some(Frame::Object { state, .. }) => match (*state, token) {
                (ObjectState::AfterKey, Token::Colon) => {
                    *state = ObjectState::AfterColon;
                    return;
                }
                (ObjectState::AfterKey, _) => ParseError::MissingColon,
                (_, Token::Comma) => {
                    *state = ObjectState::AfterComma;
                    return;
                }
                (_, Token::RCurly) => return self.close(),
                _ => ParseError::ExpectedSeparatorInDict,
            },
            None => ParseError::ExpectingValue,
        };
        self.fail(error);
    }

    /// Closes the innermost container and hands it to its parent.
    fn close(&mut self) {
        match self.stack.pop() {
            Some(Frame::Array(items, _)) => self.deliver(Value::Array(items)),
            Some(Frame::Object { map, .. }) => self.deliver(Value::Object(map)),
            None => self.fail(ParseError::ExpectingValue),
        }
    }

    /// Hands a finished value to the container expecting it.
    fn deliver(&mut self, value: Value) {
        let error = match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                return;
            }
            Some(Frame::Array(items, state)) => {
                items.push(value);
                *state = ArrayState::AfterValue;
                return;
            }
            Some(Frame::Object {
                map,
                state,
                key,
                keys,
            }) => match *state {
                ObjectState::AfterColon => {
                    let name = std::mem::take(key);
                    let duplicate = match keys {
                        Some(set) => !set.insert(name.clone()),
                        None => map.contains_key(&name),
                    };
                    if duplicate {
                        ParseError::DuplicateKey
                    } else {
                        map.push_new(name, value);
                        if keys.is_none() && map.len() >= KEY_SET_THRESHOLD {
                            *keys = Some(map.keys().cloned().collect());
                        }
                        *state = ObjectState::AfterValue;
                        return;
                    }
                }
                _ => match value {
                    Value::String(name) => {
                        *key = name;
                        *state = ObjectState::AfterKey;
                        return;
                    }
                    _ => ParseError::KeyNotString,
                },
            },
        };
        self.fail(error);
    }
}
