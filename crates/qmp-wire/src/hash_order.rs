//! QEMU's member order: the iteration order of its `QDict` hash table, which
//! decides both the order of members in QEMU's output and which member of a
//! request QEMU checks first.
//!
//! A `QDict` has 512 buckets; iteration walks buckets in order and, inside
//! a bucket, goes from the most recently inserted key to the oldest. The
//! bucket of a key comes from the `tdb_hash` function over the key's bytes
//! as QEMU stores them (modified UTF-8: U+0000 is C0 80).

use crate::Map;

/// Number of buckets in a QEMU `QDict`.
pub const QDICT_BUCKETS: u32 = 512;

/// The `QDict` bucket QEMU puts `key` in.
pub fn qdict_bucket(key: &str) -> u32 {
    let mut stored = [0u8; 4];
    let mut len: u32 = 0;
    let mut hash: u32 = 0;
    let mut index: u32 = 0;
    for c in key.chars() {
        let bytes: &[u8] = if c == '\0' {
            &[0xC0, 0x80]
        } else {
            c.encode_utf8(&mut stored).as_bytes()
        };
        for &b in bytes {
            hash = hash.wrapping_add(u32::from(b) << (index * 5 % 24));
            index += 1;
            len += 1;
        }
    }
    let hash = hash.wrapping_add(0x238F_13AFu32.wrapping_mul(len));
    1_103_515_243u32.wrapping_mul(hash).wrapping_add(12345) % QDICT_BUCKETS
}

/// The indices of `map`'s members in the order QEMU iterates them, given
/// that QEMU inserted them in `map`'s order.
pub fn qemu_member_order(map: &Map) -> Vec<usize> {
    let mut order: Vec<(u32, usize)> = map
        .keys()
        .enumerate()
        .map(|(i, key)| (qdict_bucket(key), i))
        .collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_qemu() {
        let known = [
            ("timestamp", 26),
            ("seconds", 5),
            ("QMP", 99),
            ("exec-oob", 162),
            ("version", 184),
            ("capabilities", 216),
            ("class", 211),
            ("status", 202),
            ("singlestep", 202),
            ("minor", 225),
            ("micro", 225),
            ("qemu", 232),
            ("running", 246),
            ("execute", 299),
            ("package", 326),
            ("event", 361),
            ("microseconds", 374),
            ("desc", 377),
            ("return", 401),
            ("reason", 401),
            ("guest", 223),
            ("arguments", 447),
            ("major", 481),
            ("id", 486),
            ("error", 489),
            ("data", 505),
            ("extra", 41),
        ];
        for (key, bucket) in known {
            assert_eq!(qdict_bucket(key), bucket, "{key}");
        }
    }

    #[test]
    fn same_bucket_goes_newest_first() {
        // status and singlestep share bucket 202; QEMU's query-status reply
        // inserts running, singlestep, status and prints status first.
        let map: Map = [("running", true), ("singlestep", false)]
            .into_iter()
            .chain([("status", true)])
            .collect();
        let keys: Vec<_> = qemu_member_order(&map)
            .into_iter()
            .map(|i| map.as_slice()[i].0.as_str())
            .collect();
        assert_eq!(keys, ["status", "singlestep", "running"]);
    }
}
