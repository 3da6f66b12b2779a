//! Doc comments: the block model (body, member and feature descriptions,
//! tagged sections) and its parser, with QEMU 10.0's rules and a relaxed
//! mode for the older syntax of QEMU 7.2's schemas.

use crate::error::Error;
use crate::lexer::{is_py_space, Lexer, Token};
use crate::source::{SourceInfo, Sources};

/// The kind of a doc section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// Untagged text (the body, or a paragraph after the descriptions).
    Plain,
    /// `@name:` description of a member, parameter, value or branch.
    Member,
    /// `@name:` under `Features:`.
    Feature,
    /// `Returns:`
    Returns,
    /// `Errors:`
    Errors,
    /// `Since:`
    Since,
    /// `TODO:`
    Todo,
    /// `Note:`/`Notes:` (relaxed mode only; QEMU 10.0 rejects them).
    Note,
    /// `Example:`/`Examples:` (relaxed mode only).
    Example,
}

impl SectionKind {
    /// The name QEMU prints (`Plain`, `Member`, ..., `Todo`).
    pub fn title(self) -> &'static str {
        match self {
            SectionKind::Plain => "Plain",
            SectionKind::Member => "Member",
            SectionKind::Feature => "Feature",
            SectionKind::Returns => "Returns",
            SectionKind::Errors => "Errors",
            SectionKind::Since => "Since",
            SectionKind::Todo => "Todo",
            SectionKind::Note => "Note",
            SectionKind::Example => "Example",
        }
    }
}

/// One section of a doc block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Where the section starts.
    pub info: SourceInfo,
    /// Its kind.
    pub kind: SectionKind,
    /// The described name, for member and feature sections.
    pub name: Option<String>,
    /// The text, without the tag, leading and trailing blank lines removed.
    pub text: String,
    /// For member/feature sections: whether a schema entity was found for it.
    pub connected: bool,
}

impl Section {
    fn new(info: SourceInfo, kind: SectionKind, name: Option<String>) -> Self {
        Section {
            info,
            kind,
            name,
            text: String::new(),
            connected: false,
        }
    }
}

/// A doc comment block: definition documentation (`@NAME:` first) or
/// free-form documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    /// The block's `##` line.
    pub info: SourceInfo,
    /// The documented definition, `None` for free-form blocks.
    pub symbol: Option<String>,
    /// True when read with QEMU 7.2's relaxed syntax.
    pub relaxed: bool,
    store: Vec<Section>,
    order: Vec<usize>,
    args: Vec<usize>,
    features: Vec<usize>,
    others: Vec<usize>,
    returns: Option<usize>,
    errors: Option<usize>,
    since: Option<usize>,
    /// While parsing: the text of the last section in `order`, moved into
    /// it (trimmed, in one allocation) when the next section starts or the
    /// block ends. Lent by the parser so one buffer serves every block.
    pending: String,
}

/// Sections a doc block has room for before its lists grow.
const SECTIONS_RESERVED: usize = 8;

impl Doc {
    fn new(info: SourceInfo, symbol: Option<String>, pending: String) -> Self {
        let mut store = Vec::with_capacity(SECTIONS_RESERVED);
        store.push(Section::new(info, SectionKind::Plain, None));
        let mut order = Vec::with_capacity(SECTIONS_RESERVED);
        order.push(0);
        Doc {
            info,
            symbol,
            relaxed: false,
            store,
            order,
            args: Vec::new(),
            features: Vec::new(),
            others: Vec::new(),
            returns: None,
            errors: None,
            since: None,
            pending,
        }
    }

    fn section(&self, idx: usize) -> Option<&Section> {
        self.store.get(idx)
    }

    /// The body: the untagged text at the start of the block.
    pub fn body(&self) -> &Section {
        &self.store[0]
    }

