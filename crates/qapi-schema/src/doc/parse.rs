//! The doc comment parser: reads a `##` block from the lexer's comment
//! lines into a [`Doc`], in either [`Dialect`].

use crate::error::Error;
use crate::lexer::{is_py_space, Lexer, Token};
use crate::source::Sources;

use super::dialect::{match_at_name_colon, Dialect};
use super::model::{Doc, SectionKind};

/// Matches a tagged section line (`Returns:`, `Since: text`, ...), not when
/// the tag is followed by `::` (rST). Returns the tag and the text offset.
fn match_tag(line: &str) -> Option<(&'static str, usize)> {
    const TAGS: [&str; 8] = [
        "Returns", "Errors", "Since", "Notes", "Note", "Examples", "Example", "TODO",
    ];
    for tag in TAGS {
        if let Some(rest) = line.strip_prefix(tag) {
            if rest.starts_with("::") || !rest.starts_with(':') {
                continue;
            }
            let mut end = tag.len() + 1;
            while line.as_bytes().get(end) == Some(&b' ') {
                end += 1;
            }
            return Some((tag, end));
        }
    }
    None
}

fn leading_space(line: &str) -> usize {
    line.chars().take_while(|&c| is_py_space(c)).count()
}

/// Appends the text of a section's first line after its tag or `@name:`
/// (at `offset`), unless there is none.
fn append_rest(doc: &mut Doc, line: &str, offset: usize) {
    if let Some(rest) = line.get(offset..).filter(|r| !r.is_empty()) {
        doc.append_line(rest);
    }
}

/// Where a definition doc is: which descriptions a `@name:` line adds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before any description or tagged section: the first member.
    Body,
    /// In the member descriptions: another member.
    Members,
    /// After `Features:`: a feature.
    Features,
    /// After a section that ends the descriptions: none (an error in
    /// QEMU 10.0's syntax, text in QEMU 7.2's).
    Sections,
}

/// Reads doc blocks from the token stream.
pub(crate) struct DocParser<'a, 'l, 's> {
    pub lexer: &'l mut Lexer<'s>,
    pub sources: &'a Sources,
    pub dialect: Dialect,
    /// An empty buffer for the text being read, kept between blocks.
    pub pending: &'l mut String,
}

impl<'s> DocParser<'_, '_, 's> {
    fn err(&self, msg: impl Into<String>) -> Error {
        self.lexer.error(self.sources, msg)
    }

