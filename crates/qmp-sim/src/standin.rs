//! `qmp fake-qemu`, the process: a [`QemuCommandLine`] becomes a machine
//! profile, an API, a machine ([`crate::hardware`]) and its monitors,
//! assembled by [`crate::qemu`]; then, as QEMU does, `-daemonize` returns
//! to the parent only once the monitors listen (errors before that go to
//! the parent's stderr and exit status), `-pidfile` holds the process id
//! while it runs, and `quit`, a host signal or a guest shutdown without
//! `-no-shutdown` end it (see [`crate::ending`]).

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use qapi_schema::introspect::SchemaInfo;
use qmp_server::{Server, ServerConfig};

use crate::api::SimApi;
use crate::cmdline::{QemuCommandLine, SocketSpec};
use crate::ending::{Ending, HostSignals};
use crate::hardware::{ChardevInfo, HardwareSpec};
use crate::machine::MachineOptions;
use crate::profile::{kvm_usable, Profile};
use crate::qemu::{Assembled, Assembly};

/// The stand-in could not start; the text is what QEMU would print
/// (after the program name).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

fn start_error(e: impl std::fmt::Display) -> StartError {
    StartError(e.to_string())
}

/// The profile the command line asks for (`--profile`, else the built-in).
pub fn load_profile(line: &QemuCommandLine) -> Result<Arc<Profile>, StartError> {
    match &line.profile {
        Some(path) => Profile::read_file(path).map(Arc::new).map_err(start_error),
        None => Profile::builtin().map_err(start_error),
    }
}

/// The accelerator QEMU would use for `line` on this host.
pub fn choose_accelerator(profile: &Profile, line: &QemuCommandLine) -> Result<String, StartError> {
    if let Some(chosen) = profile.choose_accelerator(&line.accelerators) {
        return Ok(chosen);
    }
    let asked = line.accelerators.join(":");
    let recorded: Vec<&str> = profile.accelerators().collect();
    Err(StartError(match line.accelerators.as_slice() {
        [only] if only == "kvm" && !kvm_usable() => "Could not access KVM kernel module: No such file or directory\nfailed to initialize kvm: No such file or directory".to_owned(),
        _ => format!(
            "no accelerator of '{asked}' can be used: the profile records {}",
            recorded.join(", ")
        ),
    }))
}

/// How `query-chardev` describes each chardev of `line`, and the
/// terminals opened for `pty` chardevs (QEMU says where each went).
fn chardev_infos(line: &QemuCommandLine) -> Result<(Vec<ChardevInfo>, Vec<OwnedFd>), StartError> {
    let monitor_labels: Vec<&str> = line.monitors.iter().map(|m| m.label.as_str()).collect();
    let socket_name = |socket: &SocketSpec| match socket {
        SocketSpec::Listen(path) => format!("unix:{},server=on", path.display()),
        SocketSpec::ListeningFd(fd) => {
            format!("unix:{},server=on", listening_path(*fd).unwrap_or_default())
        }
        SocketSpec::ConnectedFd(_) => "unix:".to_owned(),
    };
    let mut ptys = Vec::new();
    let mut infos = Vec::new();
    for c in &line.chardevs {
        let monitor = monitor_labels.contains(&c.id.as_str());
        let filename = match (&c.socket, c.backend.as_str()) {
            (Some(socket), _) if monitor => socket_name(socket),
            (Some(socket), _) => format!("disconnected:{}", socket_name(socket)),
            (None, "pty") => {
                let (master, path) =
                    open_pty().map_err(|e| StartError(format!("-chardev pty,id={}: {e}", c.id)))?;
                eprintln!("char device redirected to {path} (label {})", c.id);
                ptys.push(master);
                format!("pty:{path}")
            }
            (None, backend) => backend.to_owned(),
        };
        infos.push(ChardevInfo {
            label: c.id.clone(),
            filename,
            frontend_open: monitor,
        });
    }
    for monitor in &line.monitors {
        if !infos.iter().any(|c| c.label == monitor.label) {
            infos.push(ChardevInfo {
                label: monitor.label.clone(),
                filename: socket_name(&monitor.socket),
                frontend_open: true,
            });
        }
    }
    Ok((infos, ptys))
}

/// A new pseudo-terminal: its master end and the path of its slave.
fn open_pty() -> std::io::Result<(OwnedFd, String)> {
    // SAFETY: posix_openpt returns a new descriptor or -1.
    let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: grantpt/unlockpt take the master descriptor; ptsname_r
    // writes a NUL-terminated name into the buffer of the given length.
    let ok = unsafe {
        libc::grantpt(fd) == 0
            && libc::unlockpt(fd) == 0
            && libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) == 0
    };
    if !ok {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ptsname_r succeeded, so the buffer holds a C string.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok((master, path))
}

