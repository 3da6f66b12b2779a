//! Scripted replies: rules that match a command (and optionally some of its
//! arguments) and answer with a return value or an error, emit events first,
//! wait, or fall through to the simulator's own behaviour.
//!
//! A script file is a JSON list (QEMU's dialect: single quotes are fine):
//!
//! ```text
//! [
//!   {"execute": "query-block", "return": []},
//!   {"execute": "device_del", "arguments": {"id": "net0"},
//!    "error": {"class": "DeviceNotFound", "desc": "Device 'net0' not found"}},
//!   {"execute": "stop", "events": [{"event": "STOP"}], "delay": 0.5, "times": 1}
//! ]
//! ```
//!
//! Rules are tried in order; the first that matches and has uses left wins.
//! Arguments are checked (with QEMU's texts) before any rule applies.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use qmp_wire::{ErrorClass, Map, QmpError, Value};

/// What a matching rule answers.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptedReply {
    /// `{"return": VALUE}`
    Return(Value),
    /// `{"error": {"class": ..., "desc": ...}}`
    Error(QmpError),
    /// The simulator's own answer (after the rule's events and delay).
    Simulated,
}

/// An event a rule emits before its reply.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptedEvent {
    /// The event name.
    pub name: String,
    /// Its data.
    pub data: Option<Map>,
}

/// One scripted reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The command it answers.
    pub command: String,
    /// Arguments that must be present with these values (others may be too).
    pub arguments: Option<Map>,
    /// The answer.
    pub reply: ScriptedReply,
    /// Events emitted first, in order.
    pub events: Vec<ScriptedEvent>,
    /// A wait before replying.
    pub delay: Duration,
    /// How many times it applies (`None`: always).
    pub times: Option<usize>,
}

impl Rule {
    /// A rule answering `command` with `value`.
    pub fn returning(command: &str, value: impl Into<Value>) -> Rule {
        Rule {
            command: command.into(),
            arguments: None,
            reply: ScriptedReply::Return(value.into()),
            events: Vec::new(),
            delay: Duration::ZERO,
            times: None,
        }
    }

    /// A rule answering `command` with an error.
    pub fn failing(command: &str, class: ErrorClass, desc: &str) -> Rule {
        Rule {
            reply: ScriptedReply::Error(QmpError::new(class, desc)),
            ..Rule::returning(command, Value::Null)
        }
    }

    /// Only when these arguments have these values.
    pub fn with_arguments(mut self, arguments: Map) -> Rule {
        self.arguments = Some(arguments);
        self
    }

    /// Emits an event before replying.
    pub fn with_event(mut self, name: &str, data: Option<Map>) -> Rule {
        self.events.push(ScriptedEvent {
            name: name.into(),
            data,
        });
        self
    }

    /// Waits before replying.
    pub fn with_delay(mut self, delay: Duration) -> Rule {
        self.delay = delay;
        self
    }

    /// Applies `times` times only.
    pub fn times(mut self, times: usize) -> Rule {
        self.times = Some(times);
        self
    }

    fn matches(&self, command: &str, arguments: &Map) -> bool {
        self.command == command
            && self
                .arguments
                .as_ref()
                .is_none_or(|wanted| wanted.iter().all(|(k, v)| arguments.get(k) == Some(v)))
    }

