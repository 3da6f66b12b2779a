//! `qmp profile record`: makes a [`Profile`] from a real QEMU binary. The
//! binary is launched with `-machine none` once per accelerator; it is
//! asked every parameterless query its schema has, `qom-list-types` with
//! and without abstract types (and per interface), `qom-list-properties`
//! for every type, `device-list-properties` for every device type, and
//! `query-cpu-model-expansion` for every CPU model it lists (static and
//! full, and the variants libvirt asks for `host` and `max`). Replies
//! every accelerator gives alike go to the profile's common part.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use qapi_schema::introspect::{EntryKind, SchemaInfo};
use qmp_client::{CallOptions, Client, QemuLauncher};
use qmp_wire::{Greeting, Map, Value};

use crate::profile::{canonical_arguments, descends, kvm_usable, Entry, Profile, Recorded};

/// How long one question may take.
const QUESTION_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a binary that died is started again before recording gives up.
const MAX_RELAUNCHES: usize = 8;

/// Parameterless queries left out: they describe state, not the machine,
/// or are slow to compute and of no use to a profile.
const SKIPPED_QUERIES: &[&str] = &["query-stats-schemas"];

/// The CPU models libvirt expands with extra properties.
const PROBED_CPU_MODELS: &[&str] = &["host", "max"];

/// What to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// The QEMU binary.
    pub binary: PathBuf,
    /// The accelerators to record (default: `kvm` when usable, and `tcg`).
    pub accelerators: Vec<String>,
}

impl RecordOptions {
    /// `binary` with the accelerators that apply on this host.
    pub fn new(binary: impl Into<PathBuf>) -> RecordOptions {
        let mut accelerators = Vec::new();
        if kvm_usable() {
            accelerators.push("kvm".to_owned());
        }
        accelerators.push("tcg".to_owned());
        RecordOptions {
            binary: binary.into(),
            accelerators,
        }
    }
}

/// Recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The binary could not be started or spoken to.
    #[error("{binary} with -accel {accelerator}: {error}")]
    Binary {
        /// The binary.
        binary: String,
        /// The accelerator it was started with.
        accelerator: String,
        /// What went wrong.
        error: qmp_client::Error,
    },
    /// The binary answered in a way a profile cannot hold.
    #[error("{0}")]
    Unexpected(String),
}

/// A launched binary, started again should a question kill it.
struct Session<'a> {
    options: &'a RecordOptions,
    accelerator: &'a str,
    client: Client,
    relaunches: usize,
}

impl<'a> Session<'a> {
    async fn start(
        options: &'a RecordOptions,
        accelerator: &'a str,
    ) -> Result<Session<'a>, RecordError> {
        let client = launch(options, accelerator).await?;
        Ok(Session {
            options,
            accelerator,
            client,
            relaunches: 0,
        })
    }

    /// Asks one question; `None` when the question killed the binary
    /// (it is started again for the next one).
    async fn ask(&mut self, command: &str, arguments: &Map) -> Result<Option<Entry>, RecordError> {
        let reply = self
            .client
            .execute_with(
                command,
                arguments.clone(),
                CallOptions::new().timeout(QUESTION_TIMEOUT),
            )
            .await;
        let answer = match reply {
            Ok(value) => Recorded::Return(value),
            Err(error) => match error.as_qmp() {
                Some(qmp) => Recorded::Error(qmp.clone()),
                None => {
                    tracing::warn!(
                        "{command} {} ended {}: {error}; starting it again",
                        canonical_arguments(arguments),
                        self.options.binary.display()
                    );
                    self.relaunches += 1;
                    if self.relaunches > MAX_RELAUNCHES {
                        return Err(self.binary_error(error));
                    }
                    self.client = launch(self.options, self.accelerator).await?;
                    return Ok(None);
                }
            },
        };
        Ok(Some(Entry {
            execute: command.to_owned(),
            arguments: arguments.clone(),
            answer,
        }))
    }

    fn binary_error(&self, error: qmp_client::Error) -> RecordError {
        RecordError::Binary {
            binary: self.options.binary.display().to_string(),
            accelerator: self.accelerator.to_owned(),
            error,
        }
    }
}

