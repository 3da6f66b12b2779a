//! The stand-in's QEMU command line: every option libvirt 9.0 passes when
//! it probes a binary and when it starts a domain, read into a
//! [`QemuCommandLine`]. Options outside the set fail as QEMU fails
//! (`-foo: invalid option`). Checking the values against what the binary
//! has (machine types, devices, CPU models) is [`crate::hardware`]'s.

use std::collections::HashMap;
use std::path::PathBuf;

use qapi_schema::introspect::ApiSource;
use qmp_wire::{Map, Value};

/// A command line the stand-in cannot run, with QEMU's text where QEMU has
/// one (`-foo: invalid option`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(pub String);

/// One `-qmp`/`-mon` monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    /// Where it listens (or the connection it was handed).
    pub socket: SocketSpec,
    /// `pretty=on`, or `-qmp-pretty`.
    pub pretty: bool,
    /// The chardev's label in `query-chardev`.
    pub label: String,
}

/// A unix socket chardev.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketSpec {
    /// `path=PATH,server=on`: a socket file to create and listen on.
    Listen(PathBuf),
    /// `fd=N,server=on`: a listening socket handed over by the parent
    /// (libvirt creates the monitor's socket itself).
    ListeningFd(i32),
    /// `fd=N` without `server=on`: one connected socket (a socketpair).
    ConnectedFd(i32),
}

/// A `-chardev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chardev {
    /// `id`.
    pub id: String,
    /// The backend (`socket`, `pty`, `null`, `file`, ...).
    pub backend: String,
    /// The socket, for `socket` chardevs.
    pub socket: Option<SocketSpec>,
    /// The options as given.
    pub options: Vec<(String, String)>,
}

/// `-smp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smp {
    /// vCPUs at start.
    pub cpus: u32,
    /// Sockets.
    pub sockets: u32,
    /// Dies per socket.
    pub dies: u32,
    /// Cores per die.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// The most vCPUs (hot-plug included).
    pub maxcpus: u32,
}

impl Default for Smp {
    fn default() -> Smp {
        Smp {
            cpus: 1,
            sockets: 1,
            dies: 1,
            cores: 1,
            threads: 1,
            maxcpus: 1,
        }
    }
}

/// What `qmp fake-qemu` was asked to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QemuCommandLine {
    /// `--introspection FILE` / `--schema FILE [--conditions FILE]`: serve
    /// this API instead of the profile's.
    pub api: Option<ApiSource>,
    /// `--profile FILE`: the machine profile (default: the built-in one).
    pub profile: Option<PathBuf>,
    /// `--script FILE`: scripted replies.
    pub script: Option<PathBuf>,
    /// `-S`
    pub start_stopped: bool,
    /// `--preconfig`
    pub preconfig: bool,
    /// `-name` (`guest=`).
    pub name: Option<String>,
    /// `-name ...,debug-threads=on`: threads are named as QEMU names them.
    pub debug_threads: bool,
    /// `-machine` type (default `none` when the profile has no default).
    pub machine_type: Option<String>,
    /// `-machine` properties other than the type and `accel`.
    pub machine_properties: Vec<(String, String)>,
    /// The accelerators asked for, in order (`accel=kvm:tcg`, `-accel`,
    /// `-enable-kvm`).
    pub accelerators: Vec<String>,
    /// `-cpu` model (features after the comma are kept in `cpu_features`).
    pub cpu_model: Option<String>,
    /// `-cpu MODEL,FEATURES`.
    pub cpu_features: Vec<(String, String)>,
    /// `-m`: guest RAM in bytes.
    pub ram_bytes: Option<u64>,
    /// `-smp`
    pub smp: Option<Smp>,
    /// `-uuid`
    pub uuid: Option<String>,
    /// `-object`, as QOM properties (`qom-type`, `id`, ...).
    pub objects: Vec<Map>,
    /// `-device`, as properties (`driver`, `id`, ...).
    pub devices: Vec<Map>,
    /// `-blockdev`, as given.
    pub blockdevs: Vec<Map>,
    /// `-chardev`
    pub chardevs: Vec<Chardev>,
    /// The QMP monitors.
    pub monitors: Vec<Monitor>,
    /// `-no-shutdown`: a guest shutdown stops the guest, the process stays.
    pub no_shutdown: bool,
    /// `-no-acpi`
    pub no_acpi: bool,
    /// `-daemonize`
    pub daemonize: bool,
    /// `-pidfile`
    pub pidfile: Option<PathBuf>,
    /// `-global`, as given.
    pub globals: Vec<String>,
}

