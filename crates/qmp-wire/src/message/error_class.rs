//! QMP error classes (QEMU's `QapiErrorClass`).

use std::fmt;

/// The class of a QMP error reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Most errors.
    GenericError,
    /// Unknown or unavailable command.
    CommandNotFound,
    /// A device that exists is not active.
    DeviceNotActive,
    /// A device id that does not exist.
    DeviceNotFound,
    /// KVM lacks a capability.
    KVMMissingCap,
    /// A class this version does not know (kept so replies from other
    /// QEMU versions still read).
    Other(String),
}

impl ErrorClass {
    /// The class name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
            ErrorClass::DeviceNotActive => "DeviceNotActive",
            ErrorClass::DeviceNotFound => "DeviceNotFound",
            ErrorClass::KVMMissingCap => "KVMMissingCap",
            ErrorClass::Other(name) => name,
        }
    }

    /// The class for a wire name; unknown names become [`ErrorClass::Other`].
    pub fn from_name(name: &str) -> ErrorClass {
        match name {
            "GenericError" => ErrorClass::GenericError,
            "CommandNotFound" => ErrorClass::CommandNotFound,
            "DeviceNotActive" => ErrorClass::DeviceNotActive,
            "DeviceNotFound" => ErrorClass::DeviceNotFound,
            "KVMMissingCap" => ErrorClass::KVMMissingCap,
            other => ErrorClass::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "GenericError",
            "CommandNotFound",
            "DeviceNotActive",
            "DeviceNotFound",
            "KVMMissingCap",
            "FutureClass",
        ] {
            assert_eq!(ErrorClass::from_name(name).as_str(), name);
        }
    }
}
