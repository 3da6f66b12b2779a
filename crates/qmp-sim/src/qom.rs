//! The QOM tree: `/machine` with its `peripheral`, `peripheral-anon` and
//! `unattached` containers, `/objects`, and the objects and devices in
//! them, each with the properties its type has in the machine profile
//! (`qom-list-properties`), values given at creation, defaults, and
//! `qom-set`. `qom-list`, `qom-get`, `qom-set`, `object-add`, `object-del`
//! with QEMU's texts. Devices are added here by [`crate::devices`].

use std::collections::BTreeMap;
use std::sync::Arc;

use qmp_server::{CommandEntry, CommandResult, Reply};
use qmp_wire::{ErrorClass, Map, QmpError, Value};

use crate::machine::{ok_empty, string_arg, sync_entry};
use crate::profile::{Profile, Recorded};
use crate::shared::Shared;

/// The containers every machine has, with their QOM type.
const CONTAINERS: &[&str] = &[
    "/objects",
    "/chardevs",
    "/machine/peripheral",
    "/machine/peripheral-anon",
    "/machine/unattached",
];

/// Where `-device` and `device_add` put devices with an id.
pub const PERIPHERAL: &str = "/machine/peripheral/";
/// Where `-object` and `object-add` put objects.
pub const OBJECTS: &str = "/objects/";

/// A property of an object.
#[derive(Clone, Debug)]
struct Property {
    name: String,
    type_name: String,
    value: Option<Value>,
}

/// One object of the tree.
#[derive(Clone, Debug)]
struct Object {
    type_name: String,
    properties: Vec<Property>,
}

#[derive(Default)]
struct State {
    /// Path -> object, the root `/` included.
    objects: BTreeMap<String, Object>,
    /// The next `/machine/unattached/device[N]`.
    next_unattached: usize,
    /// The next `/machine/peripheral-anon/device[N]`.
    next_anonymous: usize,
}

/// The QOM tree of one machine.
#[derive(Clone)]
pub struct Qom {
    state: Shared<State>,
    profile: Option<Arc<Profile>>,
    accelerator: String,
}

pub(crate) fn device_not_found(id: &str) -> QmpError {
    QmpError::new(
        ErrorClass::DeviceNotFound,
        format!("Device '{id}' not found"),
    )
}

