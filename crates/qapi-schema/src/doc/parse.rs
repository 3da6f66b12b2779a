//! The doc comment parser: reads a `##` block from the lexer's comment
//! lines into a [`Doc`], with QEMU 10.0's syntax or QEMU 7.2's.

use crate::error::Error;
use crate::lexer::{is_py_space, Lexer, Token};
use crate::source::Sources;

use super::model::{Doc, Section, SectionKind};

/// Parses `@name: ` at the start of a doc line: the name and the byte offset
/// where the text after the colon and its spaces begins.
fn match_at_name_colon(line: &str) -> Option<(&str, usize)> {
    let rest = line.strip_prefix('@')?;
    let colon = rest.find(':')?;
    let name = &rest[..colon];
    let mut end = 1 + colon + 1;
    while line.as_bytes().get(end) == Some(&b' ') {
        end += 1;
    }
    Some((name, end))
}

/// QEMU 7.2's test for a description line: the first space-separated word
/// is `@name:`. Returns the name and the offset of the text after it.
fn match_at_name_colon_relaxed(line: &str) -> Option<(&str, usize)> {
    let word = line.split(' ').next()?;
    let name = word.strip_prefix('@')?.strip_suffix(':')?;
    let rest = &line[word.len()..];
    let spaces = rest.len() - rest.trim_start_matches(is_py_space).len();
    Some((name, word.len() + spaces))
}

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

