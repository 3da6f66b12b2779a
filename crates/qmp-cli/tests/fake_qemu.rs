//! `qmp fake-qemu` as a process and as a machine: `-daemonize` and
//! `-pidfile` as QEMU has them, start errors in QEMU's words, and the
//! modelled machine behind the options (live vCPU and iothread threads,
//! QOM objects and devices at start and at run time, memdevs, the balloon,
//! chardevs, migration capabilities, the guest's shutdown with and without
//! `-no-shutdown`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use qmp_client::Client;
use qmp_test_support::TestProcess;
use qmp_wire::{Map, Value};

const QMP: &str = env!("CARGO_BIN_EXE_qmp");

fn fake_qemu(args: &[&str]) -> Command {
    let mut command = Command::new(QMP);
    command.arg("fake-qemu").args(args);
    command
}

fn run(args: &[&str]) -> Output {
    fake_qemu(args)
        .stdin(Stdio::null())
        .output()
        .expect("run qmp fake-qemu")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("a runtime")
}

fn args(pairs: &[(&str, Value)]) -> Map {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(*k, v.clone());
    }
    map
}

#[test]
fn start_errors_are_qemus_with_exit_status_1() {
    for (line, expected) in [
        (vec!["-foo"], "qmp: -foo: invalid option"),
        (vec!["-name"], "qmp: -name: requires an argument"),
        (vec!["-machine", "bogus"], "qmp: unsupported machine type\nUse -machine help to list supported machines"),
        (vec!["-machine", "pc", "-device", "nope"], "qmp: -device nope: 'nope' is not a valid device model name"),
        (vec!["-object", "nope,id=x"], "qmp: -object id=x: Parameter 'qom-type' does not accept value 'nope'"),
        (vec!["-machine", "none", "-smp", "2"], "qmp: Invalid SMP CPUs 2. The max CPUs supported by machine 'none' is 1"),
        (vec!["-machine", "pc", "-cpu", "nope"], "qmp: unable to find CPU model 'nope'"),
        (vec!["--profile", "/nonexistent/profile.jsonl"], "qmp: cannot read profile /nonexistent/profile.jsonl: No such file or directory (os error 2)"),
    ] {
        let output = run(&line);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{line:?}: {stderr}");
        assert_eq!(stderr.trim_end(), expected, "{line:?}");
    }
}

#[test]
fn a_profile_that_is_not_one_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"profile\": \"something else\"}\n").unwrap();
    let output = run(&["--profile", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("is not a usable machine profile"),
        "{stderr}"
    );
}

