//! The modelled hardware behind a QEMU command line: the machine type and
//! its QOM object, vCPUs (idle threads with live thread ids, CPU objects
//! with the properties of their model), RAM and the balloon, `-object`
//! (memory backends, iothreads with their threads, secrets) and
//! `-device`, and the chardevs; with `query-cpus-fast`,
//! `query-hotpluggable-cpus`, `query-balloon`/`balloon`, `query-memdev`,
//! `query-iothreads`, `query-chardev`, `query-uuid` and the migration
//! capabilities.

use std::collections::BTreeMap;
use std::sync::Arc;

use qmp_server::{CommandEntry, CommandResult, Reply};
use qmp_wire::{ErrorClass, Map, QmpError, Value};

use crate::cmdline::Smp;
use crate::devices::Devices;
use crate::machine::{ok_empty, sync_entry};
use crate::profile::{Profile, Recorded};
use crate::qom::Qom;
use crate::shared::Shared;
use crate::threads::{iothread_name, vcpu_thread_name, IdleThread};

/// QEMU's default guest RAM (`-m` absent), bytes.
pub const DEFAULT_RAM_BYTES: u64 = 128 << 20;

/// The UUID of a machine started without `-uuid`.
const ZERO_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// One chardev as `query-chardev` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChardevInfo {
    /// The chardev's id.
    pub label: String,
    /// QEMU's description (`unix:PATH,server=on`, `disconnected:...`).
    pub filename: String,
    /// True when a frontend (a monitor) uses it.
    pub frontend_open: bool,
}

/// What the machine is made of (from the command line).
#[derive(Clone, Debug, Default)]
pub struct HardwareSpec {
    /// `-machine` type or alias (default: `none`).
    pub machine_type: Option<String>,
    /// The accelerator in use (`tcg`, `kvm`; empty: `tcg`).
    pub accelerator: String,
    /// `-cpu` model (default: the machine type's).
    pub cpu_model: Option<String>,
    /// `-smp` (default: one vCPU).
    pub smp: Option<Smp>,
    /// `-m`, bytes.
    pub ram_bytes: Option<u64>,
    /// `-uuid`.
    pub uuid: Option<String>,
    /// `-object`s.
    pub objects: Vec<Map>,
    /// `-device`s.
    pub devices: Vec<Map>,
    /// `-blockdev`s.
    pub blockdevs: Vec<Map>,
    /// The chardevs.
    pub chardevs: Vec<ChardevInfo>,
    /// `-name ...,debug-threads=on`.
    pub debug_threads: bool,
}

/// A machine type of the profile (`query-machines`).
#[derive(Clone, Debug)]
struct MachineType {
    name: String,
    cpu_max: u32,
    default_cpu_type: Option<String>,
    hotpluggable_cpus: bool,
}

/// QEMU's text for a `-machine` type the binary does not have.
const UNSUPPORTED_MACHINE: &str =
    "unsupported machine type\nUse -machine help to list supported machines";

impl MachineType {
    /// `-machine none`: one CPU at most, and only with `-cpu`.
    fn none() -> MachineType {
        MachineType {
            name: "none".into(),
            cpu_max: 1,
            default_cpu_type: None,
            hotpluggable_cpus: false,
        }
    }
}

impl HardwareSpec {
    /// The accelerator in use.
    pub fn accelerator(&self) -> &str {
        if self.accelerator.is_empty() {
            "tcg"
        } else {
            &self.accelerator
        }
    }
}

