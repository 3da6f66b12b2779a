//! The doc block model: sections in textual order and by role (body,
//! member and feature descriptions, tagged sections), and the operations
//! the parser builds a block with.

use crate::error::Error;
use crate::source::{SourceInfo, Sources};

use super::dialect::Dialect;

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
    pub(super) fn new(info: SourceInfo, kind: SectionKind, name: Option<String>) -> Self {
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
    pub(super) store: Vec<Section>,
    pub(super) order: Vec<usize>,
    pub(super) args: Vec<usize>,
    pub(super) features: Vec<usize>,
    pub(super) others: Vec<usize>,
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
    pub(super) fn new(info: SourceInfo, symbol: Option<String>, pending: String) -> Self {
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

    /// The syntax the block was read with.
    pub(crate) fn dialect(&self) -> Dialect {
        Dialect::of(self.relaxed)
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

    pub(super) fn push(&mut self, section: Section) -> usize {
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

    pub(super) fn append_line(&mut self, line: &str) {
        self.pending.push_str(line);
        self.pending.push('\n');
    }

    pub(super) fn ensure_untagged_section(&mut self, info: SourceInfo) {
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
        self.new_plain_section(info);
    }

    /// Starts a plain section after the body.
    pub(super) fn new_plain_section(&mut self, info: SourceInfo) {
        let idx = self.push(Section::new(info, SectionKind::Plain, None));
        self.others.push(idx);
    }

    pub(super) fn new_tagged_section(
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

    pub(super) fn new_description(
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
        if self.find(list, name).is_some() {
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
    pub(super) fn end(&mut self, sources: &Sources) -> Result<String, Error> {
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

    pub(super) fn find(&self, list: &[usize], name: &str) -> Option<usize> {
        list.iter()
            .copied()
            .find(|&i| self.store.get(i).and_then(|s| s.name.as_deref()) == Some(name))
    }
}