#[test]
fn daemonize_returns_once_the_monitor_listens_and_errors_reach_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("qmp.sock");
    let pidfile = dir.path().join("qemu.pid");
    let qmp = format!("unix:{},server=on,wait=off", socket.display());
    let output = run(&[
        "-S",
        "-no-user-config",
        "-nodefaults",
        "-nographic",
        "-machine",
        "none,accel=tcg",
        "-qmp",
        &qmp,
        "-pidfile",
        pidfile.to_str().unwrap(),
        "-daemonize",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The parent returned: the monitor is there, and so is the pidfile.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let status = runtime().block_on(async {
        let client = Client::connect_unix(&socket)
            .await
            .expect("the monitor listens at once");
        client.execute("query-status", ()).await.unwrap()
    });
    assert_eq!(
        status.get("status").and_then(Value::as_str),
        Some("prelaunch")
    );
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(
        eventually(|| !pidfile.exists() && !socket.exists()),
        "pidfile or socket left"
    );

    // An error before the monitor exists reaches the parent's stderr.
    let output = run(&[
        "-machine",
        "pc",
        "-device",
        "nope",
        "-qmp",
        &qmp,
        "-daemonize",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        "qmp: -device nope: 'nope' is not a valid device model name"
    );
}

fn eventually(condition: impl Fn() -> bool) -> bool {
    for _ in 0..100 {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A stand-in started with libvirt's kind of command line.
fn machine(extra: &[&str]) -> TestProcess {
    let mut command = fake_qemu(&[
        "-name",
        "guest=test,debug-threads=on",
        "-S",
        "-machine",
        "pc,accel=tcg",
        "-cpu",
        "qemu64",
        "-m",
        "256",
        "-smp",
        "2,sockets=4,cores=1,threads=1,maxcpus=4",
        "-uuid",
        "1bacf840-5c3c-4c1b-a2de-28a6e451323d",
        "-nodefaults",
        "-display",
        "none",
        "-object",
        r#"{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}"#,
        "-machine",
        "memory-backend=pc.ram",
        "-object",
        "iothread,id=io1",
        "-device",
        r#"{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.0","addr":"0x2"}"#,
    ]);
    command.args(extra).stderr(Stdio::null());
    TestProcess::monitor(command).expect("start the stand-in")
}

fn thread_name(pid: u32, tid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn the_machine_behind_the_options() {
    let process = machine(&[]);
    let pid = process.pid();
    runtime().block_on(async {
        let client = Client::connect_unix(process.socket()).await.unwrap();
        let cpus = client.execute("query-cpus-fast", ()).await.unwrap();
        let cpus = cpus.as_array().unwrap();
        assert_eq!(cpus.len(), 2);
        for (i, cpu) in cpus.iter().enumerate() {
            let tid = cpu.get("thread-id").and_then(Value::as_i64).unwrap();
            assert_eq!(thread_name(pid, tid), format!("CPU {i}/TCG"));
            assert_eq!(cpu.get("target").and_then(Value::as_str), Some("x86_64"));
        }
        assert_eq!(
            cpus[1].get("qom-path").and_then(Value::as_str),
            Some("/machine/unattached/device[2]")
        );
        let hotpluggable = client.execute("query-hotpluggable-cpus", ()).await.unwrap();
        let hotpluggable = hotpluggable.as_array().unwrap();
        assert_eq!(hotpluggable.len(), 4, "maxcpus=4");
        assert_eq!(
            hotpluggable
                .iter()
                .filter(|c| c.get("qom-path").is_some())
                .count(),
            2
        );
        assert_eq!(
            hotpluggable[0].get("type").and_then(Value::as_str),
            Some("qemu64-x86_64-cpu")
        );
        // The CPU object has its model's properties and values.
        let cpu = args(&[("path", "/machine/unattached/device[0]".into())]);
        let list = client.execute("qom-list", cpu.clone()).await.unwrap();
        assert!(
            list.as_array().unwrap().len() > 300,
            "a CPU has its feature properties"
        );
        let get = |property: &str| {
            let mut a = cpu.clone();
            a.insert("property", property);
            a
        };
        assert_eq!(
            client.execute("qom-get", get("realized")).await.unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            client.execute("qom-get", get("pse36")).await.unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            client.execute("qom-get", get("avx2")).await.unwrap(),
            Value::Bool(false)
        );

        let iothreads = client.execute("query-iothreads", ()).await.unwrap();
        let io = &iothreads.as_array().unwrap()[0];
        assert_eq!(io.get("id").and_then(Value::as_str), Some("io1"));
        let tid = io.get("thread-id").and_then(Value::as_i64).unwrap();
        assert_eq!(thread_name(pid, tid), "IO io1");

        let memdev = client.execute("query-memdev", ()).await.unwrap();
        assert_eq!(
            memdev.as_array().unwrap()[0]
                .get("size")
                .and_then(Value::as_u64),
            Some(256 << 20)
        );
        let balloon = client.execute("query-balloon", ()).await.unwrap();
        assert_eq!(
            balloon.get("actual").and_then(Value::as_u64),
            Some(256 << 20)
        );
        let uuid = client.execute("query-uuid", ()).await.unwrap();
        assert_eq!(
            uuid.get("UUID").and_then(Value::as_str),
            Some("1bacf840-5c3c-4c1b-a2de-28a6e451323d")
        );
        let name = client.execute("query-name", ()).await.unwrap();
        assert_eq!(name.get("name").and_then(Value::as_str), Some("test"));

        let peripheral = client
            .execute("qom-list", args(&[("path", "/machine/peripheral".into())]))
            .await
            .unwrap();
        assert!(
            peripheral
                .to_string()
                .contains(r#"{"name": "balloon0", "type": "child<virtio-balloon-pci>"}"#),
            "{peripheral}"
        );
        let objects = client
            .execute("qom-list", args(&[("path", "/objects".into())]))
            .await
            .unwrap();
        assert!(objects.to_string().contains("child<iothread>"), "{objects}");
        assert!(
            objects.to_string().contains("child<memory-backend-ram>"),
            "{objects}"
        );
    });
}

#[test]
fn devices_and_objects_come_and_go_at_run_time() {
    let process = machine(&[]);
    runtime().block_on(async {
        let client = Client::connect_unix(process.socket()).await.unwrap();
        let mut deleted = client.subscribe("DEVICE_DELETED");
        client
            .execute(
                "object-add",
                args(&[
                    ("qom-type", "rng-random".into()),
                    ("id", "rng0".into()),
                    ("filename", "/dev/urandom".into()),
                ]),
            )
            .await
            .unwrap();
        let again = client
            .execute(
                "object-add",
                args(&[("qom-type", "rng-random".into()), ("id", "rng0".into())]),
            )
            .await
            .unwrap_err();
        assert_eq!(
            again.as_qmp().unwrap().desc,
            "attempt to add duplicate property 'rng0' to object (type 'container')"
        );
        client
            .execute(
                "device_add",
                args(&[
                    ("driver", "virtio-rng-pci".into()),
                    ("id", "rng1".into()),
                    ("rng", "rng0".into()),
                ]),
            )
            .await
            .unwrap();
        let hotplugged = client
            .execute(
                "qom-get",
                args(&[
                    ("path", "/machine/peripheral/rng1".into()),
                    ("property", "hotplugged".into()),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(hotplugged, Value::Bool(true));
        let wrong = client
            .execute("device_add", args(&[("driver", "no-such-device".into())]))
            .await
            .unwrap_err();
        assert_eq!(
            wrong.as_qmp().unwrap().desc,
            "'no-such-device' is not a valid device model name"
        );
        client
            .execute("device_del", args(&[("id", "rng1".into())]))
            .await
            .unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), deleted.next_event())
            .await
            .expect("DEVICE_DELETED")
            .expect("an event");
        assert_eq!(
            event
                .data
                .as_ref()
                .and_then(|d| d.get("device"))
                .and_then(Value::as_str),
            Some("rng1")
        );
        client
            .execute("object-del", args(&[("id", "rng0".into())]))
            .await
            .unwrap();
        let gone = client
            .execute("object-del", args(&[("id", "rng0".into())]))
            .await
            .unwrap_err();
        assert_eq!(gone.as_qmp().unwrap().desc, "object 'rng0' not found");

        // Migration capabilities start as the binary's and can be set.
        let caps = args(&[(
            "capabilities",
            Value::Array(vec![Value::Object(args(&[
                ("capability", "events".into()),
                ("state", true.into()),
            ]))]),
        )]);
        client
            .execute("migrate-set-capabilities", caps)
            .await
            .unwrap();
        let list = client
            .execute("query-migrate-capabilities", ())
            .await
            .unwrap();
        let events = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c.get("capability").and_then(Value::as_str) == Some("events"))
            .unwrap();
        assert_eq!(events.get("state"), Some(&Value::Bool(true)));
        assert!(
            list.as_array().unwrap().len() > 10,
            "the binary's capabilities"
        );
    });
}

fn powered_down(process: &mut TestProcess) -> (Vec<String>, Option<String>) {
    runtime().block_on(async {
        let client = Client::connect_unix(process.socket()).await.unwrap();
        let mut events = client.subscribe(qmp_client::EventFilter::any());
        client.execute("cont", ()).await.unwrap();
        client.execute("system_powerdown", ()).await.unwrap();
        let mut names = Vec::new();
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(500), events.next_event()).await
        {
            let reason = event
                .data
                .as_ref()
                .and_then(|d| d.get("reason"))
                .and_then(Value::as_str)
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            names.push(format!("{}{reason}", event.name));
        }
        let status = client.execute("query-status", ()).await.ok();
        let status =
            status.and_then(|s| s.get("status").and_then(Value::as_str).map(str::to_owned));
        (names, status)
    })
}

#[test]
fn the_guest_shuts_down_on_the_power_button_and_no_shutdown_keeps_the_process() {
    let mut kept = machine(&["-no-shutdown"]);
    let (events, status) = powered_down(&mut kept);
    assert_eq!(
        events,
        ["RESUME", "POWERDOWN", "SHUTDOWN guest-shutdown", "STOP"]
    );
    assert_eq!(status.as_deref(), Some("shutdown"));
    assert!(kept.is_running());

    let mut ended = machine(&[]);
    let (events, _) = powered_down(&mut ended);
    assert_eq!(
        events[..3],
        ["RESUME", "POWERDOWN", "SHUTDOWN guest-shutdown"]
    );
    let status = ended.child().wait().unwrap();
    assert_eq!(status.code(), Some(0));

    // -no-acpi: nobody answers the power button, as on QEMU.
    let mut deaf = machine(&["-no-acpi"]);
    let (events, status) = powered_down(&mut deaf);
    assert_eq!(events, ["RESUME", "POWERDOWN"]);
    assert_eq!(status.as_deref(), Some("running"));
}

#[test]
fn serial_ptys_disks_and_block_nodes_from_the_command_line() {
    let process = machine(&[
        "-chardev",
        "pty,id=charserial0",
        "-device",
        r#"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
        "-blockdev",
        r#"{"driver":"null-co","node-name":"libvirt-1-storage","read-only":false}"#,
        "-device",
        r#"{"driver":"virtio-blk-pci","drive":"libvirt-1-storage","id":"virtio-disk0"}"#,
    ]);
    runtime().block_on(async {
        let client = Client::connect_unix(process.socket()).await.unwrap();
        let chardevs = client.execute("query-chardev", ()).await.unwrap();
        let serial = chardevs
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c.get("label").and_then(Value::as_str) == Some("charserial0"))
            .expect("the serial chardev");
        let filename = serial.get("filename").and_then(Value::as_str).unwrap();
        let tty = filename.strip_prefix("pty:").expect("a pty");
        assert!(Path::new(tty).exists(), "{tty}");
        let monitor = chardevs.to_string();
        assert!(monitor.contains("\"frontend-open\": true"), "{monitor}");
        let nodes = client
            .execute("query-named-block-nodes", args(&[("flat", true.into())]))
            .await
            .unwrap();
        assert!(nodes.to_string().contains("libvirt-1-storage"), "{nodes}");
        // The disk's backend, as libvirt finds it by its qdev path.
        let qdev = "/machine/peripheral/virtio-disk0/virtio-backend";
        let block = client.execute("query-block", ()).await.unwrap();
        let disk = &block.as_array().unwrap()[0];
        assert_eq!(disk.get("qdev").and_then(Value::as_str), Some(qdev));
        let inserted = disk.get("inserted").expect("a medium");
        assert_eq!(
            inserted.get("node-name").and_then(Value::as_str),
            Some("libvirt-1-storage")
        );
        let stats = client.execute("query-blockstats", ()).await.unwrap();
        let disk = &stats.as_array().unwrap()[0];
        assert_eq!(disk.get("qdev").and_then(Value::as_str), Some(qdev));
        assert_eq!(
            disk.get("stats").and_then(|s| s.get("rd_bytes")),
            Some(&Value::Int(0))
        );
        let serial = client
            .execute(
                "qom-get",
                args(&[
                    ("path", "/machine/peripheral/serial0".into()),
                    ("property", "chardev".into()),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(serial, Value::from("charserial0"));
    });
}