/// Finds `-machine TYPE` (a name or an alias) among the profile's types.
fn machine_type(
    profile: Option<&Profile>,
    accelerator: &str,
    asked: &str,
) -> Result<MachineType, String> {
    let Some(list) = profile.and_then(|p| p.value(accelerator, "query-machines")) else {
        return if asked == "none" {
            Ok(MachineType::none())
        } else {
            Err(UNSUPPORTED_MACHINE.into())
        };
    };
    let found = list.as_array().into_iter().flatten().find(|m| {
        m.get("name").and_then(Value::as_str) == Some(asked)
            || m.get("alias").and_then(Value::as_str) == Some(asked)
    });
    let Some(m) = found else {
        return Err(UNSUPPORTED_MACHINE.into());
    };
    Ok(MachineType {
        name: m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(asked)
            .to_owned(),
        cpu_max: m
            .get("cpu-max")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        default_cpu_type: m
            .get("default-cpu-type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        hotpluggable_cpus: m.get("hotpluggable-cpus").and_then(Value::as_bool) == Some(true),
    })
}

/// One vCPU.
struct Vcpu {
    index: u32,
    thread: IdleThread,
    qom_path: String,
    props: Map,
}

/// An iothread.
struct Iothread {
    id: String,
    thread: IdleThread,
}

/// The modelled hardware of one machine.
#[derive(Clone)]
pub struct Hardware {
    inner: Arc<Inner>,
    /// The migration capabilities, as set.
    migration_capabilities: Shared<Vec<(String, bool)>>,
}

struct Inner {
    machine: MachineType,
    cpu_type: Option<String>,
    smp: Smp,
    ram_bytes: u64,
    uuid: String,
    target: String,
    vcpus: Vec<Vcpu>,
    iothreads: Shared<Vec<Iothread>>,
    chardevs: Vec<ChardevInfo>,
    qom: Qom,
    devices: Devices,
    debug_threads: bool,
}

/// The topology properties of vCPU `index`.
fn topology_props(smp: &Smp, index: u32) -> Map {
    let threads = smp.threads.max(1);
    let cores = smp.cores.max(1);
    let dies = smp.dies.max(1);
    let mut props = Map::new();
    props.insert("core-id", i64::from((index / threads) % cores));
    props.insert("thread-id", i64::from(index % threads));
    if dies > 1 {
        props.insert("die-id", i64::from((index / (threads * cores)) % dies));
    }
    props.insert("socket-id", i64::from(index / (threads * cores * dies)));
    props
}

/// The properties of a CPU of `model`: the full expansion's values.
fn cpu_values(profile: Option<&Profile>, accelerator: &str, model: &str) -> Map {
    let Some(profile) = profile else {
        return Map::new();
    };
    let mut cpu = Map::new();
    cpu.insert("name", model);
    let mut arguments = Map::new();
    arguments.insert("type", "full");
    arguments.insert("model", Value::Object(cpu));
    match profile.answer(accelerator, "query-cpu-model-expansion", &arguments) {
        Some(Recorded::Return(value)) => value
            .get("model")
            .and_then(|m| m.get("props"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        _ => Map::new(),
    }
}

impl Hardware {
    /// Builds the machine `spec` describes, checked against `profile`;
    /// the error is QEMU's text for what cannot be built.
    pub fn build(spec: &HardwareSpec, profile: Option<Arc<Profile>>) -> Result<Hardware, String> {
        let accelerator = spec.accelerator().to_owned();
        let asked = spec.machine_type.as_deref().unwrap_or("none");
        let machine = machine_type(profile.as_deref(), &accelerator, asked)?;
        let smp = spec.smp.unwrap_or_default();
        let is_none = machine.name == "none";
        if smp.maxcpus > machine.cpu_max {
            return Err(format!(
                "Invalid SMP CPUs {}. The max CPUs supported by machine '{}' is {}",
                smp.maxcpus, machine.name, machine.cpu_max
            ));
        }
        let cpu_type = match (&spec.cpu_model, &machine.default_cpu_type) {
            (Some(model), _) => Some(format!("{model}-x86_64-cpu")),
            (None, Some(default)) if !is_none => Some(default.clone()),
            _ => None,
        };
        if let (Some(cpu_type), Some(p)) = (&cpu_type, &profile) {
            if !p.has_type(cpu_type) {
                let model = cpu_type.trim_end_matches("-x86_64-cpu");
                return Err(format!("unable to find CPU model '{model}'"));
            }
        }
        let hardware = Hardware::assemble(machine, cpu_type, spec, profile);
        for object in &spec.objects {
            hardware.add_object(object).map_err(|e| {
                let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
                format!("-object id={id}: {}", e.desc)
            })?;
        }
        for device in &spec.devices {
            hardware.inner.devices.plug(device, false).map_err(|e| {
                let driver = device
                    .get("driver")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("-device {driver}: {}", e.desc)
            })?;
        }
        Ok(hardware)
    }

    /// A machine of type `none` with nothing in it.
    pub fn none() -> Hardware {
        Hardware::assemble(MachineType::none(), None, &HardwareSpec::default(), None)
    }

    /// The machine of type `machine` with vCPUs of `cpu_type`, as `spec`
    /// has it, before its objects and devices (all checked already).
    fn assemble(
        machine: MachineType,
        cpu_type: Option<String>,
        spec: &HardwareSpec,
        profile: Option<Arc<Profile>>,
    ) -> Hardware {
        let accelerator = spec.accelerator().to_owned();
        let smp = spec.smp.unwrap_or_default();
        let is_none = machine.name == "none";
        let qom = Qom::new(
            &format!("{}-machine", machine.name),
            profile.clone(),
            &accelerator,
        );
        let devices = Devices::new(&qom);
        let cpus = match (&cpu_type, is_none) {
            (None, _) => 0,
            (Some(_), true) => 1,
            (Some(_), false) => smp.cpus,
        };
        let mut vcpus = Vec::new();
        if let Some(cpu_type) = &cpu_type {
            let model = cpu_type.trim_end_matches("-x86_64-cpu");
            let values = cpu_values(profile.as_deref(), &accelerator, model);
            for index in 0..cpus {
                let qom_path = qom.next_unattached();
                if index == 0 && !is_none {
                    // QEMU's next unattached object after the first vCPU.
                    qom.skip_unattached(1);
                }
                let mut object_values = values.clone();
                object_values.insert("realized", true);
                object_values.insert("hotplugged", false);
                object_values.insert("hotpluggable", !is_none);
                object_values.insert("unavailable-features", Value::Array(Vec::new()));
                object_values.insert("filtered-features", Value::Array(Vec::new()));
                qom.insert(&qom_path, cpu_type, &object_values);
                vcpus.push(Vcpu {
                    index,
                    thread: IdleThread::spawn(&vcpu_thread_name(
                        index,
                        &accelerator,
                        spec.debug_threads,
                    )),
                    qom_path,
                    props: topology_props(&smp, index),
                });
            }
        }
        let target = profile
            .as_deref()
            .and_then(|p| p.value(&accelerator, "query-target"))
            .and_then(|t| t.get("arch"))
            .and_then(Value::as_str)
            .unwrap_or("x86_64")
            .to_owned();
        let migration_capabilities = profile
            .as_deref()
            .and_then(|p| p.value(&accelerator, "query-migrate-capabilities"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| {
                        Some((
                            c.get("capability")?.as_str()?.to_owned(),
                            c.get("state")?.as_bool()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ram_bytes = spec.ram_bytes.unwrap_or(DEFAULT_RAM_BYTES);
        Hardware {
            inner: Arc::new(Inner {
                machine,
                cpu_type,
                smp,
                ram_bytes,
                uuid: spec.uuid.clone().unwrap_or_else(|| ZERO_UUID.into()),
                target,
                vcpus,
                iothreads: Shared::new(Vec::new()),
                chardevs: spec.chardevs.clone(),
                qom,
                devices,
                debug_threads: spec.debug_threads,
            }),
            migration_capabilities: Shared::new(migration_capabilities),
        }
    }

    /// The QOM tree.
    pub fn qom(&self) -> &Qom {
        &self.inner.qom
    }

    /// The devices.
    pub fn devices(&self) -> &Devices {
        &self.inner.devices
    }

    /// The thread ids of the vCPUs, in vCPU order.
    pub fn vcpu_thread_ids(&self) -> Vec<i64> {
        self.inner.vcpus.iter().map(|v| v.thread.tid()).collect()
    }

    /// True when the machine has ACPI (any machine type but `none`).
    pub fn has_firmware(&self) -> bool {
        self.inner.machine.name != "none"
    }

    /// `-object` and `object-add`: the object, and an iothread's thread.
    fn add_object(&self, arguments: &Map) -> CommandResult {
        self.inner.qom.object_add(arguments)?;
        if arguments.get("qom-type").and_then(Value::as_str) == Some("iothread") {
            let id = arguments
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let thread = IdleThread::spawn(&iothread_name(&id, self.inner.debug_threads));
            self.inner
                .iothreads
                .with(|list| list.push(Iothread { id, thread }));
        }
        ok_empty()
    }

    /// The commands of the modelled hardware (QOM and devices included).
    pub fn commands(&self) -> Vec<CommandEntry> {
        let mut list = self.inner.qom.commands();
        list.extend(self.inner.devices.commands());
        list.extend([
            sync_entry(self, "object-add", |h, call| h.add_object(&call.arguments)),
            sync_entry(self, "object-del", |h, call| {
                let id = crate::machine::string_arg(&call, "id");
                h.inner.qom.object_del(id)?;
                h.inner.iothreads.with(|list| list.retain(|t| t.id != id));
                ok_empty()
            }),
            sync_entry(self, "query-cpus-fast", |h, _| {
                Ok(Reply::Value(h.cpus_fast()))
            }),
            sync_entry(self, "query-hotpluggable-cpus", |h, _| {
                h.hotpluggable_cpus()
            }),
            sync_entry(self, "query-balloon", |h, _| {
                h.balloon_device()?;
                let mut info = Map::new();
                info.insert("actual", h.inner.ram_bytes);
                Ok(Reply::Value(Value::Object(info)))
            }),
            // No guest acts on a new target, so `actual` stays (as on a
            // guest-less QEMU).
            sync_entry(self, "balloon", |h, _| {
                h.balloon_device()?;
                ok_empty()
            }),
            sync_entry(self, "query-memdev", |h, _| Ok(Reply::Value(h.memdevs()))),
            sync_entry(self, "query-iothreads", |h, _| {
                Ok(Reply::Value(h.iothreads()))
            }),
            sync_entry(self, "query-chardev", |h, _| Ok(Reply::Value(h.chardevs()))),
            sync_entry(self, "query-uuid", |h, _| {
                let mut info = Map::new();
                info.insert("UUID", h.inner.uuid.as_str());
                Ok(Reply::Value(Value::Object(info)))
            }),
            sync_entry(self, "query-migrate-capabilities", |h, _| {
                let list = h.migration_capabilities.with(|list| list.clone());
                let list = list
                    .into_iter()
                    .map(|(name, state)| {
                        let mut c = Map::new();
                        c.insert("capability", name);
                        c.insert("state", state);
                        Value::Object(c)
                    })
                    .collect();
                Ok(Reply::Value(Value::Array(list)))
            }),
            sync_entry(self, "migrate-set-capabilities", |h, call| {
                let asked = call.arguments.get("capabilities").and_then(Value::as_array);
                h.migration_capabilities.with(|capabilities| {
                    for c in asked.into_iter().flatten() {
                        let (Some(name), Some(state)) = (
                            c.get("capability").and_then(Value::as_str),
                            c.get("state").and_then(Value::as_bool),
                        ) else {
                            continue;
                        };
                        match capabilities.iter_mut().find(|(n, _)| n == name) {
                            Some(slot) => slot.1 = state,
                            None => capabilities.push((name.to_owned(), state)),
                        }
                    }
                });
                ok_empty()
            }),
        ]);
        list
    }

    fn balloon_device(&self) -> Result<(), QmpError> {
        if self.inner.devices.with_driver("virtio-balloon").is_empty() {
            return Err(QmpError::new(
                ErrorClass::DeviceNotActive,
                "No balloon device has been activated",
            ));
        }
        Ok(())
    }

    fn cpus_fast(&self) -> Value {
        let list = self
            .inner
            .vcpus
            .iter()
            .map(|v| {
                let mut cpu = Map::new();
                cpu.insert("thread-id", v.thread.tid());
                cpu.insert("props", Value::Object(v.props.clone()));
                cpu.insert("qom-path", v.qom_path.as_str());
                cpu.insert("cpu-index", i64::from(v.index));
                cpu.insert("target", self.inner.target.as_str());
                Value::Object(cpu)
            })
            .collect();
        Value::Array(list)
    }

    fn hotpluggable_cpus(&self) -> CommandResult {
        let inner = &self.inner;
        let Some(cpu_type) = inner
            .cpu_type
            .as_deref()
            .filter(|_| inner.machine.hotpluggable_cpus)
        else {
            return Err(QmpError::generic(
                "The feature 'query-hotpluggable-cpus' is not enabled",
            ));
        };
        let present: BTreeMap<u32, &Vcpu> = inner.vcpus.iter().map(|v| (v.index, v)).collect();
        let list = (0..inner.smp.maxcpus)
            .rev()
            .map(|index| {
                let mut cpu = Map::new();
                cpu.insert("props", Value::Object(topology_props(&inner.smp, index)));
                cpu.insert("vcpus-count", 1);
                if let Some(vcpu) = present.get(&index) {
                    cpu.insert("qom-path", vcpu.qom_path.as_str());
                }
                cpu.insert("type", cpu_type);
                Value::Object(cpu)
            })
            .collect();
        Ok(Reply::Value(Value::Array(list)))
    }

    fn memdevs(&self) -> Value {
        let qom = &self.inner.qom;
        let list = qom
            .paths_of_type("memory-backend-")
            .into_iter()
            .filter(|(path, _)| path.starts_with(crate::qom::OBJECTS))
            .map(|(path, _)| {
                let get = |name: &str, default: Value| qom.property(&path, name).unwrap_or(default);
                let mut m = Map::new();
                m.insert("id", path.trim_start_matches(crate::qom::OBJECTS));
                m.insert("size", get("size", Value::Int(0)));
                m.insert("merge", get("merge", true.into()));
                m.insert("dump", get("dump", true.into()));
                m.insert("prealloc", get("prealloc", false.into()));
                m.insert("share", get("share", false.into()));
                m.insert("reserve", get("reserve", true.into()));
                m.insert("host-nodes", get("host-nodes", Value::Array(Vec::new())));
                m.insert("policy", get("policy", "default".into()));
                Value::Object(m)
            })
            .collect();
        Value::Array(list)
    }

    fn iothreads(&self) -> Value {
        let list = self.inner.iothreads.with(|list| {
            list.iter()
                .map(|t| {
                    let path = format!("{}{}", crate::qom::OBJECTS, t.id);
                    let get = |name: &str, default: i64| {
                        self.inner
                            .qom
                            .property(&path, name)
                            .unwrap_or(Value::Int(default))
                    };
                    let mut m = Map::new();
                    m.insert("id", t.id.as_str());
                    m.insert("thread-id", t.thread.tid());
                    m.insert("poll-max-ns", get("poll-max-ns", 32768));
                    m.insert("poll-grow", get("poll-grow", 0));
                    m.insert("poll-shrink", get("poll-shrink", 0));
                    m.insert("aio-max-batch", get("aio-max-batch", 0));
                    Value::Object(m)
                })
                .collect::<Vec<_>>()
        });
        Value::Array(list)
    }

    fn chardevs(&self) -> Value {
        let list = self
            .inner
            .chardevs
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("frontend-open", c.frontend_open);
                m.insert("filename", c.filename.as_str());
                m.insert("label", c.label.as_str());
                Value::Object(m)
            })
            .collect();
        Value::Array(list)
    }
}
