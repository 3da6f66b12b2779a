//! Text that came from a server, made safe to print on a terminal: control
//! characters (terminal escapes among them) and the Unicode controls that
//! reorder text are shown escaped instead of acting on the terminal.

use std::borrow::Cow;

/// `text` with every character that could act on a terminal escaped
/// (`\u{1b}`); line feeds, carriage returns and tabs stay as they are.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if acts_on_terminal(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters other than line breaks and tabs, and the
/// bidirectional formatting characters.
fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_acts_on_a_terminal_and_nothing_else() {
        assert!(matches!(safe("plain text\r\n\tü €"), Cow::Borrowed(_)));
        assert_eq!(safe("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(safe("\u{7}\u{9b}x\u{202e}"), "\\u{7}\\u{9b}x\\u{202e}");
    }
}
