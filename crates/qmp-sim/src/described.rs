//! The questions a machine profile answers ([`crate::profile`]): every
//! command the profile recorded is answered from it, under the machine's
//! accelerator, unless the machine models the state behind it (the run
//! state, devices, migration). What the profile did not record with those
//! arguments is answered as QEMU answers it where that can be worked out
//! (a type that does not exist, `qom-list-types` by parent, CPU
//! properties asked on top of a recorded expansion); anything else falls
//! through to the simulated handler.

use std::collections::HashSet;
use std::sync::Arc;

use qmp_server::{Call, CommandEntry, CommandResult, Handler, Reply};
use qmp_wire::{ErrorClass, Map, QmpError, Value};

use crate::profile::{descends, Profile, Recorded};

/// Commands the profile answers even where the machine simulates them:
/// they describe the binary, and the profile knows them better.
const DESCRIPTIVE: &[&str] = &[
    "query-kvm",
    "query-target",
    "query-machines",
    "query-cpu-definitions",
    "query-cpu-model-expansion",
    "qom-list-types",
    "qom-list-properties",
    "device-list-properties",
    "query-command-line-options",
    "query-tpm-models",
    "query-tpm-types",
    "query-sev-capabilities",
    "query-sgx-capabilities",
];

/// Commands whose answers are the machine's state, never the profile's.
const STATEFUL: &[&str] = &[
    "query-status",
    "query-name",
    "query-uuid",
    "query-version",
    "query-commands",
    "query-qmp-schema",
    "query-chardev",
    "query-cpus-fast",
    "query-hotpluggable-cpus",
    "query-iothreads",
    "query-memdev",
    "query-balloon",
    "query-block",
    "query-named-block-nodes",
    "query-block-jobs",
    "query-jobs",
    "query-migrate",
    "query-migrate-capabilities",
    "query-migrate-parameters",
    "query-fdsets",
    "query-mice",
    "query-pci",
];

/// The profile's answer to `command`, `arguments` under `accelerator`, or
/// the answer worked out from what it recorded.
pub fn answer(
    profile: &Profile,
    accelerator: &str,
    command: &str,
    arguments: &Map,
) -> Option<Recorded> {
    if let Some(recorded) = profile.answer(accelerator, command, arguments) {
        return Some(recorded.clone());
    }
    let typename = arguments.get("typename").and_then(Value::as_str);
    let known = |name: &str| profile.has_type(name);
    match (command, typename) {
        ("device-list-properties", Some(name)) if !known(name) => {
            Some(Recorded::Error(QmpError::new(
                ErrorClass::DeviceNotFound,
                format!("Device '{name}' not found"),
            )))
        }
        ("device-list-properties", Some(_)) => Some(Recorded::Error(QmpError::generic(
            "Parameter 'typename' expects a non-abstract device type",
        ))),
        ("qom-list-properties", Some(name)) if !known(name) => Some(Recorded::Error(
            QmpError::generic(format!("Class '{name}' not found")),
        )),
        ("qom-list-types", _) => Some(Recorded::Return(list_types(
            profile,
            accelerator,
            arguments,
        ))),
        ("query-cpu-model-expansion", _) => cpu_model_expansion(profile, accelerator, arguments),
        _ => None,
    }
}

/// `qom-list-types` worked out from the recorded list with parents:
/// `implements` matches a type and everything below it.
fn list_types(profile: &Profile, accelerator: &str, arguments: &Map) -> Value {
    let types = profile.qom_types();
    let include_abstract = arguments.get("abstract").and_then(Value::as_bool) == Some(true);
    let concrete: HashSet<String> = match profile.value(accelerator, "qom-list-types") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        _ => types.iter().map(|(n, _)| n.clone()).collect(),
    };
    let implements = arguments.get("implements").and_then(Value::as_str);

    let list = types
        .iter()
        .filter(|(name, _)| include_abstract || concrete.contains(name))
        .filter(|(name, _)| implements.is_none_or(|a| descends(name, a, |t| profile.parent_of(t))))
        .map(|(name, parent)| {
            let mut t = Map::new();
            t.insert("name", name.as_str());
            if let Some(parent) = parent {
                t.insert("parent", parent.as_str());
            }
            if !concrete.contains(name) {
                t.insert("abstract", true);
            }
            Value::Object(t)
        })
        .collect();
    Value::Array(list)
}

/// An expansion asked with properties the profile did not record: the
/// recorded expansion of the bare model with the asked properties on top.
fn cpu_model_expansion(profile: &Profile, accelerator: &str, arguments: &Map) -> Option<Recorded> {
    let model = arguments.get("model")?.as_object()?;
    let name = model.get("name")?.as_str()?;
    let asked = model.get("props").and_then(Value::as_object);
    let mut bare_model = Map::new();
    bare_model.insert("name", name);
    let mut bare = arguments.clone();
    bare.insert("model", Value::Object(bare_model));
    match profile.answer(accelerator, "query-cpu-model-expansion", &bare) {
        Some(Recorded::Return(value)) => {
            let mut value = value.clone();
            if let (Some(asked), Some(props)) = (
                asked,
                value
                    .as_object_mut()
                    .and_then(|v| v.get_mut("model"))
                    .and_then(Value::as_object_mut)
                    .and_then(|m| m.get_mut("props"))
                    .and_then(Value::as_object_mut),
            ) {
                for (key, v) in asked.iter() {
                    props.insert(key.clone(), v.clone());
                }
            }
            Some(Recorded::Return(value))
        }
        Some(error @ Recorded::Error(_)) => Some(error.clone()),
        None => Some(Recorded::Error(QmpError::generic(format!(
            "CPU model '{name}' not found"
        )))),
    }
}