    fn next_line(&mut self) -> Result<Option<&'s str>, Error> {
        self.lexer.accept(self.sources, false)?;
        self.line()
    }

    /// The current doc line: `None` at the closing `##`.
    fn line(&self) -> Result<Option<&'s str>, Error> {
        let Token::Comment(range) = &self.lexer.tok else {
            return Err(self.err("documentation comment must end with '##'"));
        };
        let val = self.lexer.text(range.clone());
        if val.starts_with("##") {
            if val != "##" {
                return Err(self.err("junk after '##' at end of documentation comment"));
            }
            return Ok(None);
        }
        if val == "#" {
            return Ok(Some(""));
        }
        // A comment token starts with `#`.
        let Some(text) = val.strip_prefix("# ") else {
            return Err(self.err("missing space after #"));
        };
        Ok(Some(text.trim_end_matches(is_py_space)))
    }

    /// Parses one doc block; the current token is its opening `##` line.
    pub fn parse(&mut self) -> Result<Doc, Error> {
        if !matches!(&self.lexer.tok, Token::Comment(r) if self.lexer.text(r.clone()) == "##") {
            return Err(self.err("junk after '##' at start of documentation comment"));
        }
        let info = self.lexer.info();
        let mut line = self.next_line()?;
        let mut doc;
        match line.and_then(|first| first.strip_prefix('@')) {
            Some(symbol) => {
                let Some(symbol) = symbol.strip_suffix(':') else {
                    return Err(self.err("line should end with ':'"));
                };
                if symbol.is_empty() {
                    return Err(self.err("name required after '@'"));
                }
                doc = Doc::new(info, Some(symbol.to_string()), std::mem::take(self.pending));
                line = self.next_line()?;
                self.definition_body(&mut doc, line)?;
            }
            None => {
                doc = Doc::new(info, None, std::mem::take(self.pending));
                doc.ensure_untagged_section(self.lexer.info());
                let mut first = true;
                while let Some(text) = line {
                    // Both dialects match descriptions here as QEMU 10.0 does.
                    if let Some((name, _)) = match_at_name_colon(text) {
                        return Err(
                            self.err(format!("'@{name}:' not allowed in free-form documentation"))
                        );
                    }
                    if text.starts_with('=') && !first && !self.dialect.headings_anywhere() {
                        return Err(self.err("'=' heading must come first in a comment block"));
                    }
                    doc.append_line(text);
                    line = self.next_line()?;
                    first = false;
                }
            }
        }
        self.lexer.accept(self.sources, true)?;
        doc.relaxed = self.dialect == Dialect::Relaxed;
        *self.pending = doc.end(self.sources)?;
        Ok(doc)
    }

    /// The body of a definition doc after its `@NAME:` line: plain text,
    /// member descriptions, `Features:` and feature descriptions, then
    /// tagged and plain sections. Each line the loop sees starts a section
    /// (or is `Features:`); how far a section's text runs is the dialect's
    /// ([`Self::section_text`]).
    fn definition_body(&mut self, doc: &mut Doc, mut line: Option<&'s str>) -> Result<(), Error> {
        let mut phase = Phase::Body;
        loop {
            while line == Some("") {
                line = self.next_line()?;
            }
            let Some(text) = line else {
                return Ok(());
            };
            let info = self.lexer.info();
            if let Some((name, end)) = self.dialect.match_description(text) {
                let kind = match phase {
                    Phase::Body | Phase::Members => {
                        phase = Phase::Members;
                        SectionKind::Member
                    }
                    Phase::Features => SectionKind::Feature,
                    Phase::Sections => {
                        return Err(self.err(format!("description of '@{name}:' follows a section")))
                    }
                };
                doc.new_description(self.sources, info, name, kind)?;
                append_rest(doc, text, end);
                line = self.section_text(doc, phase, false)?;
            } else if text == "Features:" {
                if !doc.features.is_empty() {
                    return Err(self.err("duplicated 'Features:' line"));
                }
                phase = Phase::Features;
                line = self.after_features(doc)?;
            } else if let Some((tag, end)) = match_tag(text) {
                let kind = self.dialect.tagged_section(tag).map_err(|m| self.err(m))?;
                doc.new_tagged_section(self.sources, info, kind)?;
                append_rest(doc, text, end);
                phase = Phase::Sections;
                line = self.section_text(doc, phase, false)?;
            } else if text.starts_with('=') {
                return Err(self.err("unexpected '=' markup in definition documentation"));
            } else {
                match self.dialect {
                    // A paragraph joins the plain section right before it.
                    Dialect::Strict => doc.ensure_untagged_section(info),
                    // Before the descriptions, the body's text; after them
                    // (and a blank line), a section of its own.
                    Dialect::Relaxed if phase == Phase::Body => {}
                    Dialect::Relaxed => doc.new_plain_section(info),
                }
                if phase != Phase::Body {
                    phase = Phase::Sections;
                }
                doc.append_line(text);
                line = self.section_text(doc, phase, true)?;
            }
        }
    }

    /// Reads the text of the section just started, after its first line;
    /// returns the line after it. QEMU 10.0: a plain paragraph runs to a
    /// blank line, a description or tagged section takes the lines
    /// indented like its first continuation line. QEMU 7.2: a section runs
    /// to the next line that starts one.
    fn section_text(
        &mut self,
        doc: &mut Doc,
        phase: Phase,
        plain: bool,
    ) -> Result<Option<&'s str>, Error> {
        match self.dialect {
            Dialect::Strict if plain => self.paragraph(doc),
            Dialect::Strict => self.indented(doc),
            Dialect::Relaxed => self.until_next_section(doc, phase),
        }
    }

    /// What follows `Features:`. QEMU 10.0: feature descriptions, after
    /// blank lines. QEMU 7.2: more text of the section before.
    fn after_features(&mut self, doc: &mut Doc) -> Result<Option<&'s str>, Error> {
        if self.dialect == Dialect::Relaxed {
            return self.until_next_section(doc, Phase::Features);
        }
        let mut line = self.next_line()?;
        while line == Some("") {
            line = self.next_line()?;
        }
        if line.is_none_or(|l| self.dialect.match_description(l).is_none()) {
            return Err(self.err("feature descriptions expected"));
        }
        Ok(line)
    }

    /// QEMU 10.0: a paragraph's lines, up to a blank line.
    fn paragraph(&mut self, doc: &mut Doc) -> Result<Option<&'s str>, Error> {
        loop {
            let line = self.next_line()?;
            match line {
                None | Some("") => return Ok(line),
                Some(text) => doc.append_line(text),
            }
        }
    }

    /// QEMU 10.0: the text of a description or tagged section, after blank
    /// lines the lines indented at least like the first, up to a
    /// description.
    fn indented(&mut self, doc: &mut Doc) -> Result<Option<&'s str>, Error> {
        let mut line = self.next_line()?;
        while line == Some("") {
            doc.append_line("");
            line = self.next_line()?;
        }
        let Some(first) = line else {
            return Ok(None);
        };
        let indent = leading_space(first);
        if indent == 0 {
            return Ok(Some(first));
        }
        doc.append_line(first);
        let mut prev_line_blank = false;
        loop {
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            if self.dialect.match_description(line).is_some() {
                return Ok(Some(line));
            }
            if !line.is_empty() && leading_space(line) < indent {
                if prev_line_blank {
                    return Ok(Some(line));
                }
                return Err(self.err(format!(
                    "unexpected de-indent (expected at least {indent} spaces)"
                )));
            }
            doc.append_line(line);
            // QEMU sets this after every line, not only blank ones.
            prev_line_blank = true;
        }
    }

    /// QEMU 7.2: the lines of a section up to the next line that starts
    /// one: a description or `Features:` while descriptions may come, a
    /// tag, a heading (an error), or once the descriptions have begun, an
    /// unindented line after a blank one (a plain section).
    fn until_next_section(
        &mut self,
        doc: &mut Doc,
        phase: Phase,
    ) -> Result<Option<&'s str>, Error> {
        let mut prev_blank = false;
        loop {
            let Some(text) = self.next_line()? else {
                return Ok(None);
            };
            let starts = (phase != Phase::Sections
                && (self.dialect.match_description(text).is_some() || text == "Features:"))
                || match_tag(text).is_some()
                || text.starts_with('=')
                || (matches!(phase, Phase::Members | Phase::Features)
                    && prev_blank
                    && !text.is_empty()
                    && !text.starts_with(is_py_space));
            if starts {
                return Ok(Some(text));
            }
            doc.append_line(text);
            prev_blank = text.is_empty();
        }
    }
}
