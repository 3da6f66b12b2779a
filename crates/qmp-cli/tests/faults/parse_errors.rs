//! Long error texts: QEMU cuts grammar errors at its 1,024-byte message
//! buffer and keeps lexical errors whole; either way the session goes on,
//! even when the offending token is megabytes long.

use qmp_test_support::TestProcess;

use super::{fake_qemu, real_qemu, Line};

/// The replies to hostile inputs with long tokens, then to a command.
/// The 9 MiB keyword (past the stand-in's output backlog, were the text not
/// cut) is left out for QEMU, which reads its monitor a byte at a time and
/// takes 40 s over it; by hand it gives QEMU's 1006-byte text.
fn replies(server: &TestProcess, huge: usize) -> Vec<String> {
    let mut client = Line::negotiated(server.socket());
    let mut replies = Vec::new();
    for len in [1005, 1006, 1007, 4000, huge] {
        client.send(&format!("{{\"a\": {}}}", "x".repeat(len)));
        replies.push(client.line());
    }
    for len in [1015, 1016, 3000] {
        client.send(&format!("{{\"a\": \"{}\u{1}", "y".repeat(len)));
        replies.push(client.line());
    }
    replies.push(client.ask(r#"{"execute": "query-status", "id": "after"}"#));
    replies
}

#[test]
fn long_error_texts_are_cut_as_qemu_cuts_them() {
    let Some(fake) = fake_qemu() else { return };
    let ours = replies(&fake, 9 << 20);
    let desc_len = |reply: &str| {
        reply.len() - "{\"error\": {\"class\": \"GenericError\", \"desc\": \"\"}}\r\n".len()
    };
    let prefix = "JSON parse error, ".len();
    assert_eq!(desc_len(&ours[0]), prefix + 1023, "1005: whole");
    assert!(ours[0].ends_with("x'\"}}\r\n"));
    assert!(ours[1].ends_with("xx\"}}\r\n"), "1006: quote cut");
    assert_eq!(ours[1], ours[2]);
    assert_eq!(ours[1], ours[4], "9 MiB: answered, same text");
    // Lexical errors are whole: stray '"yyy...\u0001' (the quote escaped).
    assert_eq!(
        desc_len(&ours[7]),
        prefix + "stray '\\\"".len() + 3000 + "\\u0001'".len()
    );
    assert!(ours[8].contains("\"id\": \"after\""), "{}", ours[8]);
    let Some(qemu) = real_qemu() else { return };
    let mut expected = ours.clone();
    expected[4] = ours[1].clone();
    assert_eq!(replies(&qemu, 5000), expected, "QEMU 7.2 differs");
}
