//! The servers the round-trip bench drives: qmp-server in this process on
//! its own runtime and thread (the fast server the targets are about), and
//! a real QEMU (extra rows; it reads its monitor one byte at a time).

use std::path::{Path, PathBuf};
use std::time::Duration;

use qmp_server::{CommandEntry, Reply, Server, ServerConfig};
use qmp_test_support::TestProcess;
use qmp_wire::{Map, QemuVersion, Value, VersionInfo};

/// A server under test: where to connect, and whether clients must pause
/// between connections (QEMU 7.2 can miss the greeting otherwise).
pub struct Target {
    /// Label for the table.
    pub label: &'static str,
    /// The unix socket.
    pub socket: PathBuf,
    /// Pause between clients.
    pub pause: bool,
    _keep: Keep,
}

enum Keep {
    Runtime(#[allow(dead_code)] tokio::runtime::Runtime),
    Qemu(#[allow(dead_code)] TestProcess),
}

impl Target {
    /// Waits long enough for the server to see the previous client go.
    pub fn between_clients(&self) {
        if self.pause {
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

/// qmp-server answering `command` with `{}`, on a one-worker runtime.
pub fn qmp_server(dir: &Path, command: &str) -> Target {
    let socket = dir.join("qmp-server.sock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let version = VersionInfo {
        qemu: QemuVersion {
            major: 7,
            minor: 2,
            micro: 22,
        },
        package: "qmp-rs bench".into(),
    };
    let server = Server::builder(ServerConfig::qmp(version))
        .command(CommandEntry::new(command, |_| async {
            Ok(Reply::Value(Value::Object(Map::new())))
        }))
        .build();
    let listener = {
        let _entered = runtime.enter();
        Server::bind_unix(&socket).expect("bind qmp-server")
    };
    runtime.spawn(async move { server.serve_unix_listener(listener).await });
    Target {
        label: "qmp-server (in process)",
        socket,
        pause: false,
        _keep: Keep::Runtime(runtime),
    }
}

/// A real QEMU (`-machine none`) listening on a unix socket.
pub fn qemu(program: &Path) -> Target {
    let process = TestProcess::qemu(program, &[]).expect("start QEMU");
    Target {
        label: "QEMU",
        socket: process.socket().to_owned(),
        pause: true,
        _keep: Keep::Qemu(process),
    }
}
