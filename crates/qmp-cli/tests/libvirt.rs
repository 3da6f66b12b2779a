//! `qmp fake-qemu` under libvirt, compared with the real
//! `qemu-system-x86_64`: the shipped machine profile is current, `virsh
//! domcapabilities` is the same, a domain goes through the same lifecycle,
//! and libvirt's own recorded capability probe of QEMU 7.2 is reproduced at
//! least as well. Needs libvirtd running (as `.ci/run` starts it) and the
//! probe from libvirt's sources (`QMP_LIBVIRT_CAPS_REPLIES`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qmp_client::Client;
use qmp_sim::profile::Profile;
use qmp_test_support::TestProcess;
use qmp_wire::{Map, Value};

const QMP: &str = env!("CARGO_BIN_EXE_qmp");
const CONNECTION: &str = "qemu:///system";

/// Where `.ci/run` puts libvirt's recorded probe of QEMU 7.2 x86_64.
const DEFAULT_CAPS_REPLIES: &str = "/var/tmp/qmp-rs-libvirt/caps_7.2.0.x86_64.replies";

/// `virsh -c qemu:///system ARGS`: success, and stdout then stderr.
fn virsh(args: &[&str]) -> (bool, String) {
    let output = Command::new("virsh")
        .arg("-c")
        .arg(CONNECTION)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run virsh");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text.trim().to_owned())
}

/// True when libvirtd answers; else the test is skipped (failed if strict).
fn libvirt_ready() -> bool {
    if qmp_test_support::program("virsh", "apt-get install libvirt-clients").is_none() {
        return false;
    }
    let (ok, text) = virsh(&["version"]);
    if !ok {
        qmp_test_support::skip(&format!(
            "libvirtd does not answer on {CONNECTION} (start virtlogd -d and libvirtd -d as root): {text}"
        ));
    }
    ok
}

/// A folder libvirt's unprivileged QEMU user may read, removed on drop.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("qmp-libvirt-")
        .tempdir()
        .expect("a temporary folder");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("open the folder");
    dir
}

/// An executable script at `path` running `command "$@"`.
fn wrapper(path: &Path, command: &str) {
    std::fs::write(path, format!("#!/bin/sh\nexec {command} \"$@\"\n")).expect("write wrapper");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The real binary and the stand-in, each behind a wrapper script (so that
/// libvirt caches neither under the other's name), the stand-in with a
/// profile recorded from the real binary just now.
struct Emulators {
    dir: tempfile::TempDir,
    real: PathBuf,
    fake: PathBuf,
    profile: PathBuf,
}

fn emulators(qemu: &Path) -> Emulators {
    let dir = open_dir();
    let profile = dir.path().join("profile.jsonl.gz");
    let status = Command::new(QMP)
        .args(["profile", "record", "--binary"])
        .arg(qemu)
        .arg("-o")
        .arg(&profile)
        .stderr(Stdio::null())
        .status()
        .expect("run qmp profile record");
    assert!(status.success(), "qmp profile record failed");
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let real = dir.path().join("real-qemu");
    let fake = dir.path().join("fake-qemu");
    wrapper(&real, &qemu.display().to_string());
    wrapper(
        &fake,
        &format!("{QMP} fake-qemu --profile {}", profile.display()),
    );
    Emulators {
        dir,
        real,
        fake,
        profile,
    }
}

/// Answers that depend on the host rather than on the binary.
fn host_dependent(accelerator: Option<&str>, command: &str, arguments: &Map) -> bool {
    let model = arguments
        .get("model")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    matches!(
        command,
        "query-kvm"
            | "query-sev-capabilities"
            | "query-sgx-capabilities"
            | "query-sgx"
            | "query-sev"
    ) || (accelerator == Some("kvm")
        && matches!(
            command,
            "query-cpu-definitions" | "query-cpu-model-expansion"
        ))
        || model == Some("host")
}

#[test]
fn the_shipped_profile_is_current() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    let emulators = emulators(&qemu);
    let fresh = Profile::read_file(&emulators.profile).expect("read the fresh profile");
    let shipped = Profile::builtin().expect("the built-in profile");
    assert_eq!(
        fresh.version(),
        shipped.version(),
        "the installed QEMU is not the profile's"
    );
    let mut compared = 0;
    let mut differing = Vec::new();
    for accelerator in fresh.accelerators() {
        assert!(
            shipped.accelerators().any(|a| a == accelerator),
            "the shipped profile lacks accelerator {accelerator}"
        );
        for (_, entry) in fresh.entries() {
            let (command, arguments) = (&entry.execute, &entry.arguments);
            if host_dependent(Some(accelerator), command, arguments) {
                continue;
            }
            compared += 1;
            let ours = fresh.answer(accelerator, command, arguments);
            let theirs = shipped.answer(accelerator, command, arguments);
            if ours != theirs {
                differing.push(format!("{accelerator}: {command} {arguments:?}"));
            }
        }
    }
    println!(
        "profile: {compared} answers compared, {} differ",
        differing.len()
    );
    assert!(compared > 1000, "only {compared} answers compared");
    assert!(
        differing.is_empty(),
        "the shipped profile is stale: {differing:#?}"
    );
}

/// `virsh domcapabilities` for `emulator`, its path replaced by `EMULATOR`.
fn domcapabilities(emulator: &Path, virttype: &str) -> String {
    let path = emulator.display().to_string();
    let (ok, xml) = virsh(&[
        "domcapabilities",
        "--emulatorbin",
        &path,
        "--virttype",
        virttype,
    ]);
    assert!(ok, "domcapabilities for {path}: {xml}");
    xml.replace(&path, "EMULATOR")
}

#[test]
fn domcapabilities_equal_the_real_binarys() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    if !libvirt_ready() {
        return;
    }
    let emulators = emulators(&qemu);
    let mut virttypes = vec!["qemu"];
    if qmp_sim::profile::kvm_usable() {
        virttypes.push("kvm");
    }
    for virttype in virttypes {
        let real = domcapabilities(&emulators.real, virttype);
        let fake = domcapabilities(&emulators.fake, virttype);
        let differing: Vec<_> = real
            .lines()
            .zip(fake.lines())
            .filter(|(a, b)| a != b)
            .collect();
        println!(
            "domcapabilities --virttype {virttype}: {} lines, {} differ",
            real.lines().count(),
            differing.len()
        );
        assert!(real.contains("<domainCapabilities>"), "{real}");
        assert_eq!(real, fake, "domcapabilities --virttype {virttype} differ");
    }
}

