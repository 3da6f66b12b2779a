//! The two doc comment syntaxes, QEMU 10.0's and QEMU 7.2's, and the rules
//! of the parser and the checks that tell them apart.

use crate::lexer::is_py_space;

use super::model::SectionKind;

/// The doc comment syntax a schema is read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// QEMU 10.0's: indentation delimits the text of descriptions and
    /// tagged sections, a paragraph ends at a blank line, `Features:`
    /// introduces feature descriptions, `Note:` and `Example:` are gone,
    /// and a heading may only open a free-form block.
    Strict,
    /// QEMU 7.2's, as its schemas use it: a section runs to the next line
    /// that starts one, `Note:` and `Example:` are sections, headings may
    /// stand anywhere in free-form blocks, and the checks added since are
    /// not made.
    Relaxed,
}

impl Dialect {
    /// The dialect of [`LoadOptions::relaxed_docs`](crate::LoadOptions).
    pub(crate) fn of(relaxed: bool) -> Self {
        if relaxed {
            Dialect::Relaxed
        } else {
            Dialect::Strict
        }
    }

    /// Matches a description line `@name: text`: the name and the offset
    /// of the text. QEMU 10.0 takes the name up to the first `:`; QEMU 7.2
    /// wants the first space-separated word to be `@name:`.
    pub(crate) fn match_description(self, line: &str) -> Option<(&str, usize)> {
        match self {
            Dialect::Strict => match_at_name_colon(line),
            Dialect::Relaxed => {
                let word = line.split(' ').next()?;
                let name = word.strip_prefix('@')?.strip_suffix(':')?;
                let rest = line.get(word.len()..)?;
                let spaces = rest.len() - rest.trim_start_matches(is_py_space).len();
                Some((name, word.len() + spaces))
            }
        }
    }

    /// The kind of the section a tag (`Returns`, `Note`, ...) starts, or
    /// the message rejecting the tag.
    pub(crate) fn tagged_section(self, tag: &str) -> Result<SectionKind, String> {
        Ok(match tag {
            "Returns" => SectionKind::Returns,
            "Errors" => SectionKind::Errors,
            "Since" => SectionKind::Since,
            "TODO" => SectionKind::Todo,
            "Note" | "Notes" if self == Dialect::Relaxed => SectionKind::Note,
            "Note" | "Notes" => {
                return Err(format!(
                    "The '{tag}' section is no longer supported. Please use rST's '.. note::' or \
                     '.. admonition:: notes' directives, or another suitable admonition instead."
                ))
            }
            _ if self == Dialect::Relaxed => SectionKind::Example,
            _ => {
                return Err(format!(
                    "The '{tag}' section is no longer supported. Please use the '.. qmp-example::' \
                     directive, or other suitable markup instead."
                ))
            }
        })
    }

    /// Whether a free-form block may have `=` headings after its first line.
    pub(crate) fn headings_anywhere(self) -> bool {
        self == Dialect::Relaxed
    }

    /// Whether a `Returns:` section needs a command that returns something
    /// (QEMU 7.2 did not check).
    pub(crate) fn returns_needs_return_type(self) -> bool {
        self == Dialect::Strict
    }

    /// Whether members may go undocumented in every definition, not only
    /// in those of `documentation-exceptions` (QEMU 7.2 did not check).
    pub(crate) fn excuses_undocumented_members(self) -> bool {
        self == Dialect::Relaxed
    }
}

/// Parses `@name: ` at the start of a doc line, the way QEMU 10.0 does: the
/// name and the byte offset where the text after the colon and its spaces
/// begins.
pub(super) fn match_at_name_colon(line: &str) -> Option<(&str, usize)> {
    let rest = line.strip_prefix('@')?;
    let colon = rest.find(':')?;
    let name = rest.get(..colon)?;
    let mut end = 1 + colon + 1;
    while line.as_bytes().get(end) == Some(&b' ') {
        end += 1;
    }
    Some((name, end))
}
