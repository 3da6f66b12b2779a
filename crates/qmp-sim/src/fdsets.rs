//! QEMU's fd sets: `add-fd` (a descriptor passed with SCM_RIGHTS joins a
//! set), `query-fdsets` and `remove-fd`, with QEMU's ids, listing order and
//! error texts (monitor/fds.c). Sets belong to the machine, not a session,
//! as in QEMU; a removed descriptor is closed at once (a monitor is always
//! connected while the simulator answers, so QEMU's deferred cleanup never
//! applies), and a set goes when its last descriptor does.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use qmp_server::{CommandEntry, Reply};
use qmp_wire::{Map, QmpError, Value};

/// One descriptor of a set.
struct Member {
    fd: OwnedFd,
    opaque: Option<String>,
}

/// The fd sets by id; each set's members newest first, as QEMU keeps them.
#[derive(Clone, Default)]
pub(crate) struct FdSets {
    sets: Arc<Mutex<BTreeMap<i64, Vec<Member>>>>,
}

impl FdSets {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i64, Vec<Member>>> {
        // Every update is one map operation: poisoning is harmless.
        self.sets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `fd` to set `id` (created if needed), or to a new set with the
    /// lowest free id; returns QEMU's `AddfdInfo`.
    fn add(&self, id: Option<i64>, fd: OwnedFd, opaque: Option<String>) -> Result<Value, QmpError> {
        let mut sets = self.lock();
        let id = match id {
            Some(id) if id < 0 => {
                return Err(QmpError::generic(
                    "Parameter 'fdset-id' expects a non-negative value",
                ))
            }
            Some(id) => id,
            None => (0..).find(|n| !sets.contains_key(n)).unwrap_or_default(),
        };
        let mut info = Map::new();
        info.insert("fdset-id", id);
        info.insert("fd", i64::from(fd.as_raw_fd()));
        sets.entry(id).or_default().insert(0, Member { fd, opaque });
        Ok(Value::Object(info))
    }

    /// `query-fdsets`: sets by descending id, members oldest first (QEMU
    /// prepends while walking its lists).
    fn query(&self) -> Value {
        let sets = self.lock();
        let list = sets
            .iter()
            .rev()
            .map(|(id, members)| {
                let fds = members
                    .iter()
                    .rev()
                    .map(|m| {
                        let mut fd = Map::new();
                        fd.insert("fd", i64::from(m.fd.as_raw_fd()));
                        if let Some(opaque) = &m.opaque {
                            fd.insert("opaque", opaque.as_str());
                        }
                        Value::Object(fd)
                    })
                    .collect::<Vec<_>>();
                let mut set = Map::new();
                set.insert("fdset-id", *id);
                set.insert("fds", fds);
                Value::Object(set)
            })
            .collect();
        Value::Array(list)
    }

    /// `remove-fd`: one descriptor of a set, or all of them.
    fn remove(&self, id: i64, fd: Option<i64>) -> Result<(), QmpError> {
        let mut sets = self.lock();
        let not_found = || {
            let name = match fd {
                Some(fd) => format!("fdset-id:{id}, fd:{fd}"),
                None => format!("fdset-id:{id}"),
            };
            QmpError::generic(format!("File descriptor named '{name}' not found"))
        };
        let members = sets.get_mut(&id).ok_or_else(not_found)?;
        match fd {
            Some(fd) => {
                let at = members
                    .iter()
                    .position(|m| i64::from(m.fd.as_raw_fd()) == fd)
                    .ok_or_else(not_found)?;
                members.remove(at);
            }
            None => members.clear(),
        }
        if members.is_empty() {
            sets.remove(&id);
        }
        Ok(())
    }

    /// The three commands over these sets.
    pub(crate) fn commands(&self) -> Vec<CommandEntry> {
        let sets = self.clone();
        let add = CommandEntry::new("add-fd", move |call| {
            let sets = sets.clone();
            async move {
                let Some(fd) = call.session.take_received_fd() else {
                    return Err(QmpError::generic(
                        "No file descriptor supplied via SCM_RIGHTS",
                    ));
                };
                let id = call.arguments.get("fdset-id").and_then(Value::as_i64);
                let opaque = call
                    .arguments
                    .get("opaque")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                sets.add(id, fd, opaque).map(Reply::Value)
            }
        });
        let sets = self.clone();
        let query = CommandEntry::new("query-fdsets", move |_| {
            let value = sets.query();
            async move { Ok(Reply::Value(value)) }
        });
        let sets = self.clone();
        let remove = CommandEntry::new("remove-fd", move |call| {
            let id = call
                .arguments
                .get("fdset-id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let fd = call.arguments.get("fd").and_then(Value::as_i64);
            let result = sets
                .remove(id, fd)
                .map(|()| Reply::Value(Value::Object(Map::new())));
            async move { result }
        });
        vec![add, query, remove]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        OwnedFd::from(std::fs::File::open("/dev/null").unwrap())
    }

    fn ids(value: &Value) -> Vec<i64> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.get("fdset-id").and_then(Value::as_i64).unwrap())
            .collect()
    }

    #[test]
    fn ids_order_and_removal_follow_qemu() {
        let sets = FdSets::default();
        let first = sets.add(None, fd(), Some("a".into())).unwrap();
        assert_eq!(first.get("fdset-id").and_then(Value::as_i64), Some(0));
        sets.add(Some(5), fd(), None).unwrap();
        let again = sets.add(None, fd(), None).unwrap();
        assert_eq!(again.get("fdset-id").and_then(Value::as_i64), Some(1));
        let second = sets.add(Some(0), fd(), None).unwrap();
        assert_eq!(ids(&sets.query()), [5, 1, 0]);
        let set0 = sets.query().as_array().unwrap()[2].clone();
        let fds = set0.get("fds").and_then(Value::as_array).unwrap();
        assert_eq!(fds[0].get("fd"), first.get("fd"), "oldest first");
        assert_eq!(fds[0].get("opaque").and_then(Value::as_str), Some("a"));
        assert_eq!(fds[1].get("fd"), second.get("fd"));
        assert_eq!(
            sets.add(Some(-1), fd(), None).unwrap_err().desc,
            "Parameter 'fdset-id' expects a non-negative value"
        );
        let first_fd = first.get("fd").and_then(Value::as_i64).unwrap();
        sets.remove(0, Some(first_fd)).unwrap();
        assert_eq!(
            sets.remove(0, Some(first_fd)).unwrap_err().desc,
            format!("File descriptor named 'fdset-id:0, fd:{first_fd}' not found")
        );
        sets.remove(0, None).unwrap();
        assert_eq!(ids(&sets.query()), [5, 1]);
        assert_eq!(
            sets.remove(0, None).unwrap_err().desc,
            "File descriptor named 'fdset-id:0' not found"
        );
    }
}