/// The parent path and last name of `path`.
fn split(path: &str) -> Option<(&str, &str)> {
    let (parent, name) = path.rsplit_once('/')?;
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

/// What `qom-get` of a property nobody set gives: its default, else the
/// zero of its type.
fn zero_of(type_name: &str) -> Option<Value> {
    Some(match type_name {
        "bool" => Value::Bool(false),
        "str" | "string" => Value::String(String::new()),
        t if t.starts_with("link<") => Value::String(String::new()),
        t if t.starts_with("int") || t.starts_with("uint") || t == "size" || t == "number" => {
            Value::Int(0)
        }
        _ => return None,
    })
}

/// A `key=value` option's text read as the property's type, as QEMU's
/// option visitor reads it (`size=256M`, `share=on`); other values as given.
fn coerce(type_name: &str, value: &Value) -> Value {
    let Value::String(text) = value else {
        return value.clone();
    };
    let parsed = match type_name {
        "bool" => match text.as_str() {
            "on" | "yes" | "true" | "y" => Some(Value::Bool(true)),
            "off" | "no" | "false" | "n" => Some(Value::Bool(false)),
            _ => None,
        },
        "size" => crate::cmdline::parse_size(text, 1).map(Value::from),
        t if t.starts_with("uint") => text.parse::<u64>().ok().map(Value::from),
        t if t.starts_with("int") => text.parse::<i64>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| value.clone())
}

impl Qom {
    /// A tree for a machine of QOM type `machine_type` (`none-machine`,
    /// `pc-i440fx-7.2-machine`, ...), with the properties the profile has.
    pub fn new(machine_type: &str, profile: Option<Arc<Profile>>, accelerator: &str) -> Qom {
        let qom = Qom {
            state: Shared::new(State::default()),
            profile,
            accelerator: accelerator.to_owned(),
        };
        qom.with(|s| {
            s.objects.insert(
                "/".into(),
                Object {
                    type_name: "container".into(),
                    properties: Vec::new(),
                },
            );
            for path in CONTAINERS {
                s.objects.insert(
                    (*path).into(),
                    Object {
                        type_name: "container".into(),
                        properties: Vec::new(),
                    },
                );
            }
        });
        qom.insert("/machine", machine_type, &Map::new());
        qom
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.state.with(f)
    }

    /// The properties of a QOM type, as the profile lists them.
    fn type_properties(&self, type_name: &str) -> Vec<Property> {
        let Some(profile) = &self.profile else {
            return Vec::new();
        };
        let mut arguments = Map::new();
        arguments.insert("typename", type_name);
        let Some(Recorded::Return(Value::Array(list))) =
            profile.answer(&self.accelerator, "qom-list-properties", &arguments)
        else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|p| {
                Some(Property {
                    name: p.get("name")?.as_str()?.to_owned(),
                    type_name: p.get("type")?.as_str()?.to_owned(),
                    value: p.get("default-value").cloned(),
                })
            })
            .collect()
    }

    /// True when the profile knows QOM type `type_name` (always true
    /// without a profile).
    pub fn type_exists(&self, type_name: &str) -> bool {
        match &self.profile {
            Some(profile) => profile.has_type(type_name),
            None => true,
        }
    }

    /// Adds an object of `type_name` at `path` with property `values`
    /// (which override the type's defaults; unknown names are added).
    pub fn insert(&self, path: &str, type_name: &str, values: &Map) {
        let mut properties = self.type_properties(type_name);
        for (name, value) in values.iter() {
            match properties.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.value = Some(coerce(&p.type_name, value)),
                None => properties.push(Property {
                    name: name.clone(),
                    type_name: value
                        .type_name()
                        .replace("boolean", "bool")
                        .replace("integer", "int"),
                    value: Some(value.clone()),
                }),
            }
        }
        let object = Object {
            type_name: type_name.to_owned(),
            properties,
        };
        self.with(|s| s.objects.insert(path.to_owned(), object));
    }

    /// The next free `/machine/unattached/device[N]`.
    pub fn next_unattached(&self) -> String {
        self.with(|s| {
            s.next_unattached += 1;
            format!("/machine/unattached/device[{}]", s.next_unattached - 1)
        })
    }

    /// Skips `/machine/unattached/device[N]` numbers QEMU gives to
    /// objects the stand-in does not model.
    pub fn skip_unattached(&self, count: usize) {
        self.with(|s| s.next_unattached += count);
    }

    /// The next free `/machine/peripheral-anon/device[N]`.
    pub fn next_anonymous(&self) -> String {
        self.with(|s| {
            s.next_anonymous += 1;
            format!("/machine/peripheral-anon/device[{}]", s.next_anonymous - 1)
        })
    }

    /// True when `path` exists.
    pub fn exists(&self, path: &str) -> bool {
        self.with(|s| s.objects.contains_key(path))
    }

    /// The QOM type at `path`.
    pub fn type_of(&self, path: &str) -> Option<String> {
        self.with(|s| s.objects.get(path).map(|o| o.type_name.clone()))
    }

    /// The value of a property (set, default, or its type's zero).
    pub fn property(&self, path: &str, name: &str) -> Option<Value> {
        self.with(|s| {
            let object = s.objects.get(path)?;
            let p = object.properties.iter().find(|p| p.name == name)?;
            p.value.clone().or_else(|| zero_of(&p.type_name))
        })
    }

    /// Removes `path` and everything below it; the paths removed.
    pub fn remove(&self, path: &str) -> Vec<String> {
        let prefix = format!("{path}/");
        self.with(|s| {
            let gone: Vec<String> = s
                .objects
                .keys()
                .filter(|p| *p == path || p.starts_with(&prefix))
                .cloned()
                .collect();
            for p in &gone {
                s.objects.remove(p);
            }
            gone
        })
    }

    /// The paths of objects whose type is `type_name` or starts with it.
    pub fn paths_of_type(&self, prefix: &str) -> Vec<(String, String)> {
        self.with(|s| {
            s.objects
                .iter()
                .filter(|(_, o)| o.type_name.starts_with(prefix))
                .map(|(p, o)| (p.clone(), o.type_name.clone()))
                .collect()
        })
    }

    /// `qom-list`, `qom-get` and `qom-set` (objects are added and removed
    /// by [`crate::hardware`], which also runs their threads).
    pub fn commands(&self) -> Vec<CommandEntry> {
        vec![
            sync_entry(self, "qom-list", |q, call| {
                q.qom_list(string_arg(&call, "path"))
            }),
            sync_entry(self, "qom-get", |q, call| {
                q.qom_get(string_arg(&call, "path"), string_arg(&call, "property"))
            }),
            sync_entry(self, "qom-set", |q, call| {
                let value = call.arguments.get("value").cloned().unwrap_or_default();
                q.qom_set(
                    string_arg(&call, "path"),
                    string_arg(&call, "property"),
                    value,
                )
            }),
            sync_entry(self, "object-add", |q, call| q.object_add(&call.arguments)),
            sync_entry(self, "object-del", |q, call| {
                q.object_del(string_arg(&call, "id"))
            }),
        ]
    }

    /// Resolves a path as QEMU does: absolute, or (partial) the one object
    /// whose path ends with it.
    fn resolve(&self, path: &str) -> Option<String> {
        let trimmed = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        self.with(|s| {
            if trimmed.starts_with('/') {
                return s.objects.contains_key(trimmed).then(|| trimmed.to_owned());
            }
            let suffix = format!("/{trimmed}");
            let mut found = s.objects.keys().filter(|p| p.ends_with(&suffix));
            match (found.next(), found.next()) {
                (Some(one), None) => Some(one.clone()),
                _ => None,
            }
        })
    }

    fn qom_list(&self, path: &str) -> CommandResult {
        let path = self.resolve(path).ok_or_else(|| device_not_found(path))?;
        let listing = self.with(|s| {
            let object = s.objects.get(&path)?;
            let mut list = vec![("type".to_owned(), "string".to_owned())];
            list.extend(
                object
                    .properties
                    .iter()
                    .filter(|p| p.name != "type")
                    .map(|p| (p.name.clone(), p.type_name.clone())),
            );
            for (child, o) in &s.objects {
                if child != &path && split(child).is_some_and(|(parent, _)| parent == path) {
                    let name = split(child).map(|(_, n)| n).unwrap_or_default();
                    list.push((name.to_owned(), format!("child<{}>", o.type_name)));
                }
            }
            Some(list)
        });
        let list = listing.ok_or_else(|| device_not_found(&path))?;
        let list = list
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
        let resolved = self.resolve(path).ok_or_else(|| device_not_found(path))?;
        let type_name = self.type_of(&resolved).unwrap_or_default();
        if property == "type" {
            return Ok(Reply::Value(Value::String(type_name)));
        }
        let child = format!("{}/{property}", resolved.trim_end_matches('/'));
        if self.exists(&child) {
            return Ok(Reply::Value(Value::String(child)));
        }
        match self.property(&resolved, property) {
            Some(value) => Ok(Reply::Value(value)),
            None => Err(QmpError::generic(format!(
                "Property '{type_name}.{property}' not found"
            ))),
        }
    }

    fn qom_set(&self, path: &str, property: &str, value: Value) -> CommandResult {
        let resolved = self.resolve(path).ok_or_else(|| device_not_found(path))?;
        let type_name = self.type_of(&resolved).unwrap_or_default();
        let found = self.with(|s| {
            let object = s.objects.get_mut(&resolved)?;
            let p = object.properties.iter_mut().find(|p| p.name == property)?;
            p.value = Some(value);
            Some(())
        });
        match found {
            Some(()) => ok_empty(),
            None => Err(QmpError::generic(format!(
                "Property '{type_name}.{property}' not found"
            ))),
        }
    }

    /// `object-add` (and `-object`): the object under `/objects/ID`.
    pub fn object_add(&self, arguments: &Map) -> CommandResult {
        let qom_type = arguments
            .get("qom-type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = arguments
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self.type_exists(qom_type) {
            return Err(QmpError::generic(format!(
                "Parameter 'qom-type' does not accept value '{qom_type}'"
            )));
        }
        let path = format!("{OBJECTS}{id}");
        if self.exists(&path) {
            return Err(QmpError::generic(format!(
                "attempt to add duplicate property '{id}' to object (type 'container')"
            )));
        }
        let values: Map = arguments
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "qom-type" | "id" | "props"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.insert(&path, qom_type, &values);
        ok_empty()
    }

    /// `object-del`: removes `/objects/ID`.
    pub fn object_del(&self, id: &str) -> CommandResult {
        let path = format!("{OBJECTS}{id}");
        if !self.exists(&path) {
            return Err(QmpError::generic(format!("object '{id}' not found")));
        }
        self.remove(&path);
        ok_empty()
    }
}
