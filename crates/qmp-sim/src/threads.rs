//! The machine's threads: each vCPU and each iothread is a real, idle
//! thread of this process (named as QEMU names it with
//! `debug-threads=on`), so that the thread ids `query-cpus-fast` and
//! `query-iothreads` report are live, and management software can pin
//! them or move them between cgroups as it does with QEMU's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

/// One idle thread; stopped and joined when dropped.
pub struct IdleThread {
    tid: i64,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for IdleThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleThread")
            .field("tid", &self.tid)
            .finish()
    }
}

impl IdleThread {
    /// Starts a thread named `name` (the kernel keeps 15 bytes of it) that
    /// does nothing until dropped. The thread id is 0 should the thread
    /// not start.
    pub fn spawn(name: &str) -> IdleThread {
        let stop = Arc::new(AtomicBool::new(false));
        let (tid_tx, tid_rx) = mpsc::channel();
        let stopping = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                let tid = i64::from(unsafe { libc::gettid() });
                let _ = tid_tx.send(tid);
                while !stopping.load(Ordering::Acquire) {
                    std::thread::park();
                }
            });
        match handle {
            Ok(handle) => IdleThread {
                tid: tid_rx.recv().unwrap_or(0),
                stop,
                handle: Some(handle),
            },
            Err(error) => {
                tracing::warn!("cannot start thread {name}: {error}");
                IdleThread {
                    tid: 0,
                    stop,
                    handle: None,
                }
            }
        }
    }

    /// The kernel's id of the thread (what QEMU reports as `thread-id`).
    pub fn tid(&self) -> i64 {
        self.tid
    }
}

impl Drop for IdleThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// QEMU's name for vCPU `index`'s thread under `accelerator`.
pub fn vcpu_thread_name(index: u32, accelerator: &str, debug_threads: bool) -> String {
    if debug_threads {
        format!("CPU {index}/{}", accelerator.to_ascii_uppercase())
    } else {
        "qemu-system-x86".to_owned()
    }
}

/// QEMU's name for iothread `id`'s thread.
pub fn iothread_name(id: &str, debug_threads: bool) -> String {
    if debug_threads {
        format!("IO {id}")
    } else {
        "qemu-system-x86".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_threads_are_live_threads_of_this_process() {
        let thread = IdleThread::spawn("CPU 0/TCG");
        let tid = thread.tid();
        assert!(tid > 0);
        let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap();
        assert_eq!(comm.trim(), "CPU 0/TCG");
        drop(thread);
        assert!(!std::path::Path::new(&format!("/proc/self/task/{tid}")).exists());
    }
}