/// `entry` answering from the profile when it can, else as before.
pub fn described(entry: CommandEntry, profile: &Arc<Profile>, accelerator: &str) -> CommandEntry {
    let original = Arc::clone(&entry.handler);
    let profile = Arc::clone(profile);
    let accelerator = accelerator.to_owned();
    let name = entry.name.clone();
    let handler: Handler =
        Arc::new(
            move |call: Call| match answer(&profile, &accelerator, &name, &call.arguments) {
                Some(recorded) => {
                    let result: CommandResult = match recorded {
                        Recorded::Return(value) => Ok(Reply::Value(value)),
                        Recorded::Error(error) => Err(error),
                    };
                    Box::pin(async move { result })
                }
                None => original(call),
            },
        );
    CommandEntry { handler, ..entry }
}

/// Whether the profile answers `command` on a machine that simulates the
/// commands in `simulated`.
pub fn answers(profile: &Profile, command: &str, simulated: &HashSet<String>) -> bool {
    if STATEFUL.contains(&command) {
        return false;
    }
    DESCRIPTIVE.contains(&command) || (profile.records(command) && !simulated.contains(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Map {
        match qmp_wire::from_str(text).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn error(answer: Option<Recorded>) -> QmpError {
        match answer {
            Some(Recorded::Error(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn works_out_what_was_not_recorded_as_qemu_answers_it() {
        let p = Profile::builtin().unwrap();
        let e = error(answer(
            &p,
            "tcg",
            "device-list-properties",
            &args(r#"{"typename": "virtio-net-ccw"}"#),
        ));
        assert_eq!(
            (e.class, e.desc.as_str()),
            (
                ErrorClass::DeviceNotFound,
                "Device 'virtio-net-ccw' not found"
            )
        );
        let e = error(answer(
            &p,
            "tcg",
            "device-list-properties",
            &args(r#"{"typename": "device"}"#),
        ));
        assert_eq!(
            e.desc,
            "Parameter 'typename' expects a non-abstract device type"
        );
        let e = error(answer(
            &p,
            "tcg",
            "qom-list-properties",
            &args(r#"{"typename": "nope"}"#),
        ));
        assert_eq!(e.desc, "Class 'nope' not found");
        let e = error(answer(
            &p,
            "tcg",
            "query-cpu-model-expansion",
            &args(r#"{"type": "static", "model": {"name": "nope"}}"#),
        ));
        assert_eq!(e.desc, "CPU model 'nope' not found");
    }

    #[test]
    fn expansions_with_other_properties_build_on_the_recorded_one() {
        let p = Profile::builtin().unwrap();
        let asked =
            args(r#"{"type": "full", "model": {"name": "qemu64", "props": {"avx2": true}}}"#);
        let Some(Recorded::Return(value)) = answer(&p, "tcg", "query-cpu-model-expansion", &asked)
        else {
            panic!("no expansion");
        };
        let props = value.get("model").and_then(|m| m.get("props")).unwrap();
        assert_eq!(props.get("avx2"), Some(&Value::Bool(true)));
        assert_eq!(props.get("pse36"), Some(&Value::Bool(true)));
    }

    #[test]
    fn types_by_ancestor() {
        let p = Profile::builtin().unwrap();
        let Some(Recorded::Return(Value::Array(list))) = answer(
            &p,
            "tcg",
            "qom-list-types",
            &args(r#"{"implements": "memory-backend", "abstract": false}"#),
        ) else {
            panic!("no list");
        };
        let names: Vec<&str> = list
            .iter()
            .filter_map(|t| t.get("name")?.as_str())
            .collect();
        assert!(
            names.contains(&"memory-backend-ram") && names.contains(&"memory-backend-file"),
            "{names:?}"
        );
        assert!(
            !names.contains(&"memory-backend"),
            "abstract types are left out"
        );
    }

    #[test]
    fn state_stays_the_machines() {
        let p = Profile::builtin().unwrap();
        let simulated: HashSet<String> =
            ["query-kvm".to_string(), "query-status".to_string()].into();
        assert!(
            answers(&p, "query-kvm", &simulated),
            "descriptive: the profile wins"
        );
        assert!(!answers(&p, "query-status", &simulated));
        assert!(!answers(&p, "query-cpus-fast", &HashSet::new()));
        assert!(
            answers(&p, "query-display-options", &HashSet::new()),
            "recorded, not simulated"
        );
    }
}
