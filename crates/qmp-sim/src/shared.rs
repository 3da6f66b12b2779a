//! State shared by a simulated component's command handlers.

use std::sync::{Arc, Mutex};

/// A component's state behind one lock; cloning shares it.
pub(crate) struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Shared<T> {
        Shared(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for Shared<T> {
    fn default() -> Shared<T> {
        Shared::new(T::default())
    }
}

impl<T> Shared<T> {
    /// Shares `state`.
    pub(crate) fn new(state: T) -> Shared<T> {
        Shared(Arc::new(Mutex::new(state)))
    }

    /// Runs `f` with the state locked (a panic elsewhere does not poison it
    /// for the simulator).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}
