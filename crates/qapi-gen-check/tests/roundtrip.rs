//! Round trips through the generated types of QEMU 10.0's QMP schema:
//! random valid values, driven by the schema information, for every
//! object, union and alternate type, read into the generated type and
//! written back unchanged; mutated values rejected by the strict side
//! (the validator) with QEMU's text and handled by the tolerant side
//! (plain deserialisation) as designed.

#![cfg(qapi_generated)]

use qapi_gen::{introspect, Conditions, IntrospectOptions};
use qapi_schema::introspect::{EntryKind, JsonType, SchemaInfo};
use serde_json::{json, Map, Value as Json};

type RoundTrip = fn(Json) -> Result<Json, serde_json::Error>;

/// Reads a value into `T` and writes it back.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(
    v: Json,
) -> Result<Json, serde_json::Error> {
    let typed: T = serde_json::from_value(v)?;
    serde_json::to_value(&typed)
}

include!(concat!(env!("OUT_DIR"), "/qmp_types.rs"));

const SAMPLES: usize = 100;
const MAX_DEPTH: usize = 4;

/// The whole schema, with real names and integer widths.
fn schema_info() -> SchemaInfo {
    let shared = qmp_test_support::shared_dir();
    let path = shared.join("qemu/10.0/qapi/qapi-schema.json");
    let schema = qapi_schema::load(&path.to_string_lossy()).expect("schema loads");
    let options = IntrospectOptions {
        unmask: true,
        fold_integers: false,
        all_types: true,
    };
    introspect(&schema, &Conditions::All, options)
}

/// A small xorshift generator: deterministic samples without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// Random valid values of schema types.
struct Sampler<'a> {
    info: &'a SchemaInfo,
    rng: Rng,
}

impl Sampler<'_> {
    fn builtin(&mut self, name: &str) -> Json {
        let r = self.rng.next();
        match name {
            "str" => {
                let words = [
                    "",
                    "node0",
                    "/machine/peripheral",
                    "é ü",
                    "a\"b\\c",
                    "x-y_z.1",
                ];
                json!(words[self.rng.below(words.len())])
            }
            "number" => json!((r % 1_000_000) as f64 / 8.0 + 0.125),
            "bool" => json!(self.rng.coin()),
            "null" => Json::Null,
            "any" => match self.rng.below(4) {
                0 => json!({"a": [1, "two", null]}),
                1 => json!(r as i64),
                2 => json!("text"),
                _ => Json::Null,
            },
            "int8" => json!(r as i8),
            "int16" => json!(r as i16),
            "int32" => json!(r as i32),
            "uint8" => json!(r as u8),
            "uint16" => json!(r as u16),
            "uint32" => json!(r as u32),
            "uint64" | "size" => json!(r),
            _ => json!(r as i64),
        }
    }

    fn value(&mut self, ty: &str, depth: usize) -> Json {
        let Some(entry) = self.info.get(ty) else {
            panic!("no type {ty}");
        };
        match &entry.kind {
            EntryKind::Builtin { .. } => self.builtin(&entry.name.clone()),
            EntryKind::Enum { values, .. } => json!(values[self.rng.below(values.len())]),
            EntryKind::Array { element_type } => {
                let n = if depth >= MAX_DEPTH {
                    0
                } else {
                    self.rng.below(3)
                };
                let element_type = element_type.clone();
                Json::Array(
                    (0..n)
                        .map(|_| self.value(&element_type, depth + 1))
                        .collect(),
                )
            }
            EntryKind::Object { .. } => {
                let mut map = Map::new();
                self.members(ty, depth, &mut map);
                Json::Object(map)
            }
            EntryKind::Alternate { members } => {
                let shallow: Vec<&String> = members
                    .iter()
                    .filter(|m| {
                        !matches!(
                            self.info.get(m).map(|e| &e.kind),
                            Some(EntryKind::Object { .. })
                        )
                    })
                    .collect();
                let pick = if depth >= MAX_DEPTH && !shallow.is_empty() {
                    shallow[self.rng.below(shallow.len())].clone()
                } else {
                    members[self.rng.below(members.len())].clone()
                };
                self.value(&pick, depth + 1)
            }
            EntryKind::Command { .. } | EntryKind::Event { .. } => panic!("{ty} is not a type"),
        }
    }

    fn members(&mut self, ty: &str, depth: usize, map: &mut Map<String, Json>) {
        let Some(EntryKind::Object {
            members,
            tag,
            variants,
        }) = self.info.get(ty).map(|e| e.kind.clone())
        else {
            return;
        };
        for m in &members {
            if m.optional && (depth >= MAX_DEPTH || self.rng.coin()) {
                continue;
            }
            let v = self.value(&m.ty, depth + 1);
            map.insert(m.name.clone(), v);
        }
        let case = tag
            .and_then(|t| map.get(&t))
            .and_then(Json::as_str)
            .map(str::to_string);
        if let Some(variant) = case.and_then(|c| variants.iter().find(|v| v.case == c)) {
            self.members(&variant.ty, depth, map);
        }
    }
}

/// What the strict side says when member `name` of type `ty` gets a value
/// of another JSON type, and that value; `None` when not applicable.
fn wrong_type(info: &SchemaInfo, name: &str, ty: &str) -> Option<(Json, String)> {
    let entry = info.get(ty)?;
    let invalid =
        |expected: &str| format!("Invalid parameter type for '{name}', expected: {expected}");
    Some(match &entry.kind {
        EntryKind::Builtin { json_type } => match (json_type, entry.name.as_str()) {
            (JsonType::String, _) => (json!(true), invalid("string")),
            (JsonType::Boolean, _) => (json!("x"), invalid("boolean")),
            (JsonType::Number, _) => (json!("x"), invalid("number")),
            (JsonType::Null, _) => (json!(1), invalid("null")),
            (JsonType::Int, "uint8" | "uint16" | "uint32" | "uint64" | "size") => {
                (json!("x"), format!("Parameter '{name}' expects uint64"))
            }
            (JsonType::Int, _) => (json!("x"), invalid("integer")),
            _ => return None,
        },
        EntryKind::Enum { .. } => (json!(true), invalid("string")),
        EntryKind::Object { .. } => (json!(1), invalid("object")),
        EntryKind::Array { .. } => (json!(1), invalid("array")),
        _ => return None,
    })
}