/// The path a listening unix socket handed over as `fd` is bound to.
fn listening_path(fd: i32) -> Option<String> {
    // SAFETY: the descriptor is only borrowed for the duration of the call.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let address: rustix::net::SocketAddrAny = rustix::net::getsockname(borrowed).ok()?;
    let unix = rustix::net::SocketAddrUnix::try_from(address).ok()?;
    unix.path().map(|p| p.to_string_lossy().into_owned())
}

/// Everything `line` asks for, put together, before any socket exists.
pub struct Prepared {
    line: QemuCommandLine,
    assembled: Assembled,
    /// The master ends of `-chardev pty` terminals, open while it runs.
    _ptys: Vec<OwnedFd>,
}

/// Reads the profile, the API and the script, and builds the machine
/// (vCPU threads included: call this in the process that will serve).
pub fn prepare(line: QemuCommandLine) -> Result<Prepared, StartError> {
    let profile = load_profile(&line)?;
    let accelerator = choose_accelerator(&profile, &line)?;
    let api = match &line.api {
        Some(source) => SimApi::load(source).map_err(start_error)?,
        None => {
            let wire = profile
                .value(&accelerator, "query-qmp-schema")
                .cloned()
                .ok_or_else(|| StartError("the machine profile has no query-qmp-schema".into()))?;
            let info = SchemaInfo::from_value(&wire).map_err(start_error)?;
            SimApi::from_reply(wire, info)
        }
    };
    let (chardevs, ptys) = chardev_infos(&line)?;
    let options = MachineOptions {
        start_stopped: line.start_stopped,
        preconfig: line.preconfig,
        name: line.name.clone(),
        profile: Some(Arc::clone(&profile)),
        hardware: HardwareSpec {
            machine_type: line.machine_type.clone(),
            accelerator,
            cpu_model: line.cpu_model.clone(),
            smp: line.smp,
            ram_bytes: line.ram_bytes,
            uuid: line.uuid.clone(),
            objects: line.objects.clone(),
            devices: line.devices.clone(),
            blockdevs: line.blockdevs.clone(),
            chardevs,
            debug_threads: line.debug_threads,
        },
        no_shutdown: line.no_shutdown,
        no_acpi: line.no_acpi,
    };
    let mut assembly = Assembly::new(api).machine(options).config(ServerConfig {
        // QEMU serves one client per monitor at a time.
        one_client_at_a_time: true,
        ..ServerConfig::qmp(profile.version().clone())
    });
    if let Some(path) = &line.script {
        assembly = assembly.script_file(path).map_err(start_error)?;
    }
    let assembled = assembly.build().map_err(StartError)?;
    Ok(Prepared {
        line,
        assembled,
        _ptys: ptys,
    })
}

/// A monitor's socket, bound.
enum Bound {
    Listener(tokio::net::UnixListener, Option<PathBuf>),
    Stream(tokio::net::UnixStream),
}

fn bind(socket: &SocketSpec) -> Result<Bound, StartError> {
    let io = |what: String| move |e: std::io::Error| StartError(format!("{what}: {e}"));
    match socket {
        SocketSpec::Listen(path) => {
            let listener = Server::bind_unix(path)
                .map_err(io(format!("Failed to bind socket to {}", path.display())))?;
            Ok(Bound::Listener(listener, Some(path.clone())))
        }
        SocketSpec::ListeningFd(fd) => {
            let owned = take_fd(*fd)?;
            let std = std::os::unix::net::UnixListener::from(owned);
            std.set_nonblocking(true).map_err(io(format!("fd {fd}")))?;
            let listener =
                tokio::net::UnixListener::from_std(std).map_err(io(format!("fd {fd}")))?;
            Ok(Bound::Listener(listener, None))
        }
        SocketSpec::ConnectedFd(fd) => {
            let owned = take_fd(*fd)?;
            let std = std::os::unix::net::UnixStream::from(owned);
            std.set_nonblocking(true).map_err(io(format!("fd {fd}")))?;
            let stream = tokio::net::UnixStream::from_std(std).map_err(io(format!("fd {fd}")))?;
            Ok(Bound::Stream(stream))
        }
    }
}

