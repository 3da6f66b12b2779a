//! Test helpers: a server on a temporary unix socket and a raw line client.

#![allow(dead_code)] // each test crate uses a different part

use std::path::{Path, PathBuf};
use std::time::Duration;

use qmp_server::{CommandEntry, Reply, Server, ServerConfig};
use qmp_wire::{Map, QemuVersion, Value, VersionInfo};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// A temporary folder, removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new() -> TempDir {
        TempDir(qmp_test_support::temp_dir())
    }

    /// `name` inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

pub fn version() -> VersionInfo {
    VersionInfo {
        qemu: QemuVersion {
            major: 7,
            minor: 2,
            micro: 22,
        },
        package: "qmp-rs test".into(),
    }
}

/// `query-name`-like command returning `{}` with no arguments.
pub fn empty_command(name: &str) -> CommandEntry {
    CommandEntry::new(name, |_| async {
        Ok(Reply::Value(Value::Object(Map::new())))
    })
    .no_arguments()
}

/// A server listening on a fresh socket; the listener runs in the background.
pub struct Running {
    pub server: Server,
    pub socket: PathBuf,
    pub dir: TempDir,
}

pub async fn start(server: Server) -> Running {
    let dir = TempDir::new();
    let socket = dir.path("qmp.sock");
    let listener = Server::bind_unix(&socket).unwrap();
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_unix_listener(listener).await });
    Running {
        server,
        socket,
        dir,
    }
}

pub fn qmp_config() -> ServerConfig {
    ServerConfig::qmp(version())
}

/// A raw client: writes bytes, reads lines.
pub struct Client {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path).await.unwrap();
        let (read, write) = stream.into_split();
        Client {
            reader: BufReader::new(read),
            writer: write,
        }
    }

    /// Connects, reads the greeting and negotiates (with oob if asked).
    pub async fn negotiated(path: &Path, oob: bool) -> Client {
        let mut client = Client::connect(path).await;
        let greeting = client.line().await;
        assert!(greeting.contains("\"QMP\""), "{greeting}");
        let caps = if oob {
            r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#
        } else {
            r#"{"execute": "qmp_capabilities"}"#
        };
        client.send(caps).await;
        assert_eq!(client.line().await, "{\"return\": {}}\r\n");
        client
    }

    pub async fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).await.unwrap();
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next line, with its line ending; panics after 10 s.
    pub async fn line(&mut self) -> String {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            self.reader.read_until(b'\n', &mut line),
        )
        .await
        .expect("a reply within 10 s")
        .unwrap();
        assert!(read > 0, "connection closed");
        String::from_utf8_lossy(&line).into_owned()
    }

    /// The next line as raw bytes (for the guest agent's 0xFF).
    pub async fn raw_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            self.reader.read_until(b'\n', &mut line),
        )
        .await
        .expect("a reply within 10 s")
        .unwrap();
        line
    }

    /// True when nothing arrives within `wait`.
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        let mut line = Vec::new();
        tokio::time::timeout(wait, self.reader.read_until(b'\n', &mut line))
            .await
            .is_err()
    }

    /// True when the server closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut line = Vec::new();
        matches!(
            tokio::time::timeout(
                Duration::from_secs(10),
                self.reader.read_until(b'\n', &mut line)
            )
            .await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}