/// A diskless TCG domain with `emulator`.
fn domain_xml(name: &str, emulator: &Path, acpi: bool) -> String {
    let features = if acpi {
        "<features><acpi/></features>"
    } else {
        ""
    };
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>{features}\
         <devices><emulator>{}</emulator></devices></domain>",
        emulator.display()
    )
}

/// A defined domain, destroyed and undefined on drop.
struct Domain {
    name: String,
}

impl Domain {
    fn define(dir: &Path, name: &str, emulator: &Path, acpi: bool) -> Domain {
        let _ = virsh(&["destroy", name]);
        let _ = virsh(&["undefine", name]);
        let file = dir.join(format!("{name}.xml"));
        std::fs::write(&file, domain_xml(name, emulator, acpi)).expect("write domain XML");
        let (ok, text) = virsh(&["define", &file.display().to_string()]);
        assert!(ok, "define {name}: {text}");
        Domain {
            name: name.to_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let mut full = vec![args[0], self.name.as_str()];
        full.extend(&args[1..]);
        let (ok, text) = virsh(&full);
        format!(
            "{}: {}",
            if ok { "ok" } else { "failed" },
            text.replace(&self.name, "DOMAIN")
        )
    }

    fn state(&self) -> String {
        self.run(&["domstate"])
    }

    /// Waits up to `within` for the domain to reach `state`.
    fn wait_for_state(&self, state: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.state() == format!("ok: {state}") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.name]);
        let _ = virsh(&["undefine", &self.name]);
    }
}

/// The issue's lifecycle: each step's outcome and the state after it.
fn lifecycle(domain: &Domain) -> Vec<String> {
    let mut steps = Vec::new();
    for step in [
        vec!["start"],
        vec!["suspend"],
        vec!["resume"],
        vec!["qemu-monitor-command", r#"{"execute":"query-status"}"#],
        vec!["destroy"],
    ] {
        let outcome = domain.run(&step);
        // libvirt numbers its monitor commands; the id is not the machine's.
        let outcome = outcome
            .split("\"id\":")
            .next()
            .unwrap_or_default()
            .to_owned();
        steps.push(format!("{} -> {outcome} -> {}", step[0], domain.state()));
    }
    let (ok, text) = virsh(&["undefine", &domain.name]);
    steps.push(format!(
        "undefine -> {ok} {}",
        text.replace(&domain.name, "DOMAIN")
    ));
    steps
}

#[test]
fn a_domain_runs_as_on_the_real_binary() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    if !libvirt_ready() {
        return;
    }
    let emulators = emulators(&qemu);
    let real = Domain::define(emulators.dir.path(), "qmp-rs-real", &emulators.real, false);
    let fake = Domain::define(emulators.dir.path(), "qmp-rs-fake", &emulators.fake, false);
    let real_steps = lifecycle(&real);
    let fake_steps = lifecycle(&fake);
    for step in &fake_steps {
        println!("{step}");
    }
    assert_eq!(real_steps.len(), 6);
    assert!(real_steps[0].starts_with("start -> ok"), "{real_steps:?}");
    assert_eq!(real_steps, fake_steps);
}

