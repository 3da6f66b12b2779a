//! JSON encoded once and sent many times (the `query-qmp-schema` reply).

use qmp_wire::{Encoder, MemberOrder, Value};

/// A value together with its compact encoding, made once.
#[derive(Debug)]
pub struct EncodedJson {
    value: Value,
    order: MemberOrder,
    compact: Vec<u8>,
}

impl EncodedJson {
    /// Encodes `value` compactly in member order `order`.
    pub fn new(value: Value, order: MemberOrder) -> EncodedJson {
        let mut compact = Vec::new();
        Encoder::QMP
            .with_order(order)
            .write_value(&value, &mut compact);
        EncodedJson {
            value,
            order,
            compact,
        }
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The compact encoding (no line ending).
    pub fn compact(&self) -> &[u8] {
        &self.compact
    }

    /// The member order the encoding used.
    pub fn order(&self) -> MemberOrder {
        self.order
    }
}