/// Reads doc blocks from the token stream.
pub(crate) struct DocParser<'a, 'l, 's> {
    pub lexer: &'l mut Lexer<'s>,
    pub sources: &'a Sources,
    pub relaxed: bool,
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
        if !val[1..].starts_with(' ') {
            return Err(self.err("missing space after #"));
        }
        Ok(Some(val[2..].trim_end_matches(is_py_space)))
    }

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
            if match_at_name_colon(line).is_some() {
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

    fn paragraph(&mut self, doc: &mut Doc) -> Result<Option<&'s str>, Error> {
        loop {
            let line = self.next_line()?;
            match line {
                None | Some("") => return Ok(line),
                Some(text) => doc.append_line(text),
            }
        }
    }

    /// Parses one doc block; the current token is its opening `##` line.
    pub fn parse(&mut self) -> Result<Doc, Error> {
        if !matches!(&self.lexer.tok, Token::Comment(r) if self.lexer.text(r.clone()) == "##") {
            return Err(self.err("junk after '##' at start of documentation comment"));
        }
        let info = self.lexer.info();
        let mut line = self.next_line()?;
        let mut doc;
        match line {
            Some(first) if first.starts_with('@') => {
                let Some(symbol) = first.strip_suffix(':') else {
                    return Err(self.err("line should end with ':'"));
                };
                let symbol = &symbol[1..];
                if symbol.is_empty() {
                    return Err(self.err("name required after '@'"));
                }
                doc = Doc::new(info, Some(symbol.to_string()), std::mem::take(self.pending));
                line = self.next_line()?;
                if self.relaxed {
                    self.definition_body_relaxed(&mut doc, line)?;
                } else {
                    self.definition_body(&mut doc, line)?;
                }
            }
            _ => {
                doc = Doc::new(info, None, std::mem::take(self.pending));
                doc.ensure_untagged_section(self.lexer.info());
                let mut first = true;
                while let Some(text) = line {
                    if let Some((name, _)) = match_at_name_colon(text) {
                        return Err(
                            self.err(format!("'@{name}:' not allowed in free-form documentation"))
                        );
                    }
                    if text.starts_with('=') && !first && !self.relaxed {
                        return Err(self.err("'=' heading must come first in a comment block"));
                    }
                    doc.append_line(text);
                    line = self.next_line()?;
                    first = false;
                }
            }
        }
        self.lexer.accept(self.sources, true)?;
        doc.relaxed = self.relaxed;
        *self.pending = doc.end(self.sources)?;
        Ok(doc)
    }

    fn definition_body(&mut self, doc: &mut Doc, mut line: Option<&'s str>) -> Result<(), Error> {
        let mut no_more_args = false;
        loop {
            while line == Some("") {
                line = self.next_line()?;
            }
            let Some(text) = line else {
                return Ok(());
            };
            if text == "Features:" {
                if !doc.features.is_empty() {
                    return Err(self.err("duplicated 'Features:' line"));
                }
                line = self.next_line()?;
                while line == Some("") {
                    line = self.next_line()?;
                }
                line = self.descriptions(doc, line, SectionKind::Feature)?;
                if doc.features.is_empty() {
                    return Err(self.err("feature descriptions expected"));
                }
                no_more_args = true;
            } else if let Some((name, _)) = match_at_name_colon(text) {
                if no_more_args {
                    return Err(self.err(format!("description of '@{name}:' follows a section")));
                }
                line = self.descriptions(doc, Some(text), SectionKind::Member)?;
                no_more_args = true;
            } else if let Some((tag, end)) = match_tag(text) {
                let kind = match tag {
                    "Returns" => SectionKind::Returns,
                    "Errors" => SectionKind::Errors,
                    "Since" => SectionKind::Since,
                    "TODO" => SectionKind::Todo,
                    "Note" | "Notes" if self.relaxed => SectionKind::Note,
                    "Example" | "Examples" if self.relaxed => SectionKind::Example,
                    "Note" | "Notes" => {
                        return Err(self.err(format!(
                            "The '{tag}' section is no longer supported. Please use rST's '.. note::' or \
                             '.. admonition:: notes' directives, or another suitable admonition instead."
                        )))
                    }
                    _ => {
                        return Err(self.err(format!(
                            "The '{tag}' section is no longer supported. Please use the '.. qmp-example::' \
                             directive, or other suitable markup instead."
                        )))
                    }
                };
                doc.new_tagged_section(self.sources, self.lexer.info(), kind)?;
                let rest = &text[end..];
                if !rest.is_empty() {
                    doc.append_line(rest);
                }
                line = self.indented(doc)?;
                no_more_args = true;
            } else if text.starts_with('=') {
                return Err(self.err("unexpected '=' markup in definition documentation"));
            } else {
                doc.ensure_untagged_section(self.lexer.info());
                doc.append_line(text);
                line = self.paragraph(doc)?;
            }
        }
    }

    /// The body of a definition doc in QEMU 7.2's syntax: indentation does
    /// not matter; a description or tagged section runs until the next
    /// description or tag, and after the descriptions an unindented line
    /// following a blank line starts a plain section. `Note:` and `Example:`
    /// are sections like the others.
    fn definition_body_relaxed(
        &mut self,
        doc: &mut Doc,
        mut line: Option<&'s str>,
    ) -> Result<(), Error> {
        #[derive(PartialEq)]
        enum Phase {
            Body,
            Args,
            Features,
            Various,
        }
        let mut phase = Phase::Body;
        let mut prev_blank = false;
        while let Some(text) = line {
            let at_name = match_at_name_colon_relaxed(text);
            let after_blank_unindented =
                prev_blank && !text.is_empty() && !text.starts_with(is_py_space);
            if let (Some((name, end)), Phase::Body | Phase::Args | Phase::Features) =
                (at_name, &phase)
            {
                let kind = if phase == Phase::Features {
                    SectionKind::Feature
                } else {
                    phase = Phase::Args;
                    SectionKind::Member
                };
                doc.new_description(self.sources, self.lexer.info(), name, kind)?;
                if text.len() > end {
                    doc.append_line(&text[end..]);
                }
            } else if text == "Features:" && phase != Phase::Various {
                if !doc.features.is_empty() {
                    return Err(self.err("duplicated 'Features:' line"));
                }
                phase = Phase::Features;
            } else if let Some((tag, end)) = match_tag(text) {
                let kind = match tag {
                    "Returns" => SectionKind::Returns,
                    "Errors" => SectionKind::Errors,
                    "Since" => SectionKind::Since,
                    "TODO" => SectionKind::Todo,
                    "Note" | "Notes" => SectionKind::Note,
                    _ => SectionKind::Example,
                };
                doc.new_tagged_section(self.sources, self.lexer.info(), kind)?;
                if text.len() > end {
                    doc.append_line(&text[end..]);
                }
                phase = Phase::Various;
            } else if text.starts_with('=') {
                return Err(self.err("unexpected '=' markup in definition documentation"));
            } else if matches!(phase, Phase::Args | Phase::Features) && after_blank_unindented {
                let idx = doc.push(Section::new(self.lexer.info(), SectionKind::Plain, None));
                doc.others.push(idx);
                doc.append_line(text);
                phase = Phase::Various;
            } else {
                doc.append_line(text);
            }
            prev_blank = text.is_empty();
            line = self.next_line()?;
        }
        Ok(())
    }

    /// Reads consecutive `@name: text` descriptions of one kind.
    fn descriptions(
        &mut self,
        doc: &mut Doc,
        mut line: Option<&'s str>,
        kind: SectionKind,
    ) -> Result<Option<&'s str>, Error> {
        while let Some(text) = line.take() {
            let Some((name, end)) = match_at_name_colon(text) else {
                return Ok(Some(text));
            };
            doc.new_description(self.sources, self.lexer.info(), name, kind)?;
            let rest = &text[end..];
            if !rest.is_empty() {
                doc.append_line(rest);
            }
            line = self.indented(doc)?;
        }
        Ok(None)
    }
}
