//! The test-suite dump format of QEMU's `tests/qapi-schema/test-qapi.py`:
//! modules and their entities, then the doc blocks (the `.out` files).

use std::fmt::Write;

use crate::ifcond::IfCond;
use crate::model::*;

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

struct Dumper<'s> {
    schema: &'s Schema,
    out: String,
}

impl Dumper<'_> {
    fn line(&mut self, indent: usize, text: std::fmt::Arguments<'_>) {
        for _ in 0..indent {
            self.out.push(' ');
        }
        let _ = self.out.write_fmt(text);
        self.out.push('\n');
    }

    fn ifcond(&mut self, cond: Option<&IfCond>, indent: usize) {
        if let Some(c) = cond {
            self.line(indent, format_args!("if {c}"));
        }
    }

    fn features(&mut self, features: &[Feature], indent: usize) {
        for f in features {
            self.line(indent, format_args!("feature {}", f.name));
            self.ifcond(f.ifcond.as_ref(), indent + 4);
        }
    }

    fn type_name(&self, id: Option<EntityId>) -> &str {
        id.and_then(|i| self.schema.definition(i))
            .map_or("None", |d| d.name.as_str())
    }

    fn variants(&mut self, tag: &str, variants: &[Variant]) {
        self.line(4, format_args!("tag {tag}"));
        for v in variants {
            let ty = self.type_name(Some(v.ty)).to_string();
            self.line(4, format_args!("case {}: {ty}", v.name));
            self.ifcond(v.ifcond.as_ref(), 8);
        }
    }

    fn definition(&mut self, def: &Definition) {
        match &def.kind {
            DefinitionKind::Builtin(_) => return,
            DefinitionKind::Enum(e) => {
                self.line(0, format_args!("enum {}", def.name));
                if let Some(p) = &e.prefix {
                    self.line(4, format_args!("prefix {p}"));
                }
                for v in &e.values {
                    self.line(4, format_args!("member {}", v.name));
                    self.ifcond(v.ifcond.as_ref(), 8);
                    self.features(&v.features, 8);
                }
            }
            DefinitionKind::Array(a) => {
                if def.info.is_none() {
                    return;
                }
                let elem = self.type_name(Some(a.element)).to_string();
                self.line(0, format_args!("array {} {elem}", def.name));
                self.ifcond(def.ifcond.as_ref(), 4);
                return;
            }
            DefinitionKind::Object(o) => {
                self.line(0, format_args!("object {}", def.name));
                if o.base.is_some() {
                    let base = self.type_name(o.base).to_string();
                    self.line(4, format_args!("base {base}"));
                }
                for m in &o.local_members {
                    let ty = self.type_name(Some(m.ty)).to_string();
                    self.line(
                        4,
                        format_args!("member {}: {ty} optional={}", m.name, py_bool(m.optional)),
                    );
                    self.ifcond(m.ifcond.as_ref(), 8);
                    self.features(&m.features, 8);
                }
                if let Some(b) = &o.branches {
                    let tag = b
                        .tag_member
                        .as_ref()
                        .map_or(b.tag_name.as_str(), |m| m.name.as_str());
                    self.variants(tag, &b.variants);
                }
            }
            DefinitionKind::Alternate(a) => {
                self.line(0, format_args!("alternate {}", def.name));
                self.variants(&a.tag_member.name, &a.variants);
            }
            DefinitionKind::Command(c) => {
                let arg = self.type_name(c.arg_type).to_string();
                let ret = self.type_name(c.ret_type).to_string();
                self.line(0, format_args!("command {} {arg} -> {ret}", def.name));
                self.line(
                    4,
                    format_args!(
                        "gen={} success_response={} boxed={} oob={} preconfig={}{}",
                        py_bool(c.gen),
                        py_bool(c.success_response),
                        py_bool(c.boxed),
                        py_bool(c.allow_oob),
                        py_bool(c.allow_preconfig),
                        if c.coroutine { " coroutine=True" } else { "" }
                    ),
                );
            }
            DefinitionKind::Event(e) => {
                let arg = self.type_name(e.arg_type).to_string();
                self.line(0, format_args!("event {} {arg}", def.name));
                self.line(4, format_args!("boxed={}", py_bool(e.boxed)));
            }
        }
        self.ifcond(def.ifcond.as_ref(), 4);
        self.features(&def.features, 4);
    }

    fn docs(&mut self) {
        for doc in &self.schema.docs {
            match &doc.symbol {
                Some(s) => self.line(0, format_args!("doc symbol={s}")),
                None => self.line(0, format_args!("doc freeform")),
            }
            self.line(4, format_args!("body=\n{}", doc.body().text));
            for s in doc.args() {
                self.line(
                    4,
                    format_args!("arg={}\n{}", s.name.as_deref().unwrap_or(""), s.text),
                );
            }
            for s in doc.features() {
                self.line(
                    4,
                    format_args!("feature={}\n{}", s.name.as_deref().unwrap_or(""), s.text),
                );
            }
            for s in doc.sections() {
                self.line(4, format_args!("section={}\n{}", s.kind.title(), s.text));
            }
        }
    }
}

/// Renders the schema in the test-suite dump format (the `.out` files).
pub fn dump(schema: &Schema) -> String {
    let mut d = Dumper {
        schema,
        out: String::new(),
    };
    for module in &schema.modules {
        d.line(0, format_args!("module {}", module.name));
        for &id in &module.entities {
            match schema.entity(id) {
                Some(Entity::Include(inc)) => {
                    let name = schema.module(inc.target).map_or("", |m| m.name.as_str());
                    d.line(0, format_args!("include {name}"));
                }
                Some(Entity::Definition(def)) => d.definition(def),
                None => {}
            }
        }
    }
    d.docs();
    d.out
}