    /// Member descriptions in order (documented ones, then stubs inserted for
    /// undocumented members of `documentation-exceptions` definitions).
    pub fn args(&self) -> impl Iterator<Item = &Section> {
        self.args.iter().filter_map(|&i| self.section(i))
    }

    /// Feature descriptions in order.
    pub fn features(&self) -> impl Iterator<Item = &Section> {
        self.features.iter().filter_map(|&i| self.section(i))
    }

    /// The sections other than body, members and features, in order.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.others.iter().filter_map(|&i| self.section(i))
    }

    /// Every section in textual order, body first.
    pub fn all_sections(&self) -> impl Iterator<Item = &Section> {
        self.order.iter().filter_map(|&i| self.section(i))
    }

    /// The `Returns:` section, if any.
    pub fn returns(&self) -> Option<&Section> {
        self.returns.and_then(|i| self.section(i))
    }

    /// The `Errors:` section, if any.
    pub fn errors(&self) -> Option<&Section> {
        self.errors.and_then(|i| self.section(i))
    }

    /// The `Since:` section, if any.
    pub fn since(&self) -> Option<&Section> {
        self.since.and_then(|i| self.section(i))
    }

    fn push(&mut self, section: Section) -> usize {
        self.flush();
        self.store.push(section);
        let idx = self.store.len() - 1;
        self.order.push(idx);
        idx
    }

    /// Moves the pending text into the last section, without leading and
    /// trailing blank lines.
    fn flush(&mut self) {
        if let Some(section) = self.order.last().and_then(|&i| self.store.get_mut(i)) {
            section.text.push_str(self.pending.trim_matches('\n'));
        }
        self.pending.clear();
    }

    fn append_line(&mut self, line: &str) {
        self.pending.push_str(line);
        self.pending.push('\n');
    }

    fn ensure_untagged_section(&mut self, info: SourceInfo) {
        if let Some(&last) = self.order.last() {
            if let Some(section) = self.store.get_mut(last) {
                if section.kind == SectionKind::Plain {
                    if self.pending.is_empty() {
                        // Empty so far: the section starts here.
                        section.info = info;
                    }
                    self.pending.push('\n');
                    return;
                }
            }
        }
        let idx = self.push(Section::new(info, SectionKind::Plain, None));
        self.others.push(idx);
    }

    fn new_tagged_section(
        &mut self,
        sources: &Sources,
        info: SourceInfo,
        kind: SectionKind,
    ) -> Result<(), Error> {
        let slot = match kind {
            SectionKind::Returns => Some(&mut self.returns),
            SectionKind::Errors => Some(&mut self.errors),
            SectionKind::Since => Some(&mut self.since),
            _ => None,
        };
        if let Some(slot) = &slot {
            if slot.is_some() {
                return Err(Error::at(
                    sources,
                    info,
                    None,
                    format!("duplicated '{}' section", kind.title()),
                ));
            }
        }
        let idx = self.store.len();
        if let Some(slot) = slot {
            *slot = Some(idx);
        }
        self.push(Section::new(info, kind, None));
        self.others.push(idx);
        Ok(())
    }

    fn new_description(
        &mut self,
        sources: &Sources,
        info: SourceInfo,
        name: &str,
        kind: SectionKind,
    ) -> Result<(), Error> {
        if name.is_empty() {
            return Err(Error::at(sources, info, None, "invalid parameter name"));
        }
        let list = if kind == SectionKind::Feature {
            &self.features
        } else {
            &self.args
        };
        if list
            .iter()
            .any(|&i| self.store.get(i).and_then(|s| s.name.as_deref()) == Some(name))
        {
            return Err(Error::at(
                sources,
                info,
                None,
                format!("'{name}' parameter name duplicated"),
            ));
        }
        let idx = self.push(Section::new(info, kind, Some(name.to_string())));
        if kind == SectionKind::Feature {
            self.features.push(idx);
        } else {
            self.args.push(idx);
        }
        Ok(())
    }

    /// Finishes the block; returns the pending-text buffer for reuse.
    fn end(&mut self, sources: &Sources) -> Result<String, Error> {
        self.flush();
        for &idx in &self.order {
            let Some(section) = self.store.get(idx) else {
                continue;
            };
            if section.kind != SectionKind::Plain && section.text.is_empty() {
                return Err(Error::at(
                    sources,
                    section.info,
                    None,
                    format!("text required after '{}:'", section.kind.title()),
                ));
            }
        }
        Ok(std::mem::take(&mut self.pending))
    }

    fn find(&self, list: &[usize], name: &str) -> Option<usize> {
        list.iter()
            .copied()
            .find(|&i| self.store.get(i).and_then(|s| s.name.as_deref()) == Some(name))
    }

    /// Connects a member, value or branch to its description; `excepted`
    /// says whether the definition is in `documentation-exceptions`. Returns
    /// false when the member is undocumented and not excepted.
    pub(crate) fn connect_member(&mut self, name: &str, excepted: bool) -> bool {
        let idx = match self.find(&self.args, name) {
            Some(idx) => idx,
            None => {
                if !excepted {
                    return false;
                }
                // Stub description, placed after the leading member sections.
                self.store.push(Section::new(
                    self.info,
                    SectionKind::Member,
                    Some(name.to_string()),
                ));
                let idx = self.store.len() - 1;
                self.args.push(idx);
                let mut at = 1;
                if self.order.len() > 1 {
                    while at < self.order.len()
                        && self.store.get(self.order[at]).map(|s| s.kind)
                            == Some(SectionKind::Member)
                    {
                        at += 1;
                    }
                }
                let at = at.min(self.order.len());
                self.order.insert(at, idx);
                idx
            }
        };
        if let Some(s) = self.store.get_mut(idx) {
            s.connected = true;
        }
        true
    }

    /// Connects a feature to its description; false when undocumented.
    pub(crate) fn connect_feature(&mut self, name: &str) -> bool {
        match self.find(&self.features, name) {
            Some(idx) => {
                if let Some(s) = self.store.get_mut(idx) {
                    s.connected = true;
                }
                true
            }
            None => false,
        }
    }

    /// Pass-2 checks of the sections against the definition kind.
    pub(crate) fn check_expr(
        &self,
        sources: &Sources,
        is_command: bool,
        has_returns: bool,
    ) -> Result<(), Error> {
        if is_command {
            if let Some(ret) = self.returns() {
                // QEMU 7.2 did not have this check.
                if !has_returns && !self.relaxed {
                    return Err(Error::at(
                        sources,
                        ret.info,
                        None,
                        "'Returns' section, but command doesn't return anything",
                    ));
                }
            }
        } else {
            if let Some(ret) = self.returns() {
                return Err(Error::at(
                    sources,
                    ret.info,
                    None,
                    "'Returns' section is only valid for commands",
                ));
            }
            if let Some(err) = self.errors() {
                return Err(Error::at(
                    sources,
                    err.info,
                    None,
                    "'Errors' section is only valid for commands",
                ));
            }
        }
        Ok(())
    }

    /// Final check: every description must have matched something.
    pub(crate) fn check(&self, sources: &Sources) -> Result<(), Error> {
        for (list, what) in [(&self.args, "member"), (&self.features, "feature")] {
            let bogus: Vec<&Section> = list
                .iter()
                .filter_map(|&i| self.store.get(i))
                .filter(|s| !s.connected)
                .collect();
            let Some(first) = bogus.first() else {
                continue;
            };
            let names: Vec<&str> = bogus.iter().filter_map(|s| s.name.as_deref()).collect();
            let plural = bogus.len() > 1;
            return Err(Error::at(
                sources,
                first.info,
                None,
                format!(
                    "documented {what}{} '{}' {} not exist",
                    if plural { "s" } else { "" },
                    names.join("', '"),
                    if plural { "do" } else { "does" }
                ),
            ));
        }
        Ok(())
    }
}

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