/// Options that take no argument and change nothing the stand-in models.
const ACCEPTED_FLAGS: &[&str] = &[
    "no-user-config",
    "nodefaults",
    "nographic",
    "no-hpet",
    "no-reboot",
    "enable-fips",
    "snapshot",
    "full-screen",
    "no-fd-bootchk",
];

/// Options whose argument changes nothing the stand-in models.
const ACCEPTED_WITH_ARGUMENT: &[&str] = &[
    "display",
    "overcommit",
    "rtc",
    "boot",
    "audiodev",
    "msg",
    "sandbox",
    "vga",
    "serial",
    "parallel",
    "monitor",
    "nic",
    "netdev",
    "drive",
    "fsdev",
    "k",
    "L",
    "bios",
    "smbios",
    "fw_cfg",
    "numa",
    "iscsi",
    "spice",
    "vnc",
    "incoming",
    "loadvm",
    "trace",
    "d",
    "D",
    "run-with",
    "runas",
    "chroot",
    "action",
    "add-fd",
    "compat",
    "plugin",
    "mem-path",
    "kernel",
    "initrd",
    "append",
    "dtb",
    "watchdog-action",
    "usbdevice",
    "icount",
    "semihosting-config",
    "seed",
    "uuid-ignored",
];

/// A QEMU size (`128`, `128M`, `2G`, `1048576k`): a bare number is MiB for
/// `-m`, as QEMU reads it.
pub fn parse_size(text: &str, default_unit: u64) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => return digits.parse::<u64>().ok()?.checked_mul(default_unit),
        "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    let value: f64 = digits.parse().ok()?;
    let bytes = value * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `key=value` pairs of a QEMU option argument (`socket,id=m0,path=...`);
/// the first bare word comes back under `implied` (`""` when it has none).
/// Doubled commas are literal commas, as QEMU reads them.
pub fn option_pairs(text: &str, implied: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                current.push(',');
            } else {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, part)| match part.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None if i == 0 => (implied.to_owned(), part),
            None => match part.strip_prefix("no") {
                Some(rest) if !rest.is_empty() => (rest.to_owned(), "off".to_owned()),
                _ => (part, "on".to_owned()),
            },
        })
        .collect()
}

