//! Simulated devices and the QOM tree: `device_add`, `device_del` with its
//! later `DEVICE_DELETED`, `qom-list`/`qom-get` on a small tree, and QEMU's
//! `DeviceNotFound` errors for unknown ids (`eject`, `set_link` too).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::shared::Shared;
use qmp_server::{Call, CommandEntry, CommandResult, Reply};
use qmp_wire::{ErrorClass, Map, QmpError, Value};

use crate::machine::{ok_empty, string_arg, sync_entry};

/// How long a device takes to go away after `device_del` (the guest's
/// acknowledgement in QEMU); `DEVICE_DELETED` follows the reply.
pub const DEVICE_UNPLUG_DELAY: Duration = Duration::from_millis(20);

/// The QOM type of `/machine` with `-machine none`.
const MACHINE_TYPE: &str = "none-machine";

const PERIPHERAL: &str = "/machine/peripheral/";

#[derive(Default)]
struct State {
    /// Device id (or anonymous QOM path) to driver.
    devices: BTreeMap<String, String>,
    anonymous: usize,
}

/// The devices added with `device_add`.
#[derive(Clone, Default)]
pub struct Devices {
    state: Shared<State>,
}

fn device_not_found(id: &str) -> QmpError {
    QmpError::new(
        ErrorClass::DeviceNotFound,
        format!("Device '{id}' not found"),
    )
}

impl Devices {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.state.with(f)
    }

    /// The simulated device and QOM commands.
    pub fn commands(&self) -> Vec<CommandEntry> {
        vec![
            sync_entry(self, "device_add", |d, call| d.add(&call)),
            sync_entry(self, "device_del", |d, call| d.delete(&call)),
            sync_entry(self, "qom-list", |d, call| {
                d.qom_list(string_arg(&call, "path"))
            }),
            sync_entry(self, "qom-get", |d, call| {
                d.qom_get(string_arg(&call, "path"), string_arg(&call, "property"))
            }),
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

    /// `device_add`: records the device under its id (or an anonymous path).
    fn add(&self, call: &Call) -> CommandResult {
        let driver = string_arg(call, "driver").to_owned();
        let id = call.arguments.get("id").and_then(Value::as_str);
        self.with(|s| {
            let key = match id {
                Some(id) if s.devices.contains_key(id) => {
                    return Err(QmpError::generic(format!("Duplicate device ID '{id}'")));
                }
                Some(id) => id.to_owned(),
                None => {
                    s.anonymous += 1;
                    format!("/machine/peripheral-anon/device[{}]", s.anonymous - 1)
                }
            };
            s.devices.insert(key, driver);
            ok_empty()
        })
    }

    /// `device_del`: replies at once; `DEVICE_DELETED` follows when the
    /// (simulated) guest lets go.
    fn delete(&self, call: &Call) -> CommandResult {
        let id = string_arg(call, "id");
        let key = id.strip_prefix(PERIPHERAL).unwrap_or(id).to_owned();
        if !self.with(|s| s.devices.contains_key(&key)) {
            return Err(device_not_found(id));
        }
        let devices = self.clone();
        let events = call.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DEVICE_UNPLUG_DELAY).await;
            devices.with(|s| s.devices.remove(&key));
            let mut data = Map::new();
            let path = if key.starts_with('/') {
                key.clone()
            } else {
                data.insert("device", key.as_str());
                format!("{PERIPHERAL}{key}")
            };
            data.insert("path", path);
            events.emit("DEVICE_DELETED", Some(data));
        });
        ok_empty()
    }

    /// The driver of the device at QOM path `path`.
    fn device_type(&self, path: &str) -> Option<String> {
        let key = path.strip_prefix(PERIPHERAL).unwrap_or(path);
        self.with(|s| s.devices.get(key).cloned())
    }

    fn qom_list(&self, path: &str) -> CommandResult {
        let container = |name: &str| (name.to_owned(), "child<container>".to_owned());
        let mut properties: Vec<(String, String)> = match path {
            "/" => vec![
                container("objects"),
                ("machine".into(), format!("child<{MACHINE_TYPE}>")),
            ],
            "/machine" => vec![
                container("peripheral"),
                container("peripheral-anon"),
                container("unattached"),
            ],
            "/machine/peripheral" => self.with(|s| {
                s.devices
                    .iter()
                    .filter(|(id, _)| !id.starts_with('/'))
                    .map(|(id, driver)| (id.clone(), format!("child<{driver}>")))
                    .collect()
            }),
            "/objects" | "/machine/peripheral-anon" | "/machine/unattached" => Vec::new(),
            _ if self.device_type(path).is_some() => Vec::new(),
            _ => return Err(device_not_found(path)),
        };
        properties.insert(0, ("type".into(), "string".into()));
        let list = properties
            .into_iter()
            .map(|(name, ty)| {
                let mut p = Map::new();
                p.insert("name", name);
                p.insert("type", ty);
                Value::Object(p)
            })
            .collect();
        Ok(Reply::Value(Value::Array(list)))
    }

    fn qom_get(&self, path: &str, property: &str) -> CommandResult {
        let type_name = match path {
            "/machine" => MACHINE_TYPE.to_owned(),
            "/"
            | "/objects"
            | "/machine/peripheral"
            | "/machine/peripheral-anon"
            | "/machine/unattached" => "container".to_owned(),
            _ => self
                .device_type(path)
                .ok_or_else(|| device_not_found(path))?,
        };
        match property {
            "type" => Ok(Reply::Value(Value::String(type_name))),
            _ => Err(QmpError::generic(format!(
                "Property '{type_name}.{property}' not found"
            ))),
        }
    }
}
