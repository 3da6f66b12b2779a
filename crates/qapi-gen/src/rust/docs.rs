//! Doc comments: QAPI doc text carried into rustdoc (definition bodies and
//! member descriptions), made safe for rustdoc (no accidental code blocks
//! or doc tests).

use qapi_schema::{Definition, Member};

use super::Gen;

/// `text` as `///` lines at `indent`; nothing for empty text.
pub fn doc_comment(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = text.trim().lines().map(str::trim).collect();
    for line in lines {
        out.push_str(indent);
        if line.is_empty() {
            out.push_str("///\n");
        } else {
            // Indented text and fences would become (tested) code blocks.
            out.push_str("/// ");
            out.push_str(&line.replace("```", "'''"));
            out.push('\n');
        }
    }
    out
}

impl Gen<'_> {
    /// The body of a definition's doc block.
    pub(super) fn def_doc(&self, def: &Definition) -> String {
        self.schema
            .doc_of(def)
            .map(|d| d.body().text.clone())
            .unwrap_or_default()
    }

    /// The description of `name` in the doc block of definition `owner`.
    pub(super) fn described(&self, owner: &str, name: &str) -> Option<String> {
        let def = self.schema.lookup(owner)?;
        let doc = self.schema.doc_of(def)?;
        doc.args()
            .find(|s| s.name.as_deref() == Some(name))
            .map(|s| s.text.clone())
            .filter(|t| !t.trim().is_empty())
    }

    /// The description of a member, from the doc of the definition that
    /// declares it (inline argument and base types are documented by the
    /// command, event or union they belong to).
    pub(super) fn member_doc(&self, member: &Member) -> Option<String> {
        let owner = member.defined_in.as_str();
        let owner = owner
            .strip_prefix("q_obj_")
            .and_then(|o| o.strip_suffix("-arg").or_else(|| o.strip_suffix("-base")))
            .unwrap_or(owner);
        self.described(owner, &member.name)
    }
}