fn is_on(value: Option<&str>) -> bool {
    matches!(value, Some("on" | "yes" | "true"))
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A `-object`/`-device`/`-blockdev` argument: JSON when it starts with
/// `{`, else `key=value` pairs with the first bare word under `implied`.
fn json_or_pairs(option: &str, text: &str, implied: &str) -> Result<Map, OptionError> {
    if text.trim_start().starts_with('{') {
        return match qmp_wire::from_str(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(OptionError(format!("-{option} {text}: not a JSON object"))),
            Err(e) => Err(OptionError(format!("-{option} {text}: {e}"))),
        };
    }
    let mut map = Map::new();
    for (key, value) in option_pairs(text, implied) {
        map.insert(key, value);
    }
    Ok(map)
}

fn number(option: &str, key: &str, value: &str) -> Result<u32, OptionError> {
    value
        .parse()
        .map_err(|_| OptionError(format!("-{option}: Parameter '{key}' expects a number")))
}

fn parse_smp(text: &str) -> Result<Smp, OptionError> {
    let pairs = option_pairs(text, "cpus");
    let field = |key: &str| -> Result<Option<u32>, OptionError> {
        get(&pairs, key).map(|v| number("smp", key, v)).transpose()
    };
    let (cpus, sockets, dies, cores, threads, maxcpus) = (
        field("cpus")?,
        field("sockets")?,
        field("dies")?,
        field("cores")?,
        field("threads")?,
        field("maxcpus")?,
    );
    let dies = dies.unwrap_or(1).max(1);
    let threads = threads.unwrap_or(1).max(1);
    let cores = cores.unwrap_or(1).max(1);
    let max_or_cpus = maxcpus.or(cpus).unwrap_or(1).max(1);
    let sockets = sockets
        .unwrap_or_else(|| (max_or_cpus / (dies * cores * threads)).max(1))
        .max(1);
    let maxcpus = maxcpus.unwrap_or(sockets * dies * cores * threads);
    let cpus = cpus.unwrap_or(maxcpus);
    if sockets * dies * cores * threads != maxcpus {
        return Err(OptionError(format!(
            "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets ({sockets}) * dies ({dies}) * cores ({cores}) * threads ({threads}) != maxcpus ({maxcpus})"
        )));
    }
    if cpus > maxcpus {
        return Err(OptionError(format!(
            "Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets ({sockets}) * dies ({dies}) * cores ({cores}) * threads ({threads}) == maxcpus ({maxcpus}) < smp_cpus ({cpus})"
        )));
    }
    Ok(Smp {
        cpus,
        sockets,
        dies,
        cores,
        threads,
        maxcpus,
    })
}

fn parse_socket(spec: &str, pairs: &[(String, String)]) -> Result<SocketSpec, OptionError> {
    let server = is_on(get(pairs, "server"));
    match (get(pairs, "path"), get(pairs, "fd")) {
        (Some(path), _) if server => Ok(SocketSpec::Listen(path.into())),
        (None, Some(fd)) => {
            let fd: i32 = fd
                .parse()
                .map_err(|_| OptionError(format!("-chardev {spec}: fd '{fd}' is not a number")))?;
            Ok(if server {
                SocketSpec::ListeningFd(fd)
            } else {
                SocketSpec::ConnectedFd(fd)
            })
        }
        _ => Err(OptionError(format!(
            "-chardev {spec}: only server=on sockets with path= or fd=, or a connected fd=, are simulated"
        ))),
    }
}

impl QemuCommandLine {
    /// Reads a command line (QEMU's options, and the stand-in's own
    /// `--profile`, `--introspection`, `--schema`, `--conditions`,
    /// `--script`).
    pub fn parse(args: &[String]) -> Result<QemuCommandLine, OptionError> {
        let mut line = QemuCommandLine::default();
        let mut conditions = None;
        let mut chardevs: HashMap<String, usize> = HashMap::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let Some(option) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                // QEMU reads a bare word as a disk image.
                return Err(OptionError(format!(
                    "{arg}: disk images are not simulated (give -blockdev or nothing)"
                )));
            };
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| OptionError(format!("-{option}: requires an argument")))
            };
            match option {
                "introspection" => line.api = Some(ApiSource::Introspection(value()?.into())),
                "schema" => {
                    line.api = Some(ApiSource::Schema {
                        path: value()?.into(),
                        conditions: None,
                    })
                }
                "conditions" => conditions = Some(PathBuf::from(value()?)),
                "profile" => line.profile = Some(value()?.into()),
                "script" => line.script = Some(value()?.into()),
                "relaxed-docs" => {}
                "S" => line.start_stopped = true,
                "preconfig" => line.preconfig = true,
                "no-shutdown" => line.no_shutdown = true,
                "no-acpi" => line.no_acpi = true,
                "daemonize" => line.daemonize = true,
                "enable-kvm" => line.accelerators.push("kvm".into()),
                "pidfile" => line.pidfile = Some(value()?.into()),
                flag if ACCEPTED_FLAGS.contains(&flag) => {}
                with if ACCEPTED_WITH_ARGUMENT.contains(&with) => {
                    value()?;
                }
                "name" => {
                    let pairs = option_pairs(&value()?, "guest");
                    line.name = get(&pairs, "guest").map(str::to_owned);
                    line.debug_threads = is_on(get(&pairs, "debug-threads"));
                }
                "machine" | "M" => {
                    for (key, v) in option_pairs(&value()?, "type") {
                        match key.as_str() {
                            "type" => line.machine_type = Some(v),
                            "accel" => line.accelerators.extend(v.split(':').map(str::to_owned)),
                            _ => line.machine_properties.push((key, v)),
                        }
                    }
                }
                "accel" => {
                    let pairs = option_pairs(&value()?, "accel");
                    if let Some(name) = get(&pairs, "accel") {
                        line.accelerators.push(name.to_owned());
                    }
                }
                "cpu" => {
                    let mut pairs = option_pairs(&value()?, "model").into_iter();
                    line.cpu_model = pairs.next().map(|(_, model)| model);
                    line.cpu_features = pairs.collect();
                }
                "m" => {
                    let text = value()?;
                    let pairs = option_pairs(&text, "size");
                    let size = get(&pairs, "size").unwrap_or_default();
                    line.ram_bytes = Some(parse_size(size, 1 << 20).ok_or_else(|| {
                        OptionError(format!(
                            "-m {text}: Parameter 'size' expects a non-negative number below 2^64"
                        ))
                    })?);
                }
                "smp" => line.smp = Some(parse_smp(&value()?)?),
                "uuid" => line.uuid = Some(value()?),
                "object" => line
                    .objects
                    .push(json_or_pairs("object", &value()?, "qom-type")?),
                "device" => line
                    .devices
                    .push(json_or_pairs("device", &value()?, "driver")?),
                "blockdev" => line
                    .blockdevs
                    .push(json_or_pairs("blockdev", &value()?, "driver")?),
                "global" => line.globals.push(value()?),
                "chardev" => {
                    let spec = value()?;
                    let pairs = option_pairs(&spec, "backend");
                    let (Some(backend), Some(id)) = (get(&pairs, "backend"), get(&pairs, "id"))
                    else {
                        return Err(OptionError(format!(
                            "-chardev {spec}: Parameter 'id' is missing"
                        )));
                    };
                    let socket = match backend {
                        "socket" => Some(parse_socket(&spec, &pairs)?),
                        _ => None,
                    };
                    chardevs.insert(id.to_owned(), line.chardevs.len());
                    line.chardevs.push(Chardev {
                        id: id.to_owned(),
                        backend: backend.to_owned(),
                        socket,
                        options: pairs,
                    });
                }
                "mon" => {
                    let spec = value()?;
                    let pairs = option_pairs(&spec, "chardev");
                    let id = get(&pairs, "chardev").unwrap_or_default();
                    let Some(chardev) = chardevs.get(id).and_then(|&i| line.chardevs.get(i)) else {
                        return Err(OptionError(format!(
                            "-mon {spec}: chardev \"{id}\" not found"
                        )));
                    };
                    if get(&pairs, "mode") != Some("control") {
                        return Err(OptionError(format!(
                            "-mon {spec}: only mode=control (QMP) monitors are simulated"
                        )));
                    }
                    let Some(socket) = chardev.socket.clone() else {
                        return Err(OptionError(format!(
                            "-mon {spec}: the monitor's chardev must be a unix socket"
                        )));
                    };
                    line.monitors.push(Monitor {
                        socket,
                        pretty: is_on(get(&pairs, "pretty")),
                        label: id.to_owned(),
                    });
                }
                "qmp" | "qmp-pretty" => {
                    let spec = value()?;
                    let pairs = option_pairs(&spec, "target");
                    let target = get(&pairs, "target").unwrap_or_default();
                    let Some(path) = target.strip_prefix("unix:") else {
                        return Err(OptionError(format!(
                            "-{option} {spec}: only unix: monitors are simulated"
                        )));
                    };
                    line.monitors.push(Monitor {
                        socket: SocketSpec::Listen(path.into()),
                        pretty: option == "qmp-pretty",
                        label: format!("compat_monitor{}", line.monitors.len()),
                    });
                }
                _ => return Err(OptionError(format!("-{option}: invalid option"))),
            }
        }
        if let Some(ApiSource::Schema { path, .. }) = line.api.take() {
            line.api = Some(ApiSource::Schema { path, conditions });
        }
        Ok(line)
    }

    /// The vCPU topology: `-smp`, or one vCPU.
    pub fn topology(&self) -> Smp {
        self.smp.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<QemuCommandLine, OptionError> {
        QemuCommandLine::parse(
            &text
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn reads_libvirts_probe_line() {
        let line = parse("-S -no-user-config -nodefaults -nographic -machine none,accel=kvm:tcg -qmp unix:/v/qmp.monitor,server=on,wait=off -pidfile /v/qmp.pid -daemonize").unwrap();
        assert!(line.start_stopped && line.daemonize);
        assert_eq!(line.accelerators, ["kvm", "tcg"]);
        assert_eq!(line.machine_type.as_deref(), Some("none"));
        assert_eq!(line.pidfile, Some(PathBuf::from("/v/qmp.pid")));
        assert_eq!(
            line.monitors[0].socket,
            SocketSpec::Listen("/v/qmp.monitor".into())
        );
    }

    #[test]
    fn reads_libvirts_domain_line() {
        let line = parse(concat!(
            "-name guest=fakeq,debug-threads=on -S ",
            r#"-object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/v/master-key.aes"} "#,
            "-machine pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram -accel tcg -cpu qemu64 -m 128 ",
            r#"-object {"qom-type":"memory-backend-ram","id":"pc.ram","size":134217728} "#,
            "-overcommit mem-lock=off -smp 2,sockets=2,cores=1,threads=1 -uuid 1bacf840-5c3c-4c1b-a2de-28a6e451323d ",
            "-display none -no-user-config -nodefaults -chardev socket,id=charmonitor,fd=29,server=on,wait=off ",
            "-mon chardev=charmonitor,id=monitor,mode=control -rtc base=utc -no-shutdown -no-acpi -boot strict=on ",
            r#"-device {"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"} "#,
            r#"-audiodev {"id":"audio1","driver":"none"} "#,
            "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -msg timestamp=on"
        ))
        .unwrap();
        assert_eq!(line.name.as_deref(), Some("fakeq"));
        assert!(line.debug_threads && line.no_shutdown && line.no_acpi);
        assert_eq!(line.machine_type.as_deref(), Some("pc-i440fx-7.2"));
        assert_eq!(line.accelerators, ["tcg"]);
        assert_eq!(line.ram_bytes, Some(128 << 20));
        assert_eq!(line.topology().cpus, 2);
        assert_eq!(line.objects.len(), 2);
        assert_eq!(
            line.devices[0].get("driver").and_then(Value::as_str),
            Some("piix3-usb-uhci")
        );
        assert_eq!(line.monitors[0].socket, SocketSpec::ListeningFd(29));
        assert_eq!(line.monitors[0].label, "charmonitor");
    }

    #[test]
    fn fails_as_qemu_fails() {
        assert_eq!(parse("-foo").unwrap_err().0, "-foo: invalid option");
        assert_eq!(parse("-name").unwrap_err().0, "-name: requires an argument");
        assert!(parse("-smp 4,sockets=1,cores=2").is_err());
        assert!(parse("-m lots").is_err());
        assert!(parse("-mon chardev=x,mode=control").is_err());
    }

    #[test]
    fn sizes_and_pairs() {
        assert_eq!(parse_size("128", 1 << 20), Some(128 << 20));
        assert_eq!(parse_size("2G", 1 << 20), Some(2 << 30));
        assert_eq!(parse_size("1.5k", 1), Some(1536));
        assert_eq!(
            option_pairs("socket,id=a,,b,server,nowait", "backend"),
            [
                ("backend".to_string(), "socket".to_string()),
                ("id".into(), "a,b".into()),
                ("server".into(), "on".into()),
                ("wait".into(), "off".into())
            ]
        );
        let smp = parse_smp("4").unwrap();
        assert_eq!((smp.cpus, smp.sockets, smp.maxcpus), (4, 4, 4));
        let smp = parse_smp("2,maxcpus=4,sockets=2,cores=2").unwrap();
        assert_eq!((smp.cpus, smp.cores, smp.maxcpus), (2, 2, 4));
    }
}