/// Takes ownership of inherited descriptor `fd`, after checking it is open.
fn take_fd(fd: i32) -> Result<OwnedFd, StartError> {
    // SAFETY: fcntl(F_GETFD) only asks whether the descriptor is open.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(StartError(format!("fd {fd} is not an open descriptor")));
    }
    // SAFETY: the descriptor is open and was handed to this process for
    // this chardev alone; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Tells a waiting parent (`-daemonize`) how starting went.
pub trait Readiness {
    /// The monitors listen.
    fn ready(&mut self);
    /// Starting failed with `error`.
    fn failed(&mut self, error: &StartError);
}

/// No parent is waiting.
pub struct NoParent;

impl Readiness for NoParent {
    fn ready(&mut self) {}
    fn failed(&mut self, _: &StartError) {}
}

/// Serves the monitors of `prepared` until `quit`, a host signal, or a
/// guest shutdown without `-no-shutdown`; then removes the socket files and
/// the pidfile. Call it inside a tokio runtime.
pub async fn serve(
    prepared: Prepared,
    readiness: &mut dyn Readiness,
) -> Result<Ending, StartError> {
    // `prepared` lives until the end: its pty terminals stay open.
    let (mut signals, removals) = match start(&prepared).await {
        Ok(started) => started,
        Err(error) => {
            readiness.failed(&error);
            return Err(error);
        }
    };
    readiness.ready();
    let Assembled {
        server, machine, ..
    } = &prepared.assembled;
    let ending = signals.until_quit(machine).await;
    server.shutdown().await;
    for path in removals {
        let _ = std::fs::remove_file(path);
    }
    Ok(ending)
}

/// Catches the host signals, binds the monitors and writes the pidfile;
/// the signals, and the files to remove at the end.
async fn start(prepared: &Prepared) -> Result<(HostSignals, Vec<PathBuf>), StartError> {
    let signals = HostSignals::catch().map_err(start_error)?;
    let (line, server) = (&prepared.line, &prepared.assembled.server);
    let mut removals = Vec::new();
    for monitor in &line.monitors {
        let handle = server.with_pretty(monitor.pretty);
        match bind(&monitor.socket)? {
            Bound::Listener(listener, path) => {
                removals.extend(path);
                tokio::spawn(async move { handle.serve_unix_listener(listener).await });
            }
            Bound::Stream(stream) => {
                tokio::spawn(async move { handle.serve_unix_stream(stream).await });
            }
        }
    }
    if let Some(pidfile) = &line.pidfile {
        write_pidfile(pidfile)?;
        removals.push(pidfile.clone());
    }
    Ok((signals, removals))
}

fn write_pidfile(path: &Path) -> Result<(), StartError> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|e| StartError(format!("cannot create PID file: {e}")))
}

/// The parent's end of `-daemonize`: forks; the parent waits for the
/// child's word and returns its exit status (`Some`), the child returns
/// `None` with the [`Readiness`] to report through. Call it before any
/// thread is started (the tokio runtime included).
pub fn daemonize() -> Result<(Option<i32>, DaemonChild), StartError> {
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two descriptors it is given.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(start_error(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned here.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the process has one thread (the caller's promise), so the
    // child may go on running Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(start_error(std::io::Error::last_os_error())),
        0 => {
            drop(read_end);
            // SAFETY: setsid has no preconditions; it fails only for a
            // group leader, which a fresh child is not.
            unsafe { libc::setsid() };
            Ok((
                None,
                DaemonChild {
                    pipe: Some(std::fs::File::from(write_end)),
                },
            ))
        }
        _child => {
            drop(write_end);
            let mut word = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::fs::File::from(read_end), &mut word);
            let status = match word.split_first() {
                Some((0, _)) => 0,
                Some((_, message)) => {
                    eprintln!("qmp: {}", String::from_utf8_lossy(message));
                    1
                }
                None => {
                    eprintln!("qmp: the stand-in ended before its monitors were ready");
                    1
                }
            };
            Ok((Some(status), DaemonChild { pipe: None }))
        }
    }
}

/// The child's end of `-daemonize`.
pub struct DaemonChild {
    pipe: Option<std::fs::File>,
}

impl Readiness for DaemonChild {
    fn ready(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(&[0]);
            detach_stdio();
        }
    }

    fn failed(&mut self, error: &StartError) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(format!("\u{1}{error}").as_bytes());
        }
    }
}

/// Points standard input, output and error at /dev/null, as QEMU does
/// once daemonized (so that whoever waits on the parent's pipes is done).
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let null = std::os::fd::AsRawFd::as_raw_fd(&null);
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors, which this
            // process owns.
            unsafe { libc::dup2(null, fd) };
        }
    }
}