#[test]
fn a_domain_on_the_stand_in_has_live_vcpu_threads_hot_plugs_and_shuts_down() {
    let Some(qemu) = qmp_test_support::qemu_system() else {
        return;
    };
    if !libvirt_ready() {
        return;
    }
    let emulators = emulators(&qemu);
    let dir = emulators.dir.path();
    let domain = Domain::define(dir, "qmp-rs-fake-acpi", &emulators.fake, true);
    assert!(domain.run(&["start"]).starts_with("ok"), "start");
    // libvirt found each vCPU's thread in the stand-in's process.
    let pid = std::fs::read_to_string("/run/libvirt/qemu/qmp-rs-fake-acpi.pid")
        .expect("libvirt's pidfile")
        .trim()
        .to_owned();
    let status = domain.run(&["qemu-monitor-command", r#"{"execute":"query-cpus-fast"}"#]);
    let reply: Value = qmp_wire::from_str(status.trim_start_matches("ok: ")).expect("a reply");
    let cpus = reply.get("return").and_then(Value::as_array).expect("cpus");
    assert_eq!(cpus.len(), 2);
    for cpu in cpus {
        let tid = cpu
            .get("thread-id")
            .and_then(Value::as_i64)
            .expect("thread-id");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
            .expect("the vCPU thread is a thread of the stand-in");
        assert!(comm.starts_with("CPU "), "{comm}");
    }
    // Hot-plug: an RNG device (object-add, device_add), then its removal
    // (device_del, DEVICE_DELETED, object-del).
    let rng = dir.join("rng.xml");
    std::fs::write(
        &rng,
        "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
    )
    .expect("write rng.xml");
    let rng = rng.display().to_string();
    assert!(domain
        .run(&["attach-device", &rng, "--live"])
        .starts_with("ok"));
    assert!(domain.run(&["dumpxml"]).contains("<rng model='virtio'>"));
    assert!(domain
        .run(&["detach-device", &rng, "--live"])
        .starts_with("ok"));
    assert!(!domain.run(&["dumpxml"]).contains("<rng model='virtio'>"));
    // virsh shutdown: the modelled guest acts on the ACPI power button.
    assert!(domain.run(&["shutdown"]).starts_with("ok"));
    assert!(
        domain.wait_for_state("shut off", Duration::from_secs(20)),
        "the domain did not shut down: {}",
        domain.state()
    );
}

/// libvirt's recorded probe: (request, recorded reply) pairs per session.
fn recorded_probe() -> Option<Vec<Vec<(Value, Value)>>> {
    let path = std::env::var_os("QMP_LIBVIRT_CAPS_REPLIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CAPS_REPLIES));
    let Ok(bytes) = std::fs::read(&path) else {
        qmp_test_support::skip(&format!(
            "{} not found: libvirt's tests/qemucapabilitiesdata/caps_7.2.0.x86_64.replies (apt-get source libvirt; set QMP_LIBVIRT_CAPS_REPLIES)",
            path.display()
        ));
        return None;
    };
    let mut decoder = qmp_wire::Decoder::new();
    decoder.feed(&bytes);
    decoder.finish();
    let mut values: Vec<Value> = Vec::new();
    while let Some(value) = decoder.next() {
        values.push(value.expect("a JSON value"));
    }
    let mut sessions: Vec<Vec<(Value, Value)>> = Vec::new();
    for pair in values.chunks(2) {
        let [request, reply] = pair else {
            panic!("a request without a reply");
        };
        if request.get("execute").and_then(Value::as_str) == Some("qmp_capabilities") {
            sessions.push(Vec::new());
        }
        sessions
            .last_mut()
            .expect("a session")
            .push((request.clone(), reply.clone()));
    }
    Some(sessions)
}

/// A reply with what belongs to the host rather than the binary taken
/// out: the build's package and micro version; KVM, SEV and SGX support
/// and the `host` CPU model (only whether they answered or failed); which
/// CPU features the host lacks.
fn without_host_values(command: &str, arguments: Option<&Value>, reply: &Value) -> Value {
    let outcome = match (reply.get("return"), reply.get("error")) {
        (Some(value), _) => value.clone(),
        (None, Some(error)) => Value::Object(error.as_object().cloned().unwrap_or_default()),
        _ => Value::Null,
    };
    let failed = Value::Bool(reply.get("error").is_some());
    let model = arguments
        .and_then(|a| a.get("model"))
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    match command {
        "query-version" => {
            let qemu = outcome.get("qemu");
            let part = |k: &str| qemu.and_then(|q| q.get(k)).cloned().unwrap_or_default();
            Value::Array(vec![part("major"), part("minor")])
        }
        "query-kvm" | "query-sev-capabilities" | "query-sgx-capabilities" => failed,
        "query-cpu-model-expansion" if model == Some("host") => failed,
        "query-cpu-definitions" => match outcome {
            Value::Array(models) => Value::Array(
                models
                    .into_iter()
                    .map(|mut m| {
                        if let Some(m) = m.as_object_mut() {
                            m.remove("unavailable-features");
                        }
                        m
                    })
                    .collect(),
            ),
            other => other,
        },
        _ => outcome,
    }
}

/// How many of the probe's replies `socket`'s server reproduces.
async fn replay_session(socket: &Path, session: &[(Value, Value)]) -> (usize, Vec<String>) {
    // QEMU serves one client at a time: the start-up probe may still be
    // leaving.
    let mut client = Client::connect_unix(socket).await;
    for _ in 0..50 {
        if client.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        client = Client::connect_unix(socket).await;
    }
    let client = client.expect("connect");
    let mut equal = 0;
    let mut differing = Vec::new();
    for (request, recorded) in session {
        let command = request
            .get("execute")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let answer = if command == "qmp_capabilities" {
            // The client negotiated already; QEMU answers {} once.
            Ok(Value::Object(Map::new()))
        } else {
            let arguments = request
                .get("arguments")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            client.execute(command, arguments).await
        };
        let mut reply = Map::new();
        match answer {
            Ok(value) => {
                reply.insert("return", value);
            }
            Err(error) => {
                let qmp = error.as_qmp().expect("a QMP error, not a lost connection");
                let mut e = Map::new();
                e.insert("class", qmp.class.as_str());
                e.insert("desc", qmp.desc.as_str());
                reply.insert("error", Value::Object(e));
            }
        }
        let arguments = request.get("arguments");
        if without_host_values(command, arguments, &Value::Object(reply))
            == without_host_values(command, arguments, recorded)
        {
            equal += 1;
        } else {
            differing.push(format!(
                "{command} {}",
                request
                    .get("arguments")
                    .map(Value::to_string)
                    .unwrap_or_default()
            ));
        }
    }
    (equal, differing)
}

/// The probe's two sessions (`accel=kvm:tcg`, then `accel=tcg`) against
/// the program `command` starts; replies reproduced and those that differ.
fn replay_probe(
    sessions: &[Vec<(Value, Value)>],
    start: impl Fn(&str) -> Command,
) -> (usize, Vec<String>) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut equal = 0;
    let mut differing = Vec::new();
    for (session, accel) in sessions.iter().zip(["kvm:tcg", "tcg"]) {
        let process = TestProcess::monitor(start(accel)).expect("start the server");
        let (e, d) = runtime.block_on(replay_session(process.socket(), session));
        equal += e;
        differing.extend(d);
    }
    (equal, differing)
}

#[test]
fn libvirts_recorded_probe_is_reproduced_as_well_as_by_the_real_binary() {
    let (Some(qemu), Some(sessions)) = (qmp_test_support::qemu_system(), recorded_probe()) else {
        return;
    };
    let total: usize = sessions.iter().map(Vec::len).sum();
    assert_eq!(total, 56, "the probe has 56 commands");
    let probe_args = |accel: &str| {
        [
            "-S".to_owned(),
            "-no-user-config".into(),
            "-nodefaults".into(),
            "-nographic".into(),
            "-machine".into(),
            format!("none,accel={accel}"),
        ]
    };
    let (real, real_differing) = replay_probe(&sessions, |accel| {
        let mut command = Command::new(&qemu);
        command.args(probe_args(accel)).stderr(Stdio::null());
        command
    });
    let (fake, fake_differing) = replay_probe(&sessions, |accel| {
        let mut command = Command::new(QMP);
        command
            .arg("fake-qemu")
            .args(probe_args(accel))
            .stderr(Stdio::null());
        command
    });
    println!("libvirt's 7.2 probe: real binary {real}/{total}, stand-in {fake}/{total}");
    println!("real differs on: {real_differing:#?}");
    println!("stand-in differs on: {fake_differing:#?}");
    assert!(real >= 40, "the real binary reproduces only {real}");
    assert!(
        fake >= real,
        "the stand-in reproduces {fake}, the real binary {real}"
    );
}
