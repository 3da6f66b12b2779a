//! Machine profiles: what one QEMU binary answers to the questions that
//! describe the machine rather than its state (`query-target`,
//! `query-machines`, `query-cpu-definitions`, `qom-list-types`,
//! `device-list-properties`, ...), recorded per accelerator, with the
//! greeting and `query-qmp-schema`. The stand-in answers those questions
//! from its profile, so that software probing it (libvirt) sees the binary
//! the profile was recorded from. [`record`](crate::profile_record) makes
//! one from a real binary.
//!
//! The file is JSON lines (gzip-compressed when its name ends in `.gz`).
//! The first line says what the file is:
//!
//! ```json
//! {"profile": "qmp-rs machine profile", "format": 1,
//!  "binary": "/usr/bin/qemu-system-x86_64", "accelerators": ["kvm", "tcg"],
//!  "greeting": {"QMP": {...}}}
//! ```
//!
//! and every further line is one recorded answer: `execute`, `arguments`
//! (absent when none), either `return` or `error` (`{"class", "desc"}`),
//! and `accelerator` when only that accelerator answers so (answers every
//! accelerator gives alike are recorded once, without it).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use qmp_wire::{ErrorClass, Greeting, Map, QmpError, ServerMessage, Value, VersionInfo};

/// The `profile` member every profile file carries.
pub const PROFILE_MARK: &str = "qmp-rs machine profile";
/// The format version this build reads and writes.
pub const PROFILE_FORMAT: i64 = 1;

/// The profile shipped as the stand-in's default: Debian 12's QEMU 7.2
/// `qemu-system-x86_64`, recorded with `qmp profile record`.
pub const BUILTIN_PROFILE: &[u8] = include_bytes!("../profiles/qemu-7.2-x86_64.jsonl.gz");

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What one command with one set of arguments answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// `{"return": VALUE}`
    Return(Value),
    /// `{"error": {...}}`
    Error(QmpError),
}

/// One recorded question and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The command.
    pub execute: String,
    /// Its arguments (empty when none were given).
    pub arguments: Map,
    /// The answer.
    pub answer: Recorded,
}

/// Recorded answers, found by command and arguments.
#[derive(Clone, Debug, Default)]
struct Answers {
    /// Command -> canonical arguments -> index into `entries`.
    index: HashMap<String, HashMap<String, usize>>,
    entries: Vec<Entry>,
}

impl Answers {
    fn new(entries: Vec<Entry>) -> Answers {
        let mut answers = Answers::default();
        for entry in entries {
            answers.insert(entry);
        }
        answers
    }

