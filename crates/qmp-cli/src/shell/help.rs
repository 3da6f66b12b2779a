//! The shell's `help`: the input syntax, and a command's arguments as the
//! schema describes them (names, optional ones in brackets, value types,
//! enum values).

use qapi_schema::introspect::{EntryKind, JsonType, SchemaInfo};

use super::types;

/// Longest list of enum values shown in full.
const MAX_VALUES_SHOWN: usize = 12;

/// What `help` alone prints.
pub const SYNTAX: &str = "\
Input:
  COMMAND [KEY=VALUE ...]     values: integers, true/false, JSON ({...} or [...]), else strings
  COMMAND a.b=VALUE           dotted keys build nested objects
  {\"execute\": ...}            a raw QMP request
  transaction( ACTION KEY=VALUE ... ; ACTION ... )
                              or over several lines, one action a line, `)` to send
  help COMMAND                the command's arguments
Tab completes commands, argument names and enum values; input the schema
refuses is not sent. Ctrl-D leaves.";

/// Words for the values of type `name`.
fn describe(schema: &SchemaInfo, name: &str, depth: usize) -> String {
    let Some(entry) = schema.get(name) else {
        return name.to_owned();
    };
    match &entry.kind {
        EntryKind::Builtin { json_type } => match json_type {
            JsonType::String => "string",
            JsonType::Int => "int",
            JsonType::Number => "number",
            JsonType::Boolean => "bool",
            JsonType::Null => "null",
            JsonType::Value => "any",
            _ => "value",
        }
        .to_owned(),
        EntryKind::Enum { values, .. } => {
            let mut shown: Vec<&str> = values
                .iter()
                .take(MAX_VALUES_SHOWN)
                .map(String::as_str)
                .collect();
            if values.len() > MAX_VALUES_SHOWN {
                shown.push("...");
            }
            shown.join("|")
        }
        EntryKind::Array { element_type } if depth < 4 => {
            format!("[{}, ...]", describe(schema, element_type, depth + 1))
        }
        EntryKind::Alternate { members } if depth < 4 => members
            .iter()
            .map(|m| describe(schema, m, depth + 1))
            .collect::<Vec<_>>()
            .join(" or "),
        EntryKind::Object { .. } => "{...}".to_owned(),
        _ => "value".to_owned(),
    }
}

/// `help COMMAND`: one line per argument, or why there is none.
pub fn command_help(schema: &SchemaInfo, command: &str) -> String {
    let Some(arg_type) = schema.arg_type(command) else {
        return format!("The command {command} has not been found");
    };
    let members = types::members(schema, arg_type, None);
    if members.is_empty() {
        return format!("{command} takes no arguments");
    }
    let mut out = command.to_owned();
    for member in members {
        let value = describe(schema, &member.ty, 0);
        let pair = format!("{}={value}", member.name);
        if member.optional {
            out.push_str(&format!("\n  [{pair}]"));
        } else {
            out.push_str(&format!("\n  {pair}"));
        }
    }
    if let Some(EntryKind::Object { tag: Some(tag), .. }) = schema.get(arg_type).map(|e| &e.kind) {
        out.push_str(&format!(
            "\n  (more arguments depend on {tag}=...; Tab lists them once it is typed)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_arguments() {
        let value = qmp_wire::from_str(
            r#"[
            {"name": "set-action", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "stop", "meta-type": "command", "arg-type": "2", "ret-type": "2"},
            {"name": "0", "meta-type": "object", "members": [
                {"name": "reboot", "type": "1", "default": null},
                {"name": "ids", "type": "[int]"}]},
            {"name": "1", "meta-type": "enum", "values": ["reset", "shutdown"]},
            {"name": "2", "meta-type": "object", "members": []},
            {"name": "[int]", "meta-type": "array", "element-type": "int"},
            {"name": "int", "meta-type": "builtin", "json-type": "int"}
            ]"#,
        )
        .unwrap();
        let schema = SchemaInfo::from_value(&value).unwrap();
        assert_eq!(
            command_help(&schema, "set-action"),
            "set-action\n  [reboot=reset|shutdown]\n  ids=[int, ...]"
        );
        assert_eq!(command_help(&schema, "stop"), "stop takes no arguments");
        assert_eq!(
            command_help(&schema, "nope"),
            "The command nope has not been found"
        );
    }
}
