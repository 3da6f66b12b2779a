//! Descriptor floods and QEMU's rules for passed descriptors.

use std::os::fd::AsFd;

use qmp_test_support::TestProcess;

use super::{eventually, fake_qemu, fd_count, real_qemu, Line};

/// Whitespace with 20 descriptors, 200 times, holds no more than 16 in the
/// server, and another client is served meanwhile; closing gives them back.
#[test]
fn a_descriptor_flood_holds_at_most_sixteen_and_denies_no_one() {
    let Some(server) = fake_qemu() else { return };
    let pid = server.pid();
    let abuser = Line::negotiated(server.socket());
    let before = fd_count(pid);
    let (read_end, _write_end) = rustix::pipe::pipe().unwrap();
    for _ in 0..200 {
        abuser.send_fds(b" ", read_end.as_fd(), 20);
    }
    assert!(
        eventually(|| fd_count(pid) == before + 16),
        "the server holds {} more descriptors",
        fd_count(pid) - before
    );
    drop(abuser);
    // fake-qemu serves one client at a time, as QEMU does: the next one is
    // greeted once the abuser has left, and its descriptors are closed.
    let mut next = Line::negotiated(server.socket());
    assert!(next
        .ask(r#"{"execute": "query-status", "id": 1}"#)
        .contains("\"id\": 1"));
    assert!(eventually(|| fd_count(pid) == before));
}

/// One script of descriptor passing, as replies and the change in the
/// server's descriptor count after each step.
fn descriptor_script(server: &TestProcess) -> Vec<(String, isize)> {
    let pid = server.pid();
    let (read_end, _write_end) = rustix::pipe::pipe().unwrap();
    let mut client = Line::negotiated(server.socket());
    let base = fd_count(pid) as isize;
    let count = |steps: &mut Vec<(String, isize)>, reply: String| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        steps.push((reply, fd_count(pid) as isize - base));
    };
    let mut steps = Vec::new();
    client.send_fds(b" ", read_end.as_fd(), 20);
    count(&mut steps, "20 sent".into());
    client.send_fds(b" ", read_end.as_fd(), 5);
    count(&mut steps, "5 sent".into());
    let getfd =
        |name: &str| format!(r#"{{"execute": "getfd", "arguments": {{"fdname": "{name}"}}}}"#);
    let reply = client.ask(&getfd("a"));
    count(&mut steps, reply);
    let reply = client.ask(&getfd("b"));
    count(&mut steps, reply);
    client.send_fds(getfd("c").as_bytes(), read_end.as_fd(), 2);
    let reply = client.line();
    count(&mut steps, reply);
    client.send_fds(getfd("1x").as_bytes(), read_end.as_fd(), 1);
    let reply = client.line();
    count(&mut steps, reply);
    client.send_fds(b" ", read_end.as_fd(), 3);
    count(&mut steps, "3 sent".into());
    drop(client);
    // The monitor keeps its names; the connection's unclaimed ones are gone.
    let mut again = Line::negotiated(server.socket());
    let reply = again.ask(r#"{"execute": "closefd", "arguments": {"fdname": "a"}}"#);
    count(&mut steps, reply);
    let reply = again.ask(r#"{"execute": "closefd", "arguments": {"fdname": "b"}}"#);
    count(&mut steps, reply);
    steps
}

#[test]
fn passed_descriptors_follow_qemus_rules() {
    let Some(fake) = fake_qemu() else { return };
    let ours = descriptor_script(&fake);
    let expected = [
        ("20 sent", 16),
        ("5 sent", 5),
        ("{\"return\": {}}\r\n", 1),
        (
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"No file descriptor supplied via SCM_RIGHTS\"}}\r\n",
            1,
        ),
        ("{\"return\": {}}\r\n", 2),
        (
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'fdname' expects a name not starting with a digit\"}}\r\n",
            2,
        ),
        ("3 sent", 5),
        ("{\"return\": {}}\r\n", 1),
        (
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"File descriptor named 'b' not found\"}}\r\n",
            1,
        ),
    ];
    let expected: Vec<(String, isize)> =
        expected.iter().map(|(r, n)| (r.to_string(), *n)).collect();
    assert_eq!(ours, expected);
    let Some(qemu) = real_qemu() else { return };
    assert_eq!(descriptor_script(&qemu), ours, "QEMU 7.2 differs");
}
