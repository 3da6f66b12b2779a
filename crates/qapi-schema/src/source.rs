//! Source positions: the table of schema files read, where each was included
//! from, and which definition each source line belongs to (for the
//! `FILE: In struct 'X':` context line of error messages).

use crate::hash::FnvMap;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A position in a schema file: file and 1-based line.
///
/// Like QEMU, positions of definitions are the line where the expression
/// starts; members, branches and features carry their definition's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceInfo {
    /// The file.
    pub file: FileId,
    /// The 1-based line number.
    pub line: u32,
}

/// One schema file that was read.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as it was opened (the root path as given, included files as
    /// `dirname(includer)/PATH`).
    pub path: String,
    /// The include directive that pulled this file in (`None` for the root).
    pub included_from: Option<SourceInfo>,
}

/// The kind of a definition, as written in the schema (`'struct': ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Meta {
    /// `enum`
    Enum,
    /// `struct`
    Struct,
    /// `union`
    Union,
    /// `alternate`
    Alternate,
    /// `command`
    Command,
    /// `event`
    Event,
}

impl Meta {
    /// All metas in the order QEMU lists them in messages.
    pub const ALL: [Meta; 6] = [
        Meta::Enum,
        Meta::Struct,
        Meta::Union,
        Meta::Alternate,
        Meta::Command,
        Meta::Event,
    ];

    /// The keyword, e.g. `"struct"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Meta::Enum => "enum",
            Meta::Struct => "struct",
            Meta::Union => "union",
            Meta::Alternate => "alternate",
            Meta::Command => "command",
            Meta::Event => "event",
        }
    }
}

/// The files of a schema and the definition context of their lines.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    /// Definition named on a line. QEMU shares one position object between
    /// expressions that start on the same line, so the last one set wins.
    defns: FnvMap<SourceInfo, (Meta, String)>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub(crate) fn add_file(&mut self, path: String, included_from: Option<SourceInfo>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            path,
            included_from,
        });
        id
    }

    /// The file with this id.
    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The path of a file as opened, or `""` for an unknown id.
    pub fn path(&self, id: FileId) -> &str {
        self.file(id).map_or("", |f| f.path.as_str())
    }

    /// All files, root first, in the order they were read.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Makes room for `additional` more definitions.
    pub(crate) fn reserve_defns(&mut self, additional: usize) {
        self.defns.reserve(additional);
    }

    /// Records that the definition `meta 'name'` starts on this line.
    pub(crate) fn set_defn(&mut self, info: SourceInfo, meta: Meta, name: &str) {
        self.defns.insert(info, (meta, name.to_string()));
    }

    /// The definition recorded for this line, if any.
    pub fn defn(&self, info: SourceInfo) -> Option<(Meta, &str)> {
        self.defns.get(&info).map(|(m, n)| (*m, n.as_str()))
    }

    /// The include directives leading to this file, outermost first.
    pub fn include_chain(&self, file: FileId) -> Vec<SourceInfo> {
        let mut chain = Vec::new();
        let mut cur = self.file(file).and_then(|f| f.included_from);
        while let Some(info) = cur {
            chain.push(info);
            // A file's parent always has a smaller id, so this terminates.
            cur = self
                .file(info.file)
                .and_then(|f| f.included_from)
                .filter(|p| p.file < info.file);
        }
        chain.reverse();
        chain
    }
}
