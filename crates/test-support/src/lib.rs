//! Test support for qmp-rs, by job:
//!
//! * [`prereq`]: the shared reference data (`QMP_SHARED`), the real QEMU,
//!   qemu-ga and Python's qemu.qmp, and the policy for a missing one:
//!   without `QMP_TEST_STRICT=1` the test prints why and returns early (a
//!   skip); with it, the test fails;
//! * [`fixtures`]: QEMU's full schemas, the options every test QEMU runs
//!   with, private temporary folders, TLS certificates;
//! * [`process`]: the programs tests start (QEMU, `qmp fake-qemu`, qemu-ga,
//!   any child), killed and cleaned up on drop;
//! * [`socket`]: sending file descriptors with SCM_RIGHTS;
//! * [`checkers`]: the conformance kit's `compare.py` and Python scripts
//!   run against a server.
//!
//! It parses nothing and knows no protocol.
//!
//! ```no_run
//! let Some(transcripts) = qmp_test_support::shared_path("conformance/transcripts") else {
//!     return; // skipped, with the reason printed
//! };
//! ```

pub mod checkers;
pub mod fixtures;
pub mod prereq;
pub mod process;
pub mod socket;

pub use fixtures::{
    qemu_10_0_schema_and_dump, qemu_command, temp_dir, tls_certificates, FULL_SCHEMAS,
    QEMU_HEADLESS, QEMU_NO_MACHINE,
};
pub use prereq::{
    find_program, program, python_with_qemu_qmp, qemu_ga, qemu_system, shared_dir, shared_path,
    skip, strict, workspace_root, SHARED_ENV, STRICT_ENV,
};
pub use process::TestProcess;
pub use socket::send_with_fds;
