//! Fixtures: QEMU's full schemas in the shared folder, the options every
//! test QEMU runs with, and private temporary folders.

use std::path::{Path, PathBuf};

use crate::prereq::shared_path;

/// QEMU's full schemas as `(name, folder)`: the name the expected files
/// use (`qemu/expected/10.0-NAME.dump.out`) and the folder holding
/// `qapi-schema.json` under `qemu/VERSION/`.
pub const FULL_SCHEMAS: [(&str, &str); 3] = [
    ("qmp", "qapi"),
    ("qga", "qga"),
    ("storage-daemon", "storage-daemon/qapi"),
];

/// QEMU 10.0's folder of full schema `(name, folder)` (see
/// [`FULL_SCHEMAS`]) and QEMU's dump of it, or `None` after reporting
/// either missing.
#[track_caller]
pub fn qemu_10_0_schema_and_dump((name, folder): (&str, &str)) -> Option<(PathBuf, PathBuf)> {
    let dir = shared_path(&format!("qemu/10.0/{folder}"))?;
    let dump = shared_path(&format!("qemu/expected/10.0-{name}.dump.out"))?;
    Some((dir, dump))
}

/// The options every test QEMU runs with: no default devices, no display.
pub const QEMU_HEADLESS: [&str; 3] = ["-nodefaults", "-display", "none"];

/// The machine of tests that need none.
pub const QEMU_NO_MACHINE: [&str; 2] = ["-machine", "none"];

/// `binary` with [`QEMU_NO_MACHINE`] and [`QEMU_HEADLESS`]. Add `-qmp`
/// (and anything else) before spawning.
pub fn qemu_command(binary: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    command.args(QEMU_NO_MACHINE).args(QEMU_HEADLESS);
    command
}

/// A private temporary folder, removed with everything in it when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("qmp-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary folder: {e}"))
}

/// A CA and a server certificate for 127.0.0.1 and localhost, written to
/// `dir` as QEMU's `tls-creds-x509` expects them (`ca-cert.pem`,
/// `server-cert.pem`, `server-key.pem`), made with the `openssl` program;
/// `None` after reporting it missing.
#[track_caller]
pub fn tls_certificates(dir: &Path) -> Option<()> {
    let openssl = crate::prereq::program("openssl", "apt-get install openssl")?;
    let config = dir.join("openssl.cnf");
    std::fs::write(
        &config,
        "[req]\ndistinguished_name=dn\n[dn]\n\
         [ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [server]\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
    let run = |args: &[&str]| {
        let status = std::process::Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
        assert!(status.success(), "openssl {args:?} failed");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca-cert.pem",
        "-days",
        "2",
        "-subj",
        "/CN=qmp-rs test CA",
        "-config",
        "openssl.cnf",
        "-extensions",
        "ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server-key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
        "-config",
        "openssl.cnf",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca-cert.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-out",
        "server-cert.pem",
        "-days",
        "2",
        "-extfile",
        "openssl.cnf",
        "-extensions",
        "server",
    ]);
    Some(())
}
