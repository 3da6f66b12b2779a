//! Doc comments: QAPI doc text carried into rustdoc (definition bodies and
//! member descriptions), made safe for rustdoc: no accidental code blocks
//! or doc tests, and no text that rustdoc would read as a link, an HTML
//! tag or a bare URL (`[TGMKkb]`, `<id>`, `https://...`), so generated
//! code documents without warnings.

use qapi_schema::{Definition, Member};

use super::Gen;

/// `text` as `///` lines at `indent`; nothing for empty text.
///
/// Lines lose their indentation (four spaces would make a code block, and
/// rustdoc tests code blocks), except continuation lines of list items,
/// which get exactly the indentation Markdown needs.
pub fn doc_comment(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut list_indent: Option<usize> = None;
    let mut after_blank = false;
    for raw in text.trim().lines() {
        let line = raw.trim();
        out.push_str(indent);
        if line.is_empty() {
            out.push_str("///\n");
            after_blank = true;
            continue;
        }
        let indented = raw.len() > raw.trim_start().len();
        let continuation = match (list_indent, list_item_indent(line)) {
            (_, Some(n)) => {
                list_indent = Some(n);
                0
            }
            (Some(n), None) if indented || !after_blank => n,
            _ => {
                list_indent = None;
                0
            }
        };
        after_blank = false;
        out.push_str("/// ");
        out.push_str(&" ".repeat(continuation));
        // A fence would open a (tested) code block.
        out.push_str(&escape_markdown(&line.replace("```", "'''")));
        out.push('\n');
    }
    out
}

/// `#[doc(alias = "wire-name")]` when the QAPI name differs from the Rust
/// name, so rustdoc's search finds `query-status` as well as `QueryStatus`.
pub fn doc_alias(wire: &str, rust: &str) -> String {
    if wire == rust {
        String::new()
    } else {
        format!("#[doc(alias = {wire:?})]\n")
    }
}

/// `line` with what rustdoc would misread escaped, outside code spans
/// (whose text Markdown keeps as it is): `[`, `]` and `<` get a backslash,
/// and a bare `http://` or `https://` URL is put in angle brackets.
fn escape_markdown(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            let ticks = rest.len() - rest.trim_start_matches('`').len();
            let (fence, after) = rest.split_at(ticks);
            match closing_ticks(after, ticks) {
                Some(end) => {
                    let span_end = ticks + end + ticks;
                    out.push_str(rest.get(..span_end).unwrap_or(rest));
                    rest = rest.get(span_end..).unwrap_or_default();
                }
                None => {
                    out.push_str(fence);
                    rest = after;
                }
            }
            continue;
        }
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let url = rest.get(..end).unwrap_or(rest);
            let url = url.trim_end_matches(['.', ',', ';', ':', ')', '\'', '"']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = rest.get(url.len()..).unwrap_or_default();
            continue;
        }
        if matches!(c, '[' | ']' | '<') {
            out.push('\\');
        }
        out.push(c);
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out
}

/// Where a run of exactly `ticks` backticks starts in `text`, if one does.
fn closing_ticks(text: &str, ticks: usize) -> Option<usize> {
    let mut at = 0;
    while let Some(found) = text.get(at..)?.find('`') {
        let start = at + found;
        let run = text.get(start..)?.len() - text.get(start..)?.trim_start_matches('`').len();
        if run == ticks {
            return Some(start);
        }
        at = start + run;
    }
    None
}

/// The content indentation of a Markdown list item line (`- x`: 2,
/// `10. x` or `1) x`: the marker's width), or `None` for other lines.
fn list_item_indent(line: &str) -> Option<usize> {
    if line.starts_with("- ") || line.starts_with("* ") {
        return Some(2);
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let rest = line.get(digits..)?;
    (digits > 0 && (rest.starts_with(". ") || rest.starts_with(") "))).then_some(digits + 2)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_links_tags_and_bare_urls_outside_code_spans() {
        assert_eq!(
            escape_markdown("Understands [TGMKkb] suffixes."),
            "Understands \\[TGMKkb\\] suffixes."
        );
        assert_eq!(
            escape_markdown("\"id=<id>\" means the filter"),
            "\"id=\\<id>\" means the filter"
        );
        assert_eq!(
            escape_markdown("See https://gnutls.org/manual/x.html."),
            "See <https://gnutls.org/manual/x.html>."
        );
        assert_eq!(
            escape_markdown("the form ``child<subtype>`` or `[a]`"),
            "the form ``child<subtype>`` or `[a]`"
        );
        assert_eq!(
            escape_markdown("an odd ` tick [x]"),
            "an odd ` tick \\[x\\]"
        );
        assert_eq!(escape_markdown("Bit[3:0] é"), "Bit\\[3:0\\] é");
    }
}
