//! The code hashes of recently run modules, found again by comparing bytes
//! instead of hashing them again.
//!
//! [`Runtime::execute`](crate::Runtime::execute) takes a module's bytes and
//! must name its SHA-256 in the receipt. Hashing an 8 KiB contract costs
//! about as much as running a token transfer; comparing it with the bytes
//! of a module run a moment ago costs a `memcmp`. Equal bytes have equal
//! hashes, so a hit is exact: no fingerprint, no collision to reason about.

use std::collections::VecDeque;
use std::sync::Mutex;

use verity_host_abi::Hash32;

/// Modules remembered.
const ENTRIES: usize = 16;
/// Larger modules are always hashed: remembering them would cost more
/// memory than the hash costs time.
const MAX_CODE_BYTES: usize = 1 << 20;

/// A most-recently-used list of (module bytes, their SHA-256), holding at
/// most `ENTRIES * MAX_CODE_BYTES` bytes.
#[derive(Default)]
pub(crate) struct RecentCode {
    entries: Mutex<VecDeque<(Box<[u8]>, Hash32)>>,
}

impl RecentCode {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Box<[u8]>, Hash32)>> {
        // Every update leaves the list valid, so a poisoned lock is usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// SHA-256 of `code`.
    pub(crate) fn hash(&self, code: &[u8]) -> Hash32 {
        if code.len() > MAX_CODE_BYTES {
            return Hash32::of(code);
        }
        if let Some(hash) = self.find(code) {
            return hash;
        }
        let hash = Hash32::of(code);
        let mut entries = self.lock();
        // Another thread may have added it meanwhile.
        if !entries.iter().any(|(bytes, _)| **bytes == *code) {
            entries.push_front((code.into(), hash));
            entries.truncate(ENTRIES);
        }
        hash
    }

    /// The remembered hash of exactly these bytes, moved to the front.
    fn find(&self, code: &[u8]) -> Option<Hash32> {
        let mut entries = self.lock();
        // Slice equality compares lengths first, then the bytes.
        let i = entries.iter().position(|(bytes, _)| **bytes == *code)?;
        let entry = entries.remove(i)?;
        let hash = entry.1;
        entries.push_front(entry);
        Some(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_the_sha256_of_the_bytes_given() {
        let recent = RecentCode::default();
        // Modules of one length that differ only in their last byte, more
        // of them than are remembered, asked for in an order that makes
        // both hits and evictions happen.
        let codes: Vec<Vec<u8>> = (0..=40u8)
            .map(|i| {
                let mut code = vec![7u8; 4096];
                code[4095] = i;
                code
            })
            .collect();
        for round in 0..3 {
            for (i, code) in codes.iter().enumerate() {
                let code = if (i + round) % 3 == 0 {
                    &codes[0]
                } else {
                    code
                };
                assert_eq!(recent.hash(code), Hash32::of(code), "module {i}");
            }
        }
        let recent_len = recent.lock().len();
        assert_eq!(recent_len, ENTRIES, "the list is bounded");
        // A prefix of a remembered module is another module.
        assert_eq!(recent.hash(&codes[5][..100]), Hash32::of(&codes[5][..100]));
        assert_eq!(recent.hash(&[]), Hash32::of(&[]));
        // Too large to remember, still hashed right.
        let big = vec![1u8; MAX_CODE_BYTES + 1];
        assert_eq!(recent.hash(&big), Hash32::of(&big));
        assert!(recent.lock().iter().all(|(b, _)| b.len() <= MAX_CODE_BYTES));
    }

    #[test]
    fn a_module_run_again_is_found_without_hashing() {
        let recent = RecentCode::default();
        let code = b"\0asm\x01\0\0\0".to_vec();
        let hash = recent.hash(&code);
        assert_eq!(recent.find(&code), Some(hash));
        assert_eq!(recent.find(b"\0asm\x01\0\0\x01"), None);
    }
}
