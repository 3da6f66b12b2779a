//! Guest-agent workflows users otherwise write by hand: `guest-exec` run to
//! its exit with its output captured (bounded by the agent), and files read
//! and written in chunks through `guest-file-*`, with the base64 on the
//! wire handled here.

use std::time::Duration;

use base64::Engine;
use qmp_wire::{Map, Value};

use crate::{Error, GuestAgent, Result};

/// Bytes moved per `guest-file-read` / `guest-file-write`.
pub const FILE_CHUNK: usize = 64 * 1024;

/// The longest pause between two `guest-exec-status` polls.
const EXEC_POLL_MAX: Duration = Duration::from_millis(200);

/// What a program run with [`GuestAgent::guest_exec`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Its exit code, when it exited.
    pub exit_code: Option<i64>,
    /// The signal that ended it, when one did.
    pub signal: Option<i64>,
    /// Its standard output (the agent keeps at most 16 MiB).
    pub stdout: Vec<u8>,
    /// Its standard error (likewise bounded).
    pub stderr: Vec<u8>,
    /// The agent cut the standard output.
    pub stdout_truncated: bool,
    /// The agent cut the standard error.
    pub stderr_truncated: bool,
}

/// A program for [`GuestAgent::guest_exec`]: its path, arguments,
/// environment (`NAME=value`) and standard input.
#[derive(Clone, Debug, Default)]
pub struct GuestProgram {
    /// The program's path in the guest.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its environment, as `NAME=value`.
    pub env: Vec<String>,
    /// What it reads on standard input.
    pub input: Option<Vec<u8>>,
}

impl GuestProgram {
    /// `path` with `args`, no environment, no input.
    pub fn new(
        path: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> GuestProgram {
        GuestProgram {
            path: path.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..GuestProgram::default()
        }
    }
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(value: Option<&Value>, what: &str) -> Result<Vec<u8>> {
    match value.and_then(Value::as_str) {
        None => Ok(Vec::new()),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| Error::Protocol(format!("the agent's {what} is not base64: {e}"))),
    }
}

fn integer(value: &Value, key: &str, command: &str) -> Result<i64> {
    value
        .get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::Protocol(format!("{command} returned no integer '{key}': {value}")))
}

impl GuestAgent {
    /// Runs `program` in the guest and waits up to `within` for it to exit;
    /// returns its exit status and captured output.
    pub async fn guest_exec(&self, program: &GuestProgram, within: Duration) -> Result<ExecOutput> {
        let mut args = Map::new();
        args.insert("path", program.path.as_str());
        let list = |items: &[String]| {
            Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
        };
        if !program.args.is_empty() {
            args.insert("arg", list(&program.args));
        }
        if !program.env.is_empty() {
            args.insert("env", list(&program.env));
        }
        if let Some(input) = &program.input {
            args.insert("input-data", encode(input));
        }
        args.insert("capture-output", true);
        let started = self.execute("guest-exec", args).await?;
        let pid = integer(&started, "pid", "guest-exec")?;
        let wait = async {
            let mut pause = Duration::from_millis(5);
            loop {
                let mut query = Map::new();
                query.insert("pid", pid);
                let status = self.execute("guest-exec-status", query).await?;
                if status.get("exited").and_then(Value::as_bool) == Some(true) {
                    let flag =
                        |key: &str| status.get(key).and_then(Value::as_bool).unwrap_or(false);
                    return Ok(ExecOutput {
                        exit_code: status.get("exitcode").and_then(Value::as_i64),
                        signal: status.get("signal").and_then(Value::as_i64),
                        stdout: decode(status.get("out-data"), "out-data")?,
                        stderr: decode(status.get("err-data"), "err-data")?,
                        stdout_truncated: flag("out-truncated"),
                        stderr_truncated: flag("err-truncated"),
                    });
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(EXEC_POLL_MAX);
            }
        };
        match tokio::time::timeout(within, wait).await {
            Ok(output) => output,
            Err(_) => Err(Error::reply_timeout(
                &format!("guest-exec of {}", program.path),
                within,
            )),
        }
    }

    /// Reads the guest file at `path` whole, in [`FILE_CHUNK`] pieces;
    /// fails when it holds more than `max_bytes`.
    pub async fn read_file(&self, path: &str, max_bytes: usize) -> Result<Vec<u8>> {
        let handle = self.open_file(path, "r").await?;
        let mut contents = Vec::new();
        let result = async {
            loop {
                let mut args = Map::new();
                args.insert("handle", handle);
                args.insert("count", FILE_CHUNK as i64);
                let chunk = self.execute("guest-file-read", args).await?;
                contents.extend(decode(chunk.get("buf-b64"), "buf-b64")?);
                if contents.len() > max_bytes {
                    return Err(Error::InvalidArguments(format!(
                        "{path} holds more than {max_bytes} bytes"
                    )));
                }
                if chunk.get("eof").and_then(Value::as_bool) != Some(false) {
                    return Ok(());
                }
            }
        }
        .await;
        let closed = self.close_file(handle).await;
        result.and(closed).map(|()| contents)
    }

    /// Writes `data` to the guest file at `path` (created or truncated), in
    /// [`FILE_CHUNK`] pieces.
    pub async fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        let handle = self.open_file(path, "w").await?;
        let result = async {
            for chunk in data.chunks(FILE_CHUNK) {
                let mut args = Map::new();
                args.insert("handle", handle);
                args.insert("buf-b64", encode(chunk));
                let written = self.execute("guest-file-write", args).await?;
                let count = integer(&written, "count", "guest-file-write")?;
                if usize::try_from(count).ok() != Some(chunk.len()) {
                    return Err(Error::Protocol(format!(
                        "guest-file-write wrote {count} of {} bytes",
                        chunk.len()
                    )));
                }
            }
            Ok(())
        }
        .await;
        let closed = self.close_file(handle).await;
        result.and(closed)
    }

    async fn open_file(&self, path: &str, mode: &str) -> Result<i64> {
        let mut args = Map::new();
        args.insert("path", path);
        args.insert("mode", mode);
        let handle = self.execute("guest-file-open", args).await?;
        handle
            .as_i64()
            .ok_or_else(|| Error::Protocol(format!("guest-file-open returned {handle}")))
    }

    async fn close_file(&self, handle: i64) -> Result<()> {
        let mut args = Map::new();
        args.insert("handle", handle);
        self.execute("guest-file-close", args).await.map(|_| ())
    }
}
