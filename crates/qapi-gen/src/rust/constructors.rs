//! Ways to build values of generated structs without spelling out every
//! member: `new(required...)` when some member is required (a struct whose
//! members are all optional derives `Default` instead), a chainable
//! `with_member(value)` setter per optional member, and for a union one
//! constructor per branch, named after the branch (`null_co(..)` for
//! `'driver': 'null-co'`), taking the required base members and the
//! branch's own type.
//!
//! Every argument is `impl Into<T>`, so `"n0"` fills a `String` and a
//! struct fills its `Box` where recursion boxes it. Generic methods are
//! compiled only where a client calls them.

use std::fmt::Write as _;

use qapi_schema::{EntityId, ObjectType};

use super::names::{snake, Namespace};
use super::Gen;

/// A struct field as constructors and setters see it.
#[derive(Clone, Debug)]
pub(super) struct Slot {
    /// The Rust field name.
    pub field: String,
    /// The member's name on the wire.
    pub wire: String,
    /// The field's type without the `Option` of an optional member.
    pub ty: String,
    /// True for an optional member (an `Option` field).
    pub optional: bool,
    /// The member's `#[deprecated]` line, if any.
    pub deprecated: String,
    /// How the member is read off the wire.
    pub read: Read,
}

/// How a member is read: as its type reads, with QEMU's tolerance of
/// negative `uint64`/`size`, or (optional, of a type with `null` among its
/// values) present-as-null is `Some`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// `Deserialize` of the type.
    Plain,
    /// `__rt::Compat`.
    Compat,
    /// Present, even as `null`, is `Some`.
    PresentIsSome,
}

/// A union constructor for one branch.
#[derive(Clone, Debug)]
pub(super) struct BranchConstructor {
    /// The tag value that selects the branch.
    case: String,
    /// The branch enum's variant.
    variant: String,
    /// The branch's own type (`None` for a branch without members).
    ty: Option<String>,
    /// True when the variant holds its type boxed.
    boxed: bool,
}

impl Gen<'_> {
    /// One constructor per branch of union `id` whose condition holds, in
    /// the branch enum `branch_enum`.
    pub(super) fn branch_constructors(
        &self,
        id: EntityId,
        o: &ObjectType,
        branch_enum: &str,
    ) -> Vec<BranchConstructor> {
        let Some(branches) = &o.branches else {
            return Vec::new();
        };
        let variants: Vec<_> = branches
            .variants
            .iter()
            .filter(|v| self.holds(v.ifcond.as_ref()))
            .collect();
        let (rust, _) = super::types::variant_names(variants.iter().map(|v| v.name.as_str()));
        variants
            .iter()
            .zip(rust)
            .map(|(v, r)| BranchConstructor {
                case: v.name.clone(),
                variant: format!("{branch_enum}::{r}"),
                ty: (!v.implicit).then(|| self.rust_type(v.ty, super::Scope::Root)),
                boxed: !v.implicit && self.cycles.needs_box(id, v.ty),
            })
            .collect()
    }

    /// `impl name { ... }` with `new`, the branch constructors and the
    /// setters of `slots`; nothing when there is nothing to build.
    pub(super) fn constructors(
        &self,
        name: &str,
        slots: &[Slot],
        branches: &[BranchConstructor],
    ) -> String {
        let required: Vec<&Slot> = slots.iter().filter(|s| !s.optional).collect();
        let optional: Vec<&Slot> = slots.iter().filter(|s| s.optional).collect();
        if required.is_empty() && optional.is_empty() {
            return String::new();
        }
        let mut methods = Namespace::default();
        // The schema decides the number of arguments, their names, and the
        // names of branch constructors (a branch may be called `default`).
        let mut out = format!(
            "#[allow(clippy::too_many_arguments, clippy::disallowed_names, clippy::should_implement_trait)]\nimpl {name} {{\n"
        );
        if !required.is_empty() {
            let new = methods.claim("new".to_string());
            let params = params(&required);
            let wire: Vec<String> = required.iter().map(|s| format!("`{}`", s.wire)).collect();
            let _ = writeln!(
                out,
                "    /// A value with the required members ({}); the optional ones are unset.\n    pub fn {new}({params}) -> Self {{\n        Self {{",
                wire.join(", ")
            );
            for s in slots {
                if s.optional {
                    let _ = writeln!(out, "            {}: ::std::option::Option::None,", s.field);
                } else {
                    let _ = writeln!(out, "            {}: {}.into(),", s.field, s.field);
                }
            }
            out.push_str("        }\n    }\n\n");
            // The branch is the last required slot of a union.
            let base = required.split_last().map_or(&[][..], |(_, base)| base);
            for b in branches {
                out.push_str(&branch_constructor(&new, &mut methods, base, b));
            }
        }
        for s in optional {
            let setter = methods.claim(format!("with_{}", s.field.trim_start_matches("r#")));
            let field = &s.field;
            let _ = writeln!(
                out,
                "    /// Sets `{}`.\n{}    pub fn {setter}(mut self, {field}: impl ::std::convert::Into<{}>) -> Self {{\n        self.{field} = ::std::option::Option::Some({field}.into());\n        self\n    }}\n",
                s.wire, s.deprecated, s.ty
            );
        }
        out.push_str("}\n\n");
        out
    }
}

/// `name: impl Into<T>, ...` for the slots.
fn params(slots: &[&Slot]) -> String {
    slots
        .iter()
        .map(|s| format!("{}: impl ::std::convert::Into<{}>", s.field, s.ty))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The constructor of one union branch: the required base members, then
/// the branch's own value, passed on to `new`.
fn branch_constructor(
    new: &str,
    methods: &mut Namespace,
    base: &[&Slot],
    b: &BranchConstructor,
) -> String {
    let method = methods.claim(snake(&b.case));
    let mut names = Namespace::default();
    for s in base {
        names.claim(s.field.clone());
    }
    let mut params = params(base);
    let mut args: Vec<String> = base.iter().map(|s| s.field.clone()).collect();
    match &b.ty {
        Some(ty) => {
            let branch = names.claim("branch".to_string());
            if !params.is_empty() {
                params.push_str(", ");
            }
            let _ = write!(params, "{branch}: {ty}");
            let value = if b.boxed {
                format!("{branch}.into()")
            } else {
                branch
            };
            args.push(format!("{}({value})", b.variant));
        }
        None => args.push(b.variant.clone()),
    }
    format!(
        "    /// A value of branch `{}`, with the required base members.\n    pub fn {method}({params}) -> Self {{\n        Self::{new}({})\n    }}\n\n",
        b.case,
        args.join(", ")
    )
}
