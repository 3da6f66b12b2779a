//! The private helper module every generated file ends with (`__rt`):
//! union members in and out, tolerant and QEMU-compatible decoding, event
//! data, and the dispatcher's replies.

/// The text of the helper module.
pub const RUNTIME: &str = r#"/// Helpers of the generated code.
#[allow(dead_code)]
mod __rt {
    use ::serde::de::{Deserialize, DeserializeOwned, Deserializer, Error as _};
    use ::serde::ser::{Error as _, SerializeMap};

    /// The members of a JSON object.
    pub type Members = ::serde_json::Map<::std::string::String, ::serde_json::Value>;

    /// Writes the members of `value` (which serialises to an object).
    pub fn serialize_members<M: SerializeMap, T: ::serde::Serialize + ?Sized>(
        map: &mut M,
        value: &T,
    ) -> ::std::result::Result<(), M::Error> {
        match ::serde_json::to_value(value).map_err(M::Error::custom)? {
            ::serde_json::Value::Object(members) => {
                for (key, value) in &members {
                    map.serialize_entry(key, value)?;
                }
                Ok(())
            }
            _ => Err(M::Error::custom("a union branch must serialize to an object")),
        }
    }

    /// Reads an object and takes its string member `tag` out of it.
    pub fn take_tag<'de, D: Deserializer<'de>>(
        deserializer: D,
        tag: &str,
    ) -> ::std::result::Result<(::std::string::String, Members), D::Error> {
        let mut members = Members::deserialize(deserializer)?;
        match members.remove(tag) {
            Some(::serde_json::Value::String(value)) => Ok((value, members)),
            Some(_) => Err(D::Error::custom(format_args!("invalid type for `{tag}`: expected a string"))),
            None => Err(D::Error::custom(format_args!("missing field `{tag}`"))),
        }
    }

    /// Decodes a branch from the remaining members.
    pub fn from_members<T: DeserializeOwned, E: ::serde::de::Error>(
        members: Members,
    ) -> ::std::result::Result<T, E> {
        ::serde_json::from_value(::serde_json::Value::Object(members)).map_err(E::custom)
    }

    /// Decodes an alternate's branch.
    pub fn from_value<T: DeserializeOwned, E: ::serde::de::Error>(
        value: ::serde_json::Value,
    ) -> ::std::result::Result<T, E> {
        ::serde_json::from_value(value).map_err(E::custom)
    }

    /// An optional member of a type that has `null` among its values:
    /// present (even as `null`) is `Some`.
    pub fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> ::std::result::Result<Option<T>, D::Error> {
        T::deserialize(deserializer).map(Some)
    }

    /// Types that read `uint64`/`size` as QEMU does: negative integers are
    /// accepted and wrapped, for backward compatibility.
    pub trait Compat: Sized {
        /// Reads a value.
        fn read<'de, D: Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error>;
    }

    struct U64Visitor;

    impl ::serde::de::Visitor<'_> for U64Visitor {
        type Value = u64;

        fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
            f.write_str("an integer")
        }

        fn visit_u64<E>(self, v: u64) -> ::std::result::Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E>(self, v: i64) -> ::std::result::Result<u64, E> {
            Ok(v as u64)
        }
    }

    impl Compat for u64 {
        fn read<'de, D: Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
            deserializer.deserialize_any(U64Visitor)
        }
    }

    impl<T: Compat> Compat for Option<T> {
        fn read<'de, D: Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
            T::read(deserializer).map(Some)
        }
    }

    /// One element read with [`Compat`].
    struct Element<T>(T);

    impl<'de, T: Compat> Deserialize<'de> for Element<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
            T::read(deserializer).map(Element)
        }
    }

    impl<T: Compat> Compat for ::std::vec::Vec<T> {
        fn read<'de, D: Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
            let elements: ::std::vec::Vec<Element<T>> = Deserialize::deserialize(deserializer)?;
            Ok(elements.into_iter().map(|e| e.0).collect())
        }
    }

    /// `deserialize_with` for [`Compat`] types.
    pub fn compat<'de, D: Deserializer<'de>, T: Compat>(deserializer: D) -> ::std::result::Result<T, D::Error> {
        T::read(deserializer)
    }

    /// Reads an object, then the struct from its members with `from`.
    pub fn decode<'de, D: Deserializer<'de>, T>(
        deserializer: D,
        from: fn(&mut Members) -> ::std::result::Result<T, D::Error>,
    ) -> ::std::result::Result<T, D::Error> {
        let mut members = Members::deserialize(deserializer)?;
        from(&mut members)
    }

    /// Writes a member.
    pub fn put<M: SerializeMap, T: ::serde::Serialize + ?Sized>(
        map: &mut M,
        name: &'static str,
        value: &T,
    ) -> ::std::result::Result<(), M::Error> {
        map.serialize_entry(name, value)
    }

    /// Writes an optional member when it is set.
    pub fn put_some<M: SerializeMap, T: ::serde::Serialize>(
        map: &mut M,
        name: &'static str,
        value: &Option<T>,
    ) -> ::std::result::Result<(), M::Error> {
        match value {
            Some(value) => map.serialize_entry(name, value),
            None => Ok(()),
        }
    }

    fn read<T: DeserializeOwned, E: ::serde::de::Error>(
        name: &str,
        value: ::serde_json::Value,
    ) -> ::std::result::Result<T, E> {
        ::serde_json::from_value(value).map_err(|e| E::custom(format_args!("member `{name}`: {e}")))
    }

    fn read_compat<T: Compat, E: ::serde::de::Error>(
        name: &str,
        value: ::serde_json::Value,
    ) -> ::std::result::Result<T, E> {
        T::read(value).map_err(|e| E::custom(format_args!("member `{name}`: {e}")))
    }

    /// A required member.
    pub fn required<T: DeserializeOwned, E: ::serde::de::Error>(
        members: &mut Members,
        name: &'static str,
    ) -> ::std::result::Result<T, E> {
        read(name, members.remove(name).ok_or_else(|| E::missing_field(name))?)
    }

    /// A required [`Compat`] member.
    pub fn required_compat<T: Compat, E: ::serde::de::Error>(
        members: &mut Members,
        name: &'static str,
    ) -> ::std::result::Result<T, E> {
        read_compat(name, members.remove(name).ok_or_else(|| E::missing_field(name))?)
    }

    /// An optional member (`null` is absent).
    pub fn optional<T: DeserializeOwned, E: ::serde::de::Error>(
        members: &mut Members,
        name: &str,
    ) -> ::std::result::Result<Option<T>, E> {
        members.remove(name).map_or(Ok(None), |value| read(name, value))
    }

    /// An optional member of a type with `null` among its values: present,
    /// even as `null`, is `Some`.
    pub fn optional_present<T: DeserializeOwned, E: ::serde::de::Error>(
        members: &mut Members,
        name: &str,
    ) -> ::std::result::Result<Option<T>, E> {
        members.remove(name).map(|value| read(name, value)).transpose()
    }

    /// An optional [`Compat`] member.
    pub fn optional_compat<T: Compat, E: ::serde::de::Error>(
        members: &mut Members,
        name: &str,
    ) -> ::std::result::Result<Option<T>, E> {
        members.remove(name).map(|value| read_compat(name, value)).transpose()
    }

    /// A union's branch, from the members its base left (the tag among them).
    pub fn branch<T: DeserializeOwned, E: ::serde::de::Error>(
        members: &mut Members,
    ) -> ::std::result::Result<T, E> {
        let rest = ::std::mem::take(members);
        ::serde_json::from_value(::serde_json::Value::Object(rest)).map_err(E::custom)
    }

    /// Decodes event data (`{}` when absent).
    pub fn event_data<T: DeserializeOwned>(
        data: Option<::qmp_wire::Map>,
    ) -> ::std::result::Result<T, ::serde_json::Error> {
        ::qmp_wire::Value::Object(data.unwrap_or_default()).deserialize_into()
    }

    /// The error of a command the server does not implement.
    pub fn not_implemented(name: &str) -> ::qmp_wire::QmpError {
        ::qmp_wire::QmpError::new(
            ::qmp_wire::ErrorClass::CommandNotFound,
            format!("The command {name} has not been found"),
        )
    }

    /// A method's result as the `return` value.
    pub fn reply<T: ::serde::Serialize>(
        result: ::std::result::Result<T, ::qmp_wire::QmpError>,
    ) -> ::std::result::Result<::qmp_wire::Value, ::qmp_wire::QmpError> {
        let value = result?;
        ::qmp_wire::Value::from_serialize(&value).map_err(|e| ::qmp_wire::QmpError::generic(e.to_string()))
    }

    /// The `return` value of a command that returns nothing: `{}`.
    pub fn reply_empty(
        result: ::std::result::Result<(), ::qmp_wire::QmpError>,
    ) -> ::std::result::Result<::qmp_wire::Value, ::qmp_wire::QmpError> {
        result.map(|()| ::qmp_wire::Value::Object(::qmp_wire::Map::new()))
    }
}
"#;
