//! Typed event data the tests subscribe to.

use qmp_client::EventData;
use serde::Deserialize;

/// `DEVICE_DELETED`'s data.
#[derive(Debug, Deserialize)]
pub struct DeviceDeleted {
    pub device: Option<String>,
    pub path: String,
}

impl EventData for DeviceDeleted {
    const NAME: &'static str = "DEVICE_DELETED";
}

/// `RESUME` (no data).
#[derive(Debug, Deserialize)]
pub struct Resume {}

impl EventData for Resume {
    const NAME: &'static str = "RESUME";
}
