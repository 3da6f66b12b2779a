//! Devices: `-device` at start and `device_add` at run time put a device
//! into the QOM tree ([`crate::qom`]) under `/machine/peripheral/ID` (or
//! `peripheral-anon`); `device_del` replies at once and `DEVICE_DELETED`
//! follows when the (simulated) guest lets go; QEMU's `DeviceNotFound`
//! errors for unknown ids (`eject`, `set_link` too).

use std::time::Duration;

use qmp_server::{Call, CommandEntry, CommandResult};
use qmp_wire::{Map, QmpError, Value};

use crate::machine::{ok_empty, string_arg, sync_entry};
use crate::qom::{device_not_found, Qom, PERIPHERAL};

/// How long a device takes to go away after `device_del` (the guest's
/// acknowledgement in QEMU); `DEVICE_DELETED` follows the reply.
pub const DEVICE_UNPLUG_DELAY: Duration = Duration::from_millis(20);

/// The devices of a machine.
#[derive(Clone)]
pub struct Devices {
    qom: Qom,
}

impl Devices {
    /// The devices of the machine whose tree is `qom`.
    pub fn new(qom: &Qom) -> Devices {
        Devices { qom: qom.clone() }
    }

    /// The simulated device and QOM commands.
    pub fn commands(&self) -> Vec<CommandEntry> {
        vec![
            sync_entry(self, "device_add", |d, call| d.add(&call)),
            sync_entry(self, "device_del", |d, call| d.delete(&call)),
            sync_entry(self, "eject", |_, call| {
                let device = call
                    .arguments
                    .get("device")
                    .or_else(|| call.arguments.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Err(device_not_found(device))
            }),
            sync_entry(self, "set_link", |_, call| {
                Err(device_not_found(string_arg(&call, "name")))
            }),
        ]
    }

    /// `device_add`: the device, hot-plugged.
    fn add(&self, call: &Call) -> CommandResult {
        self.plug(&call.arguments, true)
    }

    /// Adds a device with `properties` (`driver`, `id`, and its own);
    /// `hotplugged` for `device_add`, not for `-device`.
    pub fn plug(&self, properties: &Map, hotplugged: bool) -> CommandResult {
        let driver = properties
            .get("driver")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self.qom.type_exists(driver) {
            return Err(QmpError::generic(format!(
                "'{driver}' is not a valid device model name"
            )));
        }
        let path = match properties.get("id").and_then(Value::as_str) {
            Some(id) if self.qom.exists(&format!("{PERIPHERAL}{id}")) => {
                return Err(QmpError::generic(format!("Duplicate device ID '{id}'")));
            }
            Some(id) => format!("{PERIPHERAL}{id}"),
            None => self.qom.next_anonymous(),
        };
        let mut values: Map = properties
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "driver" | "id"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        values.insert("realized", true);
        values.insert("hotplugged", hotplugged);
        values.insert("hotpluggable", true);
        self.qom.insert(&path, driver, &values);
        ok_empty()
    }

    /// `device_del`: replies at once; `DEVICE_DELETED` follows when the
    /// (simulated) guest lets go.
    fn delete(&self, call: &Call) -> CommandResult {
        let id = string_arg(call, "id");
        let path = if id.starts_with('/') {
            id.to_owned()
        } else {
            format!("{PERIPHERAL}{id}")
        };
        if !self.qom.exists(&path) || path == PERIPHERAL.trim_end_matches('/') {
            return Err(device_not_found(id));
        }
        let qom = self.qom.clone();
        let events = call.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DEVICE_UNPLUG_DELAY).await;
            qom.remove(&path);
            let mut data = Map::new();
            if let Some(id) = path.strip_prefix(PERIPHERAL) {
                data.insert("device", id);
            }
            data.insert("path", path.as_str());
            events.emit("DEVICE_DELETED", Some(data));
        });
        ok_empty()
    }

    /// The QOM paths and drivers of the devices whose driver starts with
    /// `prefix`.
    pub fn with_driver(&self, prefix: &str) -> Vec<(String, String)> {
        self.qom
            .paths_of_type(prefix)
            .into_iter()
            .filter(|(path, _)| path.starts_with("/machine/peripheral"))
            .collect()
    }
}
