//! Path arithmetic with the semantics of Python's `os.path` (POSIX), which
//! QEMU's generator uses to name included files and modules: `dirname`,
//! `join`, `abspath` and `relpath` are purely lexical.

use std::path::PathBuf;

/// `os.path.dirname`: everything before the last `/`, trailing slashes
/// removed unless the head is all slashes.
pub fn dirname(path: &str) -> &str {
    let Some(idx) = path.rfind('/') else {
        return "";
    };
    let head = &path[..=idx];
    if head.bytes().all(|b| b == b'/') {
        head
    } else {
        head.trim_end_matches('/')
    }
}

/// `os.path.join(a, b)` for two components.
pub fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_string()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `os.path.normpath`: collapses `//`, `.` and `..` lexically.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let initial_slashes = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial_slashes == 0 && comps.is_empty()) || comps.last() == Some(&"..")
        {
            comps.push(comp);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let mut out = "/".repeat(initial_slashes);
    out.push_str(&comps.join("/"));
    if out.is_empty() {
        ".".to_string()
    } else {
        out
    }
}

fn current_dir() -> String {
    std::env::current_dir()
        .unwrap_or_else(|_| PathBuf::from("/"))
        .to_string_lossy()
        .into_owned()
}

/// `os.path.abspath`: joins with the current directory and normalises.
pub fn abspath(path: &str) -> String {
    if path.starts_with('/') {
        normpath(path)
    } else {
        normpath(&join(&current_dir(), path))
    }
}

/// `os.path.relpath(path, start)` (an empty `start` means the current
/// directory).
pub fn relpath(path: &str, start: &str) -> String {
    let start = if start.is_empty() { "." } else { start };
    let start_abs = abspath(start);
    let path_abs = abspath(path);
    let start_list: Vec<&str> = start_abs.split('/').filter(|c| !c.is_empty()).collect();
    let path_list: Vec<&str> = path_abs.split('/').filter(|c| !c.is_empty()).collect();
    let common = start_list
        .iter()
        .zip(path_list.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel: Vec<&str> = vec![".."; start_list.len() - common];
    rel.extend_from_slice(&path_list[common..]);
    if rel.is_empty() {
        ".".to_string()
    } else {
        rel.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirname_matches_python() {
        assert_eq!(dirname("a/b.json"), "a");
        assert_eq!(dirname("b.json"), "");
        assert_eq!(dirname("/b.json"), "/");
        assert_eq!(dirname("a//b"), "a");
    }

    #[test]
    fn join_and_normpath() {
        assert_eq!(join("", "x.json"), "x.json");
        assert_eq!(join("a", "../x.json"), "a/../x.json");
        assert_eq!(join("a", "/x.json"), "/x.json");
        assert_eq!(normpath("a/../x.json"), "x.json");
        assert_eq!(normpath("../../qapi/x.json"), "../../qapi/x.json");
        assert_eq!(normpath("/../x"), "/x");
    }

    #[test]
    fn relpath_matches_python() {
        assert_eq!(relpath("include/../x.json", ""), "x.json");
        assert_eq!(relpath("dir/sub/y.json", "dir"), "sub/y.json");
        assert_eq!(relpath("dir/y.json", "dir/sub"), "../y.json");
    }
}