    fn insert(&mut self, entry: Entry) {
        let key = canonical_arguments(&entry.arguments);
        let slots = self.index.entry(entry.execute.clone()).or_default();
        match slots.get(&key) {
            Some(&i) => self.entries[i] = entry,
            None => {
                slots.insert(key, self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    fn get(&self, command: &str, arguments: &Map) -> Option<&Entry> {
        let i = *self
            .index
            .get(command)?
            .get(&canonical_arguments(arguments))?;
        self.entries.get(i)
    }

    fn has_command(&self, command: &str) -> bool {
        self.index.contains_key(command)
    }
}

/// A profile file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The text is not a profile.
    #[error("{origin} is not a usable machine profile: {reason}")]
    Invalid {
        /// The file (or "the built-in profile").
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

/// A machine profile (see the module documentation).
#[derive(Clone, Debug)]
pub struct Profile {
    binary: String,
    greeting: Greeting,
    greeting_value: Value,
    common: Answers,
    accelerators: BTreeMap<String, Answers>,
    /// The QOM types, read once from the recorded `qom-list-types`.
    types: OnceLock<QomTypes>,
}

/// The binary's QOM types (abstract ones included) and their parents.
#[derive(Clone, Debug, Default)]
struct QomTypes {
    list: Vec<(String, Option<String>)>,
    parents: HashMap<String, Option<String>>,
}

/// Arguments as text with members sorted at every level, so that equal
/// arguments (QEMU compares objects without regard to order) meet.
pub fn canonical_arguments(arguments: &Map) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut members: Vec<_> = map.iter().collect();
                members.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(key.as_str()).to_string());
                    out.push(':');
                    write(value, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            // Integers and doubles of one value compare equal in QEMU.
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => {
                out.push_str(&(*d as i64).to_string())
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&Value::Object(arguments.clone()), &mut out);
    out
}

impl Entry {
    /// The entry as it is stored in a profile file.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("execute", self.execute.as_str());
        if !self.arguments.is_empty() {
            map.insert("arguments", Value::Object(self.arguments.clone()));
        }
        match &self.answer {
            Recorded::Return(value) => {
                map.insert("return", value.clone());
            }
            Recorded::Error(error) => {
                let mut e = Map::new();
                e.insert("class", error.class.as_str());
                e.insert("desc", error.desc.as_str());
                map.insert("error", Value::Object(e));
            }
        }
        Value::Object(map)
    }

    fn from_value(value: Value) -> Result<Entry, String> {
        let Value::Object(mut map) = value else {
            return Err("an entry is not an object".into());
        };
        let execute = match map.remove("execute") {
            Some(Value::String(name)) => name,
            _ => return Err("an entry lacks 'execute'".into()),
        };
        let arguments = match map.remove("arguments") {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(format!(
                    "the arguments of an '{execute}' entry are not an object"
                ))
            }
        };
        let answer = match (map.remove("return"), map.remove("error")) {
            (Some(ret), None) => Recorded::Return(ret),
            (None, Some(error)) => {
                let class = error.get("class").and_then(Value::as_str);
                let desc = error.get("desc").and_then(Value::as_str);
                match (class, desc) {
                    (Some(class), Some(desc)) => {
                        Recorded::Error(QmpError::new(ErrorClass::from_name(class), desc))
                    }
                    _ => return Err(format!("an '{execute}' error lacks 'class' or 'desc'")),
                }
            }
            _ => {
                return Err(format!(
                    "an '{execute}' entry needs exactly one of 'return' and 'error'"
                ))
            }
        };
        Ok(Entry {
            execute,
            arguments,
            answer,
        })
    }
}

impl Profile {
    /// A profile from its parts: `common` answers and each accelerator's own.
    pub fn new(
        binary: impl Into<String>,
        greeting: Greeting,
        common: Vec<Entry>,
        accelerators: BTreeMap<String, Vec<Entry>>,
    ) -> Profile {
        Profile {
            binary: binary.into(),
            greeting_value: greeting.to_value(),
            greeting,
            common: Answers::new(common),
            accelerators: accelerators
                .into_iter()
                .map(|(name, list)| (name, Answers::new(list)))
                .collect(),
            types: OnceLock::new(),
        }
    }

    /// Reads a profile from its text (JSON lines); `origin` names it in
    /// errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let invalid = |line: usize, reason: String| ProfileError::Invalid {
            origin: format!("{origin} (line {line})"),
            reason,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines
            .next()
            .ok_or_else(|| invalid(1, "it is empty".into()))?;
        let header = qmp_wire::from_str(header).map_err(|e| invalid(1, e.to_string()))?;
        if header.get("profile").and_then(Value::as_str) != Some(PROFILE_MARK) {
            return Err(invalid(
                1,
                format!("it lacks \"profile\": \"{PROFILE_MARK}\""),
            ));
        }
        match header.get("format").and_then(Value::as_i64) {
            Some(PROFILE_FORMAT) => {}
            other => {
                return Err(invalid(
                    1,
                    format!(
                        "format {} is not the one this build reads ({PROFILE_FORMAT})",
                        other.map_or("(none)".to_owned(), |f| f.to_string())
                    ),
                ))
            }
        }
        let greeting_value = header
            .get("greeting")
            .cloned()
            .ok_or_else(|| invalid(1, "it lacks 'greeting'".into()))?;
        let greeting = match ServerMessage::from_value(greeting_value.clone()) {
            Ok(ServerMessage::Greeting(greeting)) => greeting,
            _ => return Err(invalid(1, "'greeting' is not a QMP greeting".into())),
        };
        let mut accelerators: BTreeMap<String, Answers> = match header.get("accelerators") {
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .map(|name| (name.to_owned(), Answers::default()))
                .collect(),
            _ => return Err(invalid(1, "it lacks the 'accelerators' list".into())),
        };
        if accelerators.is_empty() {
            return Err(invalid(1, "it records no accelerator".into()));
        }
        let mut common = Answers::default();
        for (i, line) in lines {
            let mut value = qmp_wire::from_str(line).map_err(|e| invalid(i + 1, e.to_string()))?;
            let accelerator = value.as_object_mut().and_then(|m| m.remove("accelerator"));
            let entry = Entry::from_value(value).map_err(|e| invalid(i + 1, e))?;
            match accelerator {
                None => common.insert(entry),
                Some(name) => {
                    let name = name.as_str().unwrap_or_default();
                    accelerators
                        .get_mut(name)
                        .ok_or_else(|| {
                            invalid(i + 1, format!("accelerator '{name}' is not in the header"))
                        })?
                        .insert(entry);
                }
            }
        }
        Ok(Profile {
            binary: header
                .get("binary")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            greeting,
            greeting_value,
            common,
            accelerators,
            types: OnceLock::new(),
        })
    }

    /// Reads a profile file (plain or gzip-compressed).
    pub fn read_file(path: &Path) -> Result<Profile, ProfileError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| ProfileError::Read {
            path: origin.clone(),
            error,
        })?;
        Profile::parse_bytes(&bytes, &origin)
    }

    /// Reads a profile from its bytes, which may be gzip-compressed.
    pub fn parse_bytes(bytes: &[u8], origin: &str) -> Result<Profile, ProfileError> {
        let text = if bytes.starts_with(&GZIP_MAGIC) {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text)
                .map_err(|e| ProfileError::Invalid {
                    origin: origin.to_owned(),
                    reason: format!("it cannot be decompressed: {e}"),
                })?;
            text
        } else {
            String::from_utf8(bytes.to_vec()).map_err(|_| ProfileError::Invalid {
                origin: origin.to_owned(),
                reason: "it is not UTF-8 text".into(),
            })?
        };
        Profile::parse(&text, origin)
    }

    /// The shipped profile ([`BUILTIN_PROFILE`]), read once.
    pub fn builtin() -> Result<Arc<Profile>, ProfileError> {
        static BUILTIN: OnceLock<Result<Arc<Profile>, String>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Profile::parse_bytes(BUILTIN_PROFILE, "the built-in profile")
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|reason| ProfileError::Invalid {
                origin: "the built-in profile".into(),
                reason,
            })
    }

    /// The profile as its file holds it (JSON lines, uncompressed).
    pub fn to_json_lines(&self) -> String {
        let mut header = Map::new();
        header.insert("profile", PROFILE_MARK);
        header.insert("format", PROFILE_FORMAT);
        header.insert("binary", self.binary.as_str());
        header.insert(
            "accelerators",
            Value::Array(self.accelerators().map(Value::from).collect()),
        );
        header.insert("greeting", self.greeting_value.clone());
        let mut out = Value::Object(header).to_string();
        out.push('\n');
        for (accelerator, entry) in self.entries() {
            let mut value = entry.to_value();
            if let (Some(name), Some(map)) = (accelerator, value.as_object_mut()) {
                map.insert("accelerator", name);
            }
            out.push_str(&value.to_string());
            out.push('\n');
        }
        out
    }

    /// Writes the profile to `path`, gzip-compressed when the name ends in
    /// `.gz`.
    pub fn write_file(&self, path: &Path) -> std::io::Result<()> {
        let text = self.to_json_lines();
        if path.extension().is_some_and(|e| e == "gz") {
            let file = std::fs::File::create(path)?;
            let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::best());
            std::io::Write::write_all(&mut encoder, text.as_bytes())?;
            encoder.finish()?;
            Ok(())
        } else {
            std::fs::write(path, text)
        }
    }

    /// The binary it was recorded from.
    pub fn binary(&self) -> &str {
        &self.binary
    }

    /// The greeting the binary sends.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// The binary's `query-version`.
    pub fn version(&self) -> &VersionInfo {
        &self.greeting.version
    }

    /// The accelerators recorded (`kvm`, `tcg`, ...).
    pub fn accelerators(&self) -> impl Iterator<Item = &str> {
        self.accelerators.keys().map(String::as_str)
    }

    /// The first of `wanted` (QEMU's `accel=kvm:tcg` order) that was
    /// recorded and is usable on this host (`kvm` needs `/dev/kvm`); with
    /// none wanted, QEMU's default, `tcg`.
    pub fn choose_accelerator(&self, wanted: &[String]) -> Option<String> {
        let usable =
            |name: &str| self.accelerators.contains_key(name) && (name != "kvm" || kvm_usable());
        if wanted.is_empty() {
            return usable("tcg").then(|| "tcg".to_owned());
        }
        wanted.iter().find(|name| usable(name)).cloned()
    }

    /// What `command` with `arguments` answered under `accelerator`.
    pub fn answer(&self, accelerator: &str, command: &str, arguments: &Map) -> Option<&Recorded> {
        self.accelerators
            .get(accelerator)
            .and_then(|answers| answers.get(command, arguments))
            .or_else(|| self.common.get(command, arguments))
            .map(|entry| &entry.answer)
    }

    /// True when the profile holds any answer of `command`.
    pub fn records(&self, command: &str) -> bool {
        self.common.has_command(command)
            || self.accelerators.values().any(|a| a.has_command(command))
    }

    /// The recorded `return` of a parameterless `command`, if it succeeded.
    pub fn value(&self, accelerator: &str, command: &str) -> Option<&Value> {
        match self.answer(accelerator, command, &Map::new())? {
            Recorded::Return(value) => Some(value),
            Recorded::Error(_) => None,
        }
    }

    /// Every entry, common ones first, then each accelerator's.
    pub fn entries(&self) -> impl Iterator<Item = (Option<&str>, &Entry)> {
        self.common.entries.iter().map(|e| (None, e)).chain(
            self.accelerators
                .iter()
                .flat_map(|(name, a)| a.entries.iter().map(move |e| (Some(name.as_str()), e))),
        )
    }

    /// The QOM types the binary has (`qom-list-types` with abstract ones),
    /// with their parents, in the recorded order.
    pub fn qom_types(&self) -> &[(String, Option<String>)] {
        &self.types().list
    }

    /// True when the binary has QOM type `name`.
    pub fn has_type(&self, name: &str) -> bool {
        self.types().parents.contains_key(name)
    }

    /// The parent of QOM type `name`, if it has one.
    pub fn parent_of(&self, name: &str) -> Option<&str> {
        self.types().parents.get(name)?.as_deref()
    }

    fn types(&self) -> &QomTypes {
        self.types.get_or_init(|| {
            let mut arguments = Map::new();
            arguments.insert("abstract", true);
            let list: Vec<(String, Option<String>)> =
                match self.common.get("qom-list-types", &arguments) {
                    Some(Entry {
                        answer: Recorded::Return(Value::Array(list)),
                        ..
                    }) => list
                        .iter()
                        .filter_map(|t| {
                            let name = t.get("name")?.as_str()?.to_owned();
                            let parent = t.get("parent").and_then(Value::as_str).map(str::to_owned);
                            Some((name, parent))
                        })
                        .collect(),
                    _ => Vec::new(),
                };
            let parents = list.iter().cloned().collect();
            QomTypes { list, parents }
        })
    }
}