    /// Reads one rule from its JSON form.
    pub fn from_value(value: &Value) -> Result<Rule, ScriptError> {
        let bad = |why: &str| ScriptError(format!("{why}: {value}"));
        let rule = value
            .as_object()
            .ok_or_else(|| bad("a rule must be an object"))?;
        for key in rule.keys() {
            if !matches!(
                key.as_str(),
                "execute" | "arguments" | "return" | "error" | "events" | "delay" | "times"
            ) {
                return Err(bad(&format!("unknown member '{key}' in a rule")));
            }
        }
        let command = rule
            .get("execute")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a rule needs \"execute\""))?;
        let arguments = match rule.get("arguments") {
            None => None,
            Some(Value::Object(map)) => Some(map.clone()),
            Some(_) => return Err(bad("\"arguments\" must be an object")),
        };
        let reply = match (rule.get("return"), rule.get("error")) {
            (Some(_), Some(_)) => return Err(bad("a rule has \"return\" or \"error\", not both")),
            (Some(value), None) => ScriptedReply::Return(value.clone()),
            (None, Some(error)) => {
                let class = error
                    .get("class")
                    .and_then(Value::as_str)
                    .unwrap_or("GenericError");
                let desc = error
                    .get("desc")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("\"error\" needs \"desc\""))?;
                ScriptedReply::Error(QmpError::new(ErrorClass::from_name(class), desc))
            }
            (None, None) => ScriptedReply::Simulated,
        };
        let events = match rule.get("events") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|e| {
                    let name = e
                        .get("event")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("an event needs \"event\""))?;
                    Ok(ScriptedEvent {
                        name: name.into(),
                        data: e.get("data").and_then(Value::as_object).cloned(),
                    })
                })
                .collect::<Result<_, ScriptError>>()?,
            Some(_) => return Err(bad("\"events\" must be a list")),
        };
        let delay = match rule.get("delay") {
            None => Duration::ZERO,
            Some(seconds) => seconds
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| bad("\"delay\" must be seconds (a number >= 0)"))?,
        };
        let times = match rule.get("times") {
            None => None,
            Some(n) => Some(
                n.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| bad("\"times\" must be a count"))?,
            ),
        };
        Ok(Rule {
            command: command.into(),
            arguments,
            reply,
            events,
            delay,
            times,
        })
    }
}

/// A script that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad script: {0}")]
pub struct ScriptError(pub String);

/// The rules in force, with their remaining uses.
#[derive(Default)]
pub struct Script {
    rules: Mutex<Vec<Rule>>,
}

impl Script {
    /// Reads rules from a JSON file.
    pub fn read_file(path: &Path) -> Result<Vec<Rule>, ScriptError> {
        let bytes = std::fs::read(path)
            .map_err(|e| ScriptError(format!("cannot read {}: {e}", path.display())))?;
        let value = qmp_wire::from_slice(&bytes)
            .map_err(|e| ScriptError(format!("{}: {e}", path.display())))?;
        match value {
            Value::Array(list) => list.iter().map(Rule::from_value).collect(),
            other => Err(ScriptError(format!(
                "a script is a list of rules, not {}",
                other.type_name()
            ))),
        }
    }

    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: Rule) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.push(rule);
        }
    }

    /// Removes every rule.
    pub fn clear(&self) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.clear();
        }
    }

    /// The first rule for this call with uses left (one use is taken).
    pub fn take(&self, command: &str, arguments: &Map) -> Option<Rule> {
        let mut rules = self.rules.lock().ok()?;
        let index = rules
            .iter()
            .position(|r| r.times != Some(0) && r.matches(command, arguments))?;
        let rule = rules.get_mut(index)?;
        if let Some(times) = rule.times.as_mut() {
            *times -= 1;
        }
        Some(rule.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rules_and_matches_arguments() {
        let value = qmp_wire::from_str(
            r#"[{'execute': 'device_del', 'arguments': {'id': 'net0'},
                 'error': {'class': 'DeviceNotFound', 'desc': 'gone'}, 'times': 1},
                {'execute': 'stop', 'events': [{'event': 'STOP'}], 'delay': 0.25}]"#,
        )
        .unwrap();
        let rules: Vec<Rule> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Rule::from_value(v).unwrap())
            .collect();
        let script = Script::default();
        for rule in rules {
            script.add(rule);
        }
        let net0: Map = [("id", "net0")].into_iter().collect();
        let other: Map = [("id", "net1")].into_iter().collect();
        assert!(script.take("device_del", &other).is_none());
        let rule = script.take("device_del", &net0).unwrap();
        assert_eq!(
            rule.reply,
            ScriptedReply::Error(QmpError::new(ErrorClass::DeviceNotFound, "gone"))
        );
        assert!(script.take("device_del", &net0).is_none(), "used up");
        let stop = script.take("stop", &Map::new()).unwrap();
        assert_eq!(stop.reply, ScriptedReply::Simulated);
        assert_eq!(stop.delay, Duration::from_millis(250));
        assert_eq!(stop.events[0].name, "STOP");
    }

    #[test]
    fn refuses_bad_rules() {
        for bad in [
            "{'execute': 1}",
            "{'execute': 'x', 'return': 1, 'error': {'desc': 'y'}}",
            "{'execute': 'x', 'delay': -1}",
            "{'execute': 'x', 'bogus': 1}",
        ] {
            assert!(
                Rule::from_value(&qmp_wire::from_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}