/// The C type QEMU names in range errors, for narrow integer types.
fn narrow(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "int8" => "int8_t",
        "int16" => "int16_t",
        "int32" => "int32_t",
        "uint8" => "uint8_t",
        "uint16" => "uint16_t",
        "uint32" => "uint32_t",
        _ => return None,
    })
}

fn strict(info: &SchemaInfo, ty: &str, value: &Json) -> Result<(), String> {
    info.validate_value(ty, &qmp_wire::Value::from(value.clone()))
        .map_err(|e| e.to_string())
}

#[test]
fn every_object_union_and_alternate_round_trips_and_mutations_are_judged() {
    let info = schema_info();
    let mut sampler = Sampler {
        info: &info,
        rng: Rng(0x9e37_79b9_7f4a_7c15),
    };
    let (mut types, mut samples, mut mutations) = (0, 0, 0);
    for (name, trip) in QMP_TYPES {
        let Some(entry) = info.get(name) else {
            panic!("{name} missing from the schema information");
        };
        let object_members = match &entry.kind {
            EntryKind::Object { members, .. } => Some(members.clone()),
            EntryKind::Alternate { .. } => None,
            _ => continue,
        };
        types += 1;
        for i in 0..SAMPLES {
            let sample = sampler.value(name, 0);
            strict(&info, name, &sample)
                .unwrap_or_else(|e| panic!("{name}: valid sample rejected: {e}\n{sample}"));
            let back = trip(sample.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{sample}"));
            assert_eq!(back, sample, "{name}: round trip changed the value");
            samples += 1;
            let (Some(members), true) = (&object_members, i % 10 == 0) else {
                continue;
            };
            let Json::Object(map) = &sample else { continue };
            // An unknown member: strict rejects it, tolerant ignores it.
            let mut extra = map.clone();
            extra.insert("x-unknown-member".into(), json!(1));
            assert_eq!(
                strict(&info, name, &Json::Object(extra.clone())),
                Err("Parameter 'x-unknown-member' is unexpected".to_string()),
                "{name}"
            );
            assert_eq!(
                trip(Json::Object(extra)).ok().as_ref(),
                Some(&sample),
                "{name}: unknown member"
            );
            mutations += 1;
            for m in members {
                if !map.contains_key(&m.name) {
                    continue;
                }
                if !m.optional {
                    let mut missing = map.clone();
                    missing.remove(&m.name);
                    let missing = Json::Object(missing);
                    assert_eq!(
                        strict(&info, name, &missing),
                        Err(format!("Parameter '{}' is missing", m.name)),
                        "{name}"
                    );
                    // Tolerant: an error, except that an absent `any` or
                    // `null` member reads as null.
                    let nullable = matches!(m.ty.as_str(), "any" | "null");
                    assert!(
                        nullable || trip(missing).is_err(),
                        "{name}: missing {}",
                        m.name
                    );
                    mutations += 1;
                }
                if let Some((wrong, text)) = wrong_type(&info, &m.name, &m.ty) {
                    let mut bad = map.clone();
                    bad.insert(m.name.clone(), wrong);
                    let bad = Json::Object(bad);
                    assert_eq!(strict(&info, name, &bad), Err(text), "{name}");
                    assert!(
                        trip(bad).is_err(),
                        "{name}: wrong type for {} accepted",
                        m.name
                    );
                    mutations += 1;
                }
                if let Some(c_type) = narrow(&m.ty) {
                    let mut big = map.clone();
                    big.insert(m.name.clone(), json!(1_u64 << 40));
                    let big = Json::Object(big);
                    assert_eq!(
                        strict(&info, name, &big),
                        Err(format!("Parameter '{}' expects {c_type}", m.name)),
                        "{name}"
                    );
                    assert!(
                        trip(big).is_err(),
                        "{name}: out of range {} accepted",
                        m.name
                    );
                    mutations += 1;
                }
            }
        }
    }
    println!("{types} types, {samples} samples, {mutations} mutations");
    // Every struct, union and alternate QEMU 10.0 spells out (517).
    let spelled_out = info
        .entries()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EntryKind::Object { .. } | EntryKind::Alternate { .. }
            )
        })
        .filter(|e| !e.name.starts_with("q_"))
        .count();
    assert_eq!(types, spelled_out, "object/union/alternate types covered");
}

#[test]
fn unknown_enum_values_and_union_branches_are_kept_by_the_tolerant_side() {
    use qapi_gen_check::qmp::{RunState, SetPasswordOptions, SetPasswordOptionsBranch};
    let state: RunState = serde_json::from_value(json!("future-state")).expect("tolerant");
    assert_eq!(state, RunState::Other("future-state".into()));
    assert_eq!(
        serde_json::to_value(&state).ok(),
        Some(json!("future-state"))
    );
    let opts: SetPasswordOptions =
        serde_json::from_value(json!({"protocol": "rdp", "password": "p", "x": 1}))
            .expect("tolerant");
    assert_eq!(opts.protocol, SetPasswordOptionsBranch::Other("rdp".into()));
    assert_eq!(opts.protocol.tag(), "rdp");
}
