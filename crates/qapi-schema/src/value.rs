//! The JSON-like values of schema expressions as the parser produces them:
//! objects (with key order kept), arrays, strings and booleans.

/// A parsed schema value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `{ 'key': value, ... }`, keys unique, in source order.
    Object(Object),
    /// `[ value, ... ]`
    Array(Vec<Value>),
    /// `'text'`
    Str(String),
    /// `true` or `false`
    Bool(bool),
}

/// An object: key/value pairs in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

impl Object {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, mutable.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Entries in source order, mutable (keys included, so that checks can
    /// move them out).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&mut String, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (k, v))
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in source order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Appends an entry (the caller guarantees the key is new).
    pub(crate) fn push(&mut self, key: String, value: Value) {
        self.entries.push((key, value));
    }
}

impl Value {
    /// Python truthiness: empty strings, arrays and objects and `false` are
    /// false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Object(o) => !o.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Str(s) => !s.is_empty(),
            Value::Bool(b) => *b,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, mutable.
    pub(crate) fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The array, mutable.
    pub(crate) fn as_array_mut(&mut self) -> Option<&mut [Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}