async fn launch(options: &RecordOptions, accelerator: &str) -> Result<Client, RecordError> {
    let launcher = QemuLauncher::new(&options.binary)
        .args([
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-accel",
        ])
        .arg(accelerator)
        .quiet();
    Client::builder()
        .launch(&launcher)
        .await
        .map_err(|error| RecordError::Binary {
            binary: options.binary.display().to_string(),
            accelerator: accelerator.to_owned(),
            error,
        })
}

fn arguments(pairs: &[(&str, Value)]) -> Map {
    let mut map = Map::new();
    for (key, value) in pairs {
        map.insert(*key, value.clone());
    }
    map
}

/// The names in a recorded list of `{"name": ...}` objects.
fn names(entry: Option<&Entry>) -> Vec<String> {
    match entry.map(|e| &e.answer) {
        Some(Recorded::Return(Value::Array(items))) => items
            .iter()
            .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The queries of a `query-qmp-schema` list that can be asked without
/// arguments.
fn parameterless_queries(schema: &Value) -> Result<Vec<String>, RecordError> {
    let info = SchemaInfo::from_value(schema)
        .map_err(|e| RecordError::Unexpected(format!("query-qmp-schema: {e}")))?;
    let takes_nothing = |command: &str| match info.arg_type(command).and_then(|t| info.get(t)) {
        Some(entry) => {
            matches!(&entry.kind, EntryKind::Object { members, .. } if members.iter().all(|m| m.optional))
        }
        None => true,
    };
    Ok(info
        .commands()
        .map(|e| e.name.clone())
        .filter(|name| name.starts_with("query-") && !SKIPPED_QUERIES.contains(&name.as_str()))
        .filter(|name| takes_nothing(name))
        .collect())
}

/// Everything one accelerator answers, and the greeting.
async fn record_accelerator(
    options: &RecordOptions,
    accelerator: &str,
) -> Result<(Greeting, Vec<Entry>), RecordError> {
    let mut session = Session::start(options, accelerator).await?;
    let greeting = session
        .client
        .greeting()
        .cloned()
        .ok_or_else(|| RecordError::Unexpected("the binary sent no greeting".into()))?;
    let mut recorded: Vec<Entry> = Vec::new();
    let none = Map::new();
    let schema = match session.ask("query-qmp-schema", &none).await? {
        Some(Entry {
            answer: Recorded::Return(schema),
            ..
        }) => schema,
        _ => return Err(RecordError::Unexpected("query-qmp-schema failed".into())),
    };
    // Types, with their parents (abstract ones included) and without.
    let all_types = session
        .ask("qom-list-types", &arguments(&[("abstract", true.into())]))
        .await?;
    let concrete = session.ask("qom-list-types", &none).await?;
    let parents: BTreeMap<String, String> = match all_types.as_ref().map(|e| &e.answer) {
        Some(Recorded::Return(Value::Array(items))) => items
            .iter()
            .filter_map(|t| {
                Some((
                    t.get("name")?.as_str()?.to_owned(),
                    t.get("parent")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ))
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let concrete_names: HashSet<String> = names(concrete.as_ref()).into_iter().collect();
    recorded.extend(all_types);
    recorded.extend(concrete);
    for interface in parents
        .iter()
        .filter(|(_, p)| *p == "interface")
        .map(|(n, _)| n)
    {
        let args = arguments(&[("implements", interface.as_str().into())]);
        recorded.extend(session.ask("qom-list-types", &args).await?);
    }
    let is_device = |name: &str| {
        descends(name, "device", |t| {
            parents.get(t).map(String::as_str).filter(|p| !p.is_empty())
        })
    };
    let devices: Vec<&String> = parents
        .keys()
        .filter(|name| concrete_names.contains(*name) && is_device(name))
        .collect();
    for name in parents.keys() {
        let args = arguments(&[("typename", name.as_str().into())]);
        recorded.extend(session.ask("qom-list-properties", &args).await?);
        if devices.contains(&name) {
            recorded.extend(session.ask("device-list-properties", &args).await?);
        }
    }
    if session.relaunches > 0 {
        // A question killed the binary, and its successor has not loaded
        // the modules the earlier questions loaded: load them again.
        for name in &devices {
            let args = arguments(&[("typename", name.as_str().into())]);
            session.ask("device-list-properties", &args).await?;
        }
    }
    // CPU models.
    let definitions = session.ask("query-cpu-definitions", &none).await?;
    let models = names(definitions.as_ref());
    for model in &models {
        for kind in ["static", "full"] {
            let mut variants = vec![Map::new()];
            if PROBED_CPU_MODELS.contains(&model.as_str()) {
                variants.push(arguments(&[("migratable", false.into())]));
                if kind == "full" {
                    variants.push(arguments(&[
                        ("migratable", false.into()),
                        ("hv-passthrough", true.into()),
                    ]));
                }
            }
            for props in variants {
                let mut cpu = arguments(&[("name", model.as_str().into())]);
                if !props.is_empty() {
                    cpu.insert("props", Value::Object(props));
                }
                let args = arguments(&[("type", kind.into()), ("model", Value::Object(cpu))]);
                recorded.extend(session.ask("query-cpu-model-expansion", &args).await?);
            }
        }
    }
    // Last, since asking about devices loads QEMU's modules, and what the
    // modules add (spice's command-line options) is what software that
    // probes as libvirt does sees.
    for query in parameterless_queries(&schema)? {
        if let Some(entry) = session.ask(&query, &none).await? {
            recorded.push(entry);
        }
    }
    let _ = session.client.execute("quit", ()).await;
    Ok((greeting, recorded))
}

/// Records a profile of `options.binary`.
pub async fn record(options: &RecordOptions) -> Result<Profile, RecordError> {
    let mut greeting = None;
    let mut per_accelerator: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for accelerator in &options.accelerators {
        let (g, entries) = record_accelerator(options, accelerator).await?;
        greeting.get_or_insert(g);
        per_accelerator.insert(accelerator.clone(), entries);
    }
    let greeting =
        greeting.ok_or_else(|| RecordError::Unexpected("no accelerator to record".into()))?;
    let (common, accelerators) = split_common(per_accelerator);
    Ok(Profile::new(
        binary_name(&options.binary),
        greeting,
        common,
        accelerators,
    ))
}

/// The binary as the profile names it: its full path when it can be found.
fn binary_name(binary: &Path) -> String {
    let found = if binary.components().count() > 1 {
        Some(binary.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(binary))
                .find(|candidate| candidate.is_file())
        })
    };
    found
        .and_then(|path| std::fs::canonicalize(path).ok())
        .unwrap_or_else(|| binary.to_path_buf())
        .display()
        .to_string()
}

/// Entries every accelerator answered alike, and what is left of each.
fn split_common(
    per_accelerator: BTreeMap<String, Vec<Entry>>,
) -> (Vec<Entry>, BTreeMap<String, Vec<Entry>>) {
    let key = |e: &Entry| (e.execute.clone(), canonical_arguments(&e.arguments));
    let mut lists = per_accelerator.into_iter();
    let Some((first_name, first)) = lists.next() else {
        return (Vec::new(), BTreeMap::new());
    };
    let others: Vec<(String, Vec<Entry>)> = lists.collect();
    let others_by_key: Vec<BTreeMap<_, &Entry>> = others
        .iter()
        .map(|(_, list)| list.iter().map(|e| (key(e), e)).collect())
        .collect();
    let shared = |e: &Entry| {
        others_by_key
            .iter()
            .all(|map| map.get(&key(e)).is_some_and(|o| o.answer == e.answer))
    };
    let common_keys: HashSet<_> = first.iter().filter(|e| shared(e)).map(key).collect();
    let mut common = Vec::new();
    let mut own = BTreeMap::new();
    let mut first_own = Vec::new();
    for entry in first {
        if common_keys.contains(&key(&entry)) {
            common.push(entry);
        } else {
            first_own.push(entry);
        }
    }
    own.insert(first_name, first_own);
    for (name, list) in others {
        let list = list
            .into_iter()
            .filter(|e| !common_keys.contains(&key(e)))
            .collect();
        own.insert(name, list);
    }
    (common, own)
}
