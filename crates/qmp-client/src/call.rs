//! Options for one call, every one combinable with the others: a
//! deadline, descriptors to pass, and the band (in band with `execute`,
//! out of band with `exec-oob`). The band is part of the type, so that a
//! typed out-of-band call compiles only for a command that allows it.

use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::time::Duration;

use qmp_wire::{Command, OobCommand};

/// Options for one call: build with [`CallOptions::new`], then
/// [`timeout`](CallOptions::timeout), [`fd`](CallOptions::fd) /
/// [`fds`](CallOptions::fds) and [`out_of_band`](CallOptions::out_of_band)
/// in any combination.
///
/// A typed out-of-band call compiles only for a command whose type
/// implements [`OobCommand`] (generated for every command the schema marks
/// `allow-oob`):
///
/// ```compile_fail
/// # async fn demo(client: qmp_client::Client) -> qmp_client::Result<()> {
/// #[derive(serde::Serialize)]
/// struct QueryStatus {}
/// impl qmp_client::Command for QueryStatus {
///     const NAME: &'static str = "query-status";
///     type Returns = qmp_client::Value;
/// }
/// // error: `QueryStatus` does not implement `OobCommand`
/// client.call_oob(&QueryStatus {}).await?;
/// # Ok(()) }
/// ```
///
/// while one that allows it does:
///
/// ```no_run
/// # async fn demo(client: qmp_client::Client) -> qmp_client::Result<()> {
/// # use std::time::Duration;
/// use qmp_client::CallOptions;
/// #[derive(serde::Serialize)]
/// struct MigratePause {}
/// impl qmp_client::Command for MigratePause {
///     const NAME: &'static str = "migrate-pause";
///     const ALLOW_OOB: bool = true;
///     type Returns = qmp_wire::Empty;
/// }
/// impl qmp_client::OobCommand for MigratePause {}
/// client.call_oob(&MigratePause {}).await?;
/// let options = CallOptions::new().out_of_band().timeout(Duration::from_secs(1));
/// client.call_with(&MigratePause {}, options).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CallOptions<B = InBand> {
    pub(crate) timeout: Option<Duration>,
    pub(crate) fds: Vec<OwnedFd>,
    band: PhantomData<B>,
}

/// Calls sent with `execute` (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InBand;

/// Calls sent with `exec-oob` (the connection needs the `oob` capability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutOfBand;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::InBand {}
    impl Sealed for super::OutOfBand {}
}

/// How a call is sent: [`InBand`] or [`OutOfBand`].
pub trait Band: sealed::Sealed + Send + 'static {
    /// True for `exec-oob`.
    const OUT_OF_BAND: bool;
}

impl Band for InBand {
    const OUT_OF_BAND: bool = false;
}

impl Band for OutOfBand {
    const OUT_OF_BAND: bool = true;
}

/// Typed commands that may be sent in band `B`: every command in band,
/// only an [`OobCommand`] out of band.
pub trait CallableIn<B: Band>: Command {}

impl<C: Command> CallableIn<InBand> for C {}
impl<C: OobCommand> CallableIn<OutOfBand> for C {}

impl Default for CallOptions<InBand> {
    fn default() -> CallOptions<InBand> {
        CallOptions::new()
    }
}

impl CallOptions<InBand> {
    /// In band, no deadline of its own (the configured one applies), no
    /// descriptors.
    pub fn new() -> CallOptions<InBand> {
        CallOptions {
            timeout: None,
            fds: Vec::new(),
            band: PhantomData,
        }
    }

    /// The same options, sent out of band (`exec-oob`).
    pub fn out_of_band(self) -> CallOptions<OutOfBand> {
        CallOptions {
            timeout: self.timeout,
            fds: self.fds,
            band: PhantomData,
        }
    }
}

impl<B: Band> CallOptions<B> {
    /// Time allowed for the reply; overrides
    /// [`ClientConfig::command_timeouts`](crate::ClientConfig::command_timeouts)
    /// and [`ClientConfig::call_timeout`](crate::ClientConfig::call_timeout).
    pub fn timeout(mut self, timeout: Duration) -> CallOptions<B> {
        self.timeout = Some(timeout);
        self
    }

    /// Passes `fd` along with the request (SCM_RIGHTS, unix sockets only),
    /// as `getfd` and `add-fd` expect.
    pub fn fd(mut self, fd: OwnedFd) -> CallOptions<B> {
        self.fds.push(fd);
        self
    }

    /// Passes these descriptors along with the request (at most
    /// [`MAX_FDS_PER_MESSAGE`](crate::MAX_FDS_PER_MESSAGE)).
    pub fn fds(mut self, fds: impl IntoIterator<Item = OwnedFd>) -> CallOptions<B> {
        self.fds.extend(fds);
        self
    }

    /// The deadline asked for, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.timeout
    }

    /// True when the call goes out of band.
    pub fn is_out_of_band(&self) -> bool {
        B::OUT_OF_BAND
    }
}
