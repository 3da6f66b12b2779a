//! What a listener's clients may do: read-only (queries only), allow and
//! deny lists of commands, and how many commands one client may have in
//! flight. A refused command is answered here and never reaches QEMU.

use std::collections::BTreeSet;

/// Commands that only read state, beyond every `query-*` and `x-query-*`.
const READ_ONLY_EXTRA: &[&str] = &[
    "qom-list",
    "qom-get",
    "qom-list-types",
    "qom-list-properties",
    "device-list-properties",
];

/// The default number of in-band commands one client may have in flight
/// through the proxy (QEMU's own in-band queue length).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

/// A listener's policy. The default allows everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Only queries: `query-*`, `x-query-*`, `qom-list`, `qom-get`,
    /// `qom-list-types`, `qom-list-properties`, `device-list-properties`.
    pub read_only: bool,
    /// When given, only these commands (after `read-only`).
    pub allow: Option<BTreeSet<String>>,
    /// Never these commands.
    pub deny: BTreeSet<String>,
    /// In-band commands one client may have in flight; more wait (the
    /// client's further input is not read until one is answered).
    pub max_in_flight: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            read_only: false,
            allow: None,
            deny: BTreeSet::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl Policy {
    /// A read-only policy.
    pub fn read_only() -> Policy {
        Policy {
            read_only: true,
            ..Policy::default()
        }
    }

    /// `Err` with the reason when `command` is refused.
    pub fn check(&self, command: &str) -> Result<(), &'static str> {
        if self.deny.contains(command) {
            return Err("denied");
        }
        if self.read_only && !is_query(command) {
            return Err("read-only");
        }
        if let Some(allow) = &self.allow {
            if !allow.contains(command) {
                return Err("not in the allow list");
            }
        }
        Ok(())
    }
}

/// True for a command that only reads state.
pub fn is_query(command: &str) -> bool {
    command.starts_with("query-")
        || command.starts_with("x-query-")
        || READ_ONLY_EXTRA.contains(&command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_allows_queries_only() {
        let policy = Policy::read_only();
        assert_eq!(policy.check("query-status"), Ok(()));
        assert_eq!(policy.check("qom-get"), Ok(()));
        assert_eq!(policy.check("stop"), Err("read-only"));
        assert_eq!(policy.check("human-monitor-command"), Err("read-only"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let policy = Policy {
            allow: Some(["stop".into(), "cont".into()].into()),
            deny: ["cont".into()].into(),
            ..Policy::default()
        };
        assert_eq!(policy.check("stop"), Ok(()));
        assert_eq!(policy.check("cont"), Err("denied"));
        assert_eq!(policy.check("quit"), Err("not in the allow list"));
    }
}
