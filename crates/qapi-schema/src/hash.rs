//! The crate's one hash function, FNV-1a: the hasher of its maps (keyed by
//! short names and source positions, where it beats SipHash) and the hash
//! of C names in clash checks.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a's 64-bit offset basis: the hash of no bytes.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a's 64-bit prime.
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a as a [`Hasher`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(OFFSET_BASIS)
    }
}

impl Fnv {
    /// The state after one more byte.
    fn byte(self, b: u8) -> Self {
        Fnv((self.0 ^ u64::from(b)).wrapping_mul(PRIME))
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        *self = bytes.iter().fold(*self, |h, &b| h.byte(b));
    }
}

/// The FNV-1a hash of a byte sequence.
pub(crate) fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(Fnv::default(), Fnv::byte).0
}

/// A hash map with the FNV-1a hasher.
pub(crate) type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// A hash map keyed by names.
pub(crate) type NameMap<V> = FnvMap<String, V>;
