//! The proxy's configuration file (JSON): listeners with their policies,
//! the audit log and its redaction rules.
//!
//! ```json
//! {
//!   "listen": [
//!     {"address": "unix:/run/vm1/qmp.sock"},
//!     {"address": "unix:/run/vm1/qmp-ro.sock", "read-only": true},
//!     {"address": "tcp:127.0.0.1:4445", "deny": ["quit"], "max-in-flight": 4}
//!   ],
//!   "audit": "/var/log/vm1-qmp-audit.jsonl",
//!   "redact": [{"command": "set_password", "member": "password"}]
//! }
//! ```
//!
//! `redact`, when given, replaces the default rules
//! ([`RedactRule::defaults`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::RedactRule;
use crate::error::{Error, Result};
use crate::listen::ListenAddress;
use crate::policy::{Policy, DEFAULT_MAX_IN_FLIGHT};

/// One listener and its policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Where to listen.
    pub address: ListenAddress,
    /// What its clients may do.
    pub policy: Policy,
}

impl ListenerConfig {
    /// A listener with the default (unrestricted) policy.
    pub fn new(address: ListenAddress) -> ListenerConfig {
        ListenerConfig {
            address,
            policy: Policy::default(),
        }
    }
}

/// What a configuration file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileConfig {
    /// Listeners.
    pub listen: Vec<ListenerConfig>,
    /// The audit log's path.
    pub audit: Option<PathBuf>,
    /// Redaction rules, when the file gives them.
    pub redact: Option<Vec<RedactRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    listen: Vec<RawListener>,
    audit: Option<PathBuf>,
    redact: Option<Vec<RedactRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawListener {
    address: String,
    #[serde(default)]
    read_only: bool,
    allow: Option<std::collections::BTreeSet<String>>,
    #[serde(default)]
    deny: std::collections::BTreeSet<String>,
    max_in_flight: Option<usize>,
}

impl FileConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.into(),
            message: e.to_string(),
        })?;
        FileConfig::parse(&text).map_err(|message| Error::Config {
            path: path.into(),
            message,
        })
    }

    /// Parses a configuration's text.
    pub fn parse(text: &str) -> std::result::Result<FileConfig, String> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let listen = raw
            .listen
            .into_iter()
            .map(|l| {
                let address = l.address.parse().map_err(|e: Error| e.to_string())?;
                let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
                if max_in_flight == 0 {
                    return Err(format!("{address}: max-in-flight must be at least 1"));
                }
                let policy = Policy {
                    read_only: l.read_only,
                    allow: l.allow,
                    deny: l.deny,
                    max_in_flight,
                };
                Ok(ListenerConfig { address, policy })
            })
            .collect::<std::result::Result<_, String>>()?;
        Ok(FileConfig {
            listen,
            audit: raw.audit,
            redact: raw.redact,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"{
          "listen": [
            {"address": "unix:/run/vm1/qmp.sock"},
            {"address": "unix:/run/vm1/qmp-ro.sock", "read-only": true},
            {"address": "tcp:127.0.0.1:4445", "deny": ["quit"], "max-in-flight": 4}
          ],
          "audit": "/var/log/vm1-qmp-audit.jsonl",
          "redact": [{"command": "set_password", "member": "password"}]
        }"#;
        let config = FileConfig::parse(text).unwrap();
        assert_eq!(config.listen.len(), 3);
        assert!(config.listen[1].policy.read_only);
        assert_eq!(config.listen[2].policy.max_in_flight, 4);
        assert_eq!(config.listen[2].policy.check("quit"), Err("denied"));
        assert_eq!(config.redact.map(|r| r.len()), Some(1));
    }

    #[test]
    fn rejects_unknown_keys_with_their_place() {
        let err = FileConfig::parse(r#"{"listen": [{"address": "tcp:1", "read_only": true}]}"#)
            .unwrap_err();
        assert!(err.contains("read_only"), "{err}");
        let err = FileConfig::parse(r#"{"listen": [{"address": "tcp:1", "max-in-flight": 0}]}"#)
            .unwrap_err();
        assert!(err.contains("max-in-flight"), "{err}");
    }
}
