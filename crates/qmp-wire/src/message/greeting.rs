//! The greeting a QMP server sends on connect.

use super::{object, MessageError};
use crate::{Map, Value};

/// `{"QMP": {"version": ..., "capabilities": [...]}}`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// The server's version (the shape of `query-version`'s result).
    pub version: VersionInfo,
    /// The capabilities offered (QEMU knows only `oob`).
    pub capabilities: Vec<String>,
}

/// The result of `query-version`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VersionInfo {
    /// Major, minor, micro.
    pub qemu: QemuVersion,
    /// The build's package string (may be empty).
    pub package: String,
}

/// A QEMU version triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct QemuVersion {
    /// Major version.
    pub major: i64,
    /// Minor version.
    pub minor: i64,
    /// Micro version.
    pub micro: i64,
}

/// `MAJOR.MINOR.MICRO`, as QEMU prints its version.
impl std::fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

impl VersionInfo {
    /// The value, members in the order QEMU inserts them.
    pub fn to_value(&self) -> Value {
        let q = &self.qemu;
        object([
            (
                "qemu",
                object([
                    ("major", q.major.into()),
                    ("minor", q.minor.into()),
                    ("micro", q.micro.into()),
                ]),
            ),
            ("package", self.package.as_str().into()),
        ])
    }

    /// Reads a `query-version` result; unknown members are ignored.
    pub fn from_value(value: &Value) -> Result<VersionInfo, MessageError> {
        let qemu = value
            .get("qemu")
            .and_then(Value::as_object)
            .ok_or_else(|| MessageError("version lacks 'qemu'".into()))?;
        let part = |key: &str| {
            qemu.get(key)
                .and_then(Value::as_i64)
                .ok_or_else(|| MessageError(format!("version lacks '{key}'")))
        };
        Ok(VersionInfo {
            qemu: QemuVersion {
                major: part("major")?,
                minor: part("minor")?,
                micro: part("micro")?,
            },
            package: value
                .get("package")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

impl Greeting {
    /// The greeting as a value, members in the order QEMU inserts them.
    pub fn to_value(&self) -> Value {
        let capabilities = self
            .capabilities
            .iter()
            .map(|c| Value::from(c.as_str()))
            .collect::<Vec<_>>();
        object([(
            "QMP",
            object([
                ("version", self.version.to_value()),
                ("capabilities", capabilities.into()),
            ]),
        )])
    }

    pub(super) fn from_map(map: Map) -> Result<Greeting, MessageError> {
        let qmp = map
            .get("QMP")
            .ok_or_else(|| MessageError("greeting lacks 'QMP'".into()))?;
        let version = VersionInfo::from_value(
            qmp.get("version")
                .ok_or_else(|| MessageError("greeting lacks 'version'".into()))?,
        )?;
        let capabilities = qmp
            .get("capabilities")
            .and_then(Value::as_array)
            .ok_or_else(|| MessageError("greeting lacks 'capabilities'".into()))?
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        Ok(Greeting {
            version,
            capabilities,
        })
    }

    /// True when the server offers out-of-band execution.
    pub fn offers_oob(&self) -> bool {
        self.capabilities.iter().any(|c| c == "oob")
    }
}
