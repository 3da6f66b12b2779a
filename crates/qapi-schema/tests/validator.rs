//! The argument validator (`SchemaInfo::validate_command_arguments`) gives
//! QEMU's texts: replayed against the real QEMU 7.2.22 transcripts, and on
//! a schema exercising every rule of QEMU's input visitor.

use qapi_schema::introspect::{IntrospectOptions, SchemaInfo};
use qapi_schema::{load_str, Conditions, LoadOptions};
use qmp_wire::{Map, Value};

/// Every request of the `args_*` transcripts: an argument error QEMU
/// reported is reported with the same text; any other reply means the
/// arguments were valid.
#[test]
fn transcripts_of_qemu_7_2_argument_errors() {
    let Some(reply) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let Some(dir) = qmp_test_support::shared_path("conformance/transcripts") else {
        return;
    };
    let reply = qmp_wire::from_slice(&std::fs::read(reply).expect("read reply")).expect("json");
    let info = SchemaInfo::from_value(reply.get("return").expect("return")).expect("loads");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("list transcripts")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("args_"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no args_* transcripts");
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read transcript");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| qmp_wire::from_str(l).expect("transcript line"))
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(Value::String(sent)) = line.get("send") else {
                continue;
            };
            let request = qmp_wire::from_str(sent).expect("request");
            let Some(Value::String(command)) = request.get("execute") else {
                continue;
            };
            let args = match request.get("arguments") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let recv = lines[i + 1..]
                .iter()
                .find_map(|l| l.get("recv"))
                .expect("a reply follows");
            let desc = recv
                .get("error")
                .and_then(|e| e.get("desc"))
                .and_then(Value::as_str);
            let result = info.validate_command_arguments(command, &args);
            match (result, desc) {
                (Err(e), Some(desc)) => {
                    assert_eq!(e.to_string(), desc, "{}: {sent}", file.display())
                }
                (Err(e), None) => panic!("{}: {sent}: QEMU accepted, we said {e}", file.display()),
                (Ok(()), Some(desc)) => assert!(
                    !desc.starts_with("Parameter '") && !desc.starts_with("Invalid parameter type"),
                    "{}: {sent}: QEMU said {desc}, we accepted",
                    file.display()
                ),
                (Ok(()), None) => {}
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} requests checked");
}

const SCHEMA: &str = r#"
{ 'enum': 'Cap', 'data': [ 'xbzrle', 'events' ] }
{ 'struct': 'CapStatus', 'data': { 'capability': 'Cap', 'state': 'bool' } }
{ 'command': 'set-caps', 'data': { 'capabilities': [ 'CapStatus' ] } }
{ 'struct': 'Ints',
  'data': { '*u8': 'uint8', '*i8': 'int8', '*i64': 'int', '*u64': 'uint64',
            '*sz': 'size', '*num': 'number', '*u8s': [ 'uint8' ],
            '*anything': 'any', '*nothing': 'null', '*caps': [ 'Cap' ] } }
{ 'command': 'ints', 'data': 'Ints' }
{ 'enum': 'Kind', 'data': [ 'file', 'null-co' ] }
{ 'struct': 'Base', 'data': { 'driver': 'Kind', '*node': 'str' } }
{ 'struct': 'FileOpts', 'data': { 'filename': 'str', '*size': 'int' } }
{ 'union': 'Opts', 'base': 'Base', 'discriminator': 'driver',
  'data': { 'file': 'FileOpts' } }
{ 'command': 'add', 'data': 'Opts', 'boxed': true }
{ 'alternate': 'Ref', 'data': { 'def': 'Opts', 'ref': 'str' } }
{ 'command': 'use-ref', 'data': { 'file': 'Ref' } }
{ 'command': 'no-args' }
"#;

/// The test schema's list; `precise` keeps real names and integer widths.
fn info(precise: bool) -> SchemaInfo {
    let schema =
        load_str("test.json", SCHEMA, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let options = IntrospectOptions {
        unmask: precise,
        fold_integers: !precise,
        all_types: false,
    };
    SchemaInfo::from_schema(&schema, &Conditions::All, options)
}

fn check(info: &SchemaInfo, command: &str, args: &str, want: Result<(), &str>) {
    let map = match qmp_wire::from_str(args).expect("test arguments") {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    };
    let got = info
        .validate_command_arguments(command, &map)
        .map_err(|e| e.to_string());
    assert_eq!(
        got.as_ref().map_err(String::as_str),
        want.as_ref().map_err(|s| *s),
        "{command} {args}"
    );
}

#[test]
fn missing_unexpected_and_paths() {
    let info = info(true);
    let c = |args, want| check(&info, "set-caps", args, want);
    c("{}", Err("Parameter 'capabilities' is missing"));
    c(
        r#"{"bogus": 1}"#,
        Err("Parameter 'capabilities' is missing"),
    );
    c(
        r#"{"capabilities": [], "bogus": 1}"#,
        Err("Parameter 'bogus' is unexpected"),
    );
    c(r#"{"capabilities": []}"#, Ok(()));
    c(
        r#"{"capabilities": [{"capability": "xbzrle", "state": true}, {"capability": "events"}]}"#,
        Err("Parameter 'capabilities[1].state' is missing"),
    );
    c(
        r#"{"capabilities": [{"capability": "xbzrle", "state": true, "foo": 1}]}"#,
        Err("Parameter 'capabilities[0].foo' is unexpected"),
    );
    c(
        r#"{"capabilities": {}}"#,
        Err("Invalid parameter type for 'capabilities', expected: array"),
    );
    c(
        r#"{"capabilities": [1]}"#,
        Err("Invalid parameter type for 'capabilities[0]', expected: object"),
    );
    c(
        r#"{"capabilities": [{"capability": 5, "state": true}]}"#,
        Err("Invalid parameter type for 'capabilities[0].capability', expected: string"),
    );
    c(
        r#"{"capabilities": [{"capability": "nope", "state": true}]}"#,
        Err("Parameter 'capability' does not accept value 'nope'"),
    );
    c(
        r#"{"capabilities": [{"capability": "events", "state": "yes"}]}"#,
        Err("Invalid parameter type for 'capabilities[0].state', expected: boolean"),
    );
    check(
        &info,
        "no-args",
        r#"{"x": 1}"#,
        Err("Parameter 'x' is unexpected"),
    );
    check(&info, "no-args", "{}", Ok(()));
    check(
        &info,
        "nope",
        "{}",
        Err("The command nope has not been found"),
    );
}

#[test]
fn integers_numbers_and_scalars() {
    let info = info(true);
    let c = |args, want| check(&info, "ints", args, want);
    c(
        r#"{"u8": 255, "i8": -128, "i64": -9223372036854775808}"#,
        Ok(()),
    );
    c(r#"{"u8": 256}"#, Err("Parameter 'u8' expects uint8_t"));
    c(r#"{"u8": -1}"#, Err("Parameter 'u8' expects uint8_t"));
    c(r#"{"u8": 1.5}"#, Err("Parameter 'u8' expects uint64"));
    c(r#"{"u8": "1"}"#, Err("Parameter 'u8' expects uint64"));
    c(r#"{"i8": -129}"#, Err("Parameter 'i8' expects int8_t"));
    c(
        r#"{"i8": 1.0}"#,
        Err("Invalid parameter type for 'i8', expected: integer"),
    );
    c(
        r#"{"i64": 1.0}"#,
        Err("Invalid parameter type for 'i64', expected: integer"),
    );
    c(
        r#"{"i64": true}"#,
        Err("Invalid parameter type for 'i64', expected: integer"),
    );
    c(
        r#"{"i64": "0"}"#,
        Err("Invalid parameter type for 'i64', expected: integer"),
    );
    c(
        r#"{"i64": 9223372036854775808}"#,
        Err("Invalid parameter type for 'i64', expected: integer"),
    );
    c(
        r#"{"i64": -9223372036854775809}"#,
        Err("Invalid parameter type for 'i64', expected: integer"),
    );
    c(r#"{"u64": -1, "sz": -5}"#, Ok(()));
    c(r#"{"u64": 18446744073709551615}"#, Ok(()));
    c(
        r#"{"u64": 18446744073709551616}"#,
        Err("Parameter 'u64' expects uint64"),
    );
    c(r#"{"sz": 1e3}"#, Err("Parameter 'sz' expects uint64"));
    c(
        r#"{"num": 1, "anything": {"x": [null]}, "nothing": null}"#,
        Ok(()),
    );
    c(r#"{"num": 18446744073709551615}"#, Ok(()));
    c(
        r#"{"num": "1"}"#,
        Err("Invalid parameter type for 'num', expected: number"),
    );
    c(
        r#"{"nothing": 0}"#,
        Err("Invalid parameter type for 'nothing', expected: null"),
    );
    c(
        r#"{"u8s": [1, 300]}"#,
        Err("Parameter 'null' expects uint8_t"),
    );
    c(
        r#"{"u8s": [1, 1.5]}"#,
        Err("Parameter 'u8s[1]' expects uint64"),
    );
    c(
        r#"{"caps": ["events", "nope"]}"#,
        Err("Parameter 'null' does not accept value 'nope'"),
    );
    c(
        r#"{"caps": ["events", 1]}"#,
        Err("Invalid parameter type for 'caps[1]', expected: string"),
    );
}

#[test]
fn folded_integers_follow_int64_rules() {
    // QEMU's own list folds integer types into `int`: a server's list
    // validates every integer as int64.
    let info = info(false);
    check(&info, "ints", r#"{"u8": 256}"#, Ok(()));
    check(
        &info,
        "ints",
        r#"{"u64": 1.5}"#,
        Err("Invalid parameter type for 'u64', expected: integer"),
    );
}

#[test]
fn unions_and_alternates() {
    let info = info(true);
    let add = |args, want| check(&info, "add", args, want);
    add("{}", Err("Parameter 'driver' is missing"));
    add(
        r#"{"driver": "bogus"}"#,
        Err("Parameter 'driver' does not accept value 'bogus'"),
    );
    add(
        r#"{"driver": "file"}"#,
        Err("Parameter 'filename' is missing"),
    );
    add(
        r#"{"driver": "file", "filename": "x", "node": "n"}"#,
        Ok(()),
    );
    add(
        r#"{"driver": "file", "filename": "x", "extra": 1}"#,
        Err("Parameter 'extra' is unexpected"),
    );
    add(
        r#"{"driver": "null-co", "filename": "x"}"#,
        Err("Parameter 'filename' is unexpected"),
    );
    add(
        r#"{"driver": "null-co", "node": 1}"#,
        Err("Invalid parameter type for 'node', expected: string"),
    );
    let r = |args, want| check(&info, "use-ref", args, want);
    r(r#"{"file": "node0"}"#, Ok(()));
    r(
        r#"{"file": 1}"#,
        Err("Invalid parameter type for 'file', expected: Ref"),
    );
    r(
        r#"{"file": {"driver": "file"}}"#,
        Err("Parameter 'file.filename' is missing"),
    );
    r(
        r#"{"file": {"driver": "file", "filename": "x", "size": "big"}}"#,
        Err("Invalid parameter type for 'file.size', expected: integer"),
    );
    r(
        r#"{"file": {"driver": "file", "filename": "x", "x": 1}}"#,
        Err("Parameter 'file.x' is unexpected"),
    );
}