/// True when QOM type `name` is `ancestor` or below it, following
/// `parent_of` (QOM's hierarchy is shallow; a cycle in bad data ends the
/// walk after 64 steps).
pub fn descends<'a>(
    name: &'a str,
    ancestor: &str,
    parent_of: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    let mut current = name;
    for _ in 0..64 {
        if current == ancestor {
            return true;
        }
        match parent_of(current) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

/// True when KVM can be opened here, as QEMU needs for `accel=kvm`.
pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Profile {
        let text = concat!(
            r#"{"profile": "qmp-rs machine profile", "format": 1, "binary": "/usr/bin/q", "accelerators": ["kvm", "tcg"], "greeting": {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "p"}, "capabilities": ["oob"]}}}"#,
            "\n",
            r#"{"execute": "query-target", "return": {"arch": "x86_64"}}"#,
            "\n",
            r#"{"execute": "query-kvm", "return": {"enabled": true, "present": true}, "accelerator": "kvm"}"#,
            "\n",
            r#"{"execute": "query-kvm", "return": {"enabled": false, "present": true}, "accelerator": "tcg"}"#,
            "\n",
            r#"{"execute": "device-list-properties", "arguments": {"typename": "x"}, "error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}}"#,
            "\n",
        );
        Profile::parse(text, "test").unwrap()
    }

    #[test]
    fn answers_per_accelerator_and_in_common() {
        let p = small();
        assert_eq!(p.version().qemu.micro, 22);
        assert_eq!(p.accelerators().collect::<Vec<_>>(), ["kvm", "tcg"]);
        let none = Map::new();
        let kvm = p.value("kvm", "query-kvm").unwrap();
        assert_eq!(kvm.get("enabled"), Some(&Value::Bool(true)));
        assert_eq!(
            p.value("tcg", "query-target"),
            p.value("kvm", "query-target")
        );
        let mut args = Map::new();
        args.insert("typename", "x");
        match p.answer("tcg", "device-list-properties", &args) {
            Some(Recorded::Error(e)) => assert_eq!(e.class, ErrorClass::DeviceNotFound),
            other => panic!("{other:?}"),
        }
        assert!(p.answer("tcg", "query-machines", &none).is_none());
        assert!(p.records("query-kvm") && !p.records("query-machines"));
    }

    #[test]
    fn writes_what_it_reads() {
        let p = small();
        let again = Profile::parse(&p.to_json_lines(), "again").unwrap();
        assert_eq!(again.to_json_lines(), p.to_json_lines());
        assert_eq!(again.entries().count(), 4);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.jsonl.gz");
        p.write_file(&file).unwrap();
        assert!(std::fs::read(&file).unwrap().starts_with(&GZIP_MAGIC));
        assert_eq!(
            Profile::read_file(&file).unwrap().to_json_lines(),
            p.to_json_lines()
        );
    }

    #[test]
    fn arguments_meet_whatever_their_order() {
        let a: Map = match qmp_wire::from_str(
            r#"{"type": "full", "model": {"name": "max", "props": {"a": 1, "b": 2.0}}}"#,
        )
        .unwrap()
        {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let b: Map = match qmp_wire::from_str(
            r#"{"model": {"props": {"b": 2, "a": 1}, "name": "max"}, "type": "full"}"#,
        )
        .unwrap()
        {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        assert_eq!(canonical_arguments(&a), canonical_arguments(&b));
    }

    #[test]
    fn bad_profiles_are_refused_with_the_line() {
        let header = r#"{"profile": "qmp-rs machine profile", "format": 1, "accelerators": ["tcg"], "greeting": {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}}"#;
        for (text, expected) in [
            ("", "it is empty"),
            ("{\"profile\": \"x\"}", "it lacks \"profile\""),
            (
                &header.replace("\"format\": 1", "\"format\": 9") as &str,
                "format 9",
            ),
            (&format!("{header}\n{{\"execute\": \"q\"}}"), "line 2"),
            (
                &format!(
                    "{header}\n{{\"execute\": \"q\", \"return\": 1, \"accelerator\": \"kvm\"}}"
                ),
                "accelerator 'kvm' is not in the header",
            ),
            (&format!("{header}\n[1"), "line 2"),
        ] {
            let error = Profile::parse(text, "p").unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn the_shipped_profile_reads() {
        let p = Profile::builtin().unwrap();
        assert_eq!(p.version().qemu.to_string(), "7.2.22");
        assert!(p.accelerators().any(|a| a == "tcg"));
        assert!(p.value("tcg", "query-qmp-schema").is_some());
        assert!(p.qom_types().len() > 500);
    }
}
