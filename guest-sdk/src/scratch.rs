//! One reusable buffer for encoding and decoding (input, output, storage
//! values, event data), so that contracts need no allocator.
//!
//! The buffer is taken as a guard rather than through a closure: a generic
//! closure-taking helper would be copied into the contract once per call
//! site, which costs kilobytes.

/// Size of the scratch buffer: the default profile's largest input, output
/// and storage value (64 KiB each). A value larger than this cannot be read
/// through the typed API.
pub const SCRATCH_BYTES: usize = 64 * 1024;

/// The revert message when an input, output, storage value or event data
/// does not fit in the scratch buffer (one text for all: each costs bytes in
/// every contract).
pub(crate) const TOO_LARGE: &str = "verity-sdk: value exceeds the 64 KiB scratch buffer";

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::SCRATCH_BYTES;
    use core::cell::{Cell, UnsafeCell};

    struct Scratch {
        busy: Cell<bool>,
        buf: UnsafeCell<[u8; SCRATCH_BYTES]>,
    }

    // SAFETY: wasm32-unknown-unknown without the `atomics` target feature
    // (which the Verity profile refuses: threads are off) has exactly one
    // thread, so the static is never accessed concurrently.
    #[cfg(not(target_feature = "atomics"))]
    unsafe impl Sync for Scratch {}

    // Zero-initialised: lives in .bss, costs no bytes in the module.
    static SCRATCH: Scratch = Scratch {
        busy: Cell::new(false),
        buf: UnsafeCell::new([0; SCRATCH_BYTES]),
    };

    /// Exclusive use of the scratch buffer until dropped.
    pub(crate) struct Guard(&'static mut [u8; SCRATCH_BYTES]);

    impl Guard {
        pub(crate) fn take() -> Guard {
            if SCRATCH.busy.replace(true) {
                crate::host::abort(b"verity-sdk: scratch buffer re-entered");
            }
            // SAFETY: `busy` was false and is now true until this guard is
            // dropped, so no other reference to the buffer exists;
            // single-threaded (see the Sync impl).
            Guard(unsafe { &mut *SCRATCH.buf.get() })
        }
        pub(crate) fn buf(&mut self) -> &mut [u8] {
            &mut self.0[..]
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            SCRATCH.busy.set(false);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::SCRATCH_BYTES;
    use std::vec::Vec;

    /// A fresh buffer per use (tests run on many threads).
    pub(crate) struct Guard(Vec<u8>);

    impl Guard {
        pub(crate) fn take() -> Guard {
            Guard(std::vec![0u8; SCRATCH_BYTES])
        }
        pub(crate) fn buf(&mut self) -> &mut [u8] {
            &mut self.0
        }
    }
}

pub(crate) use imp::Guard;

#[cfg(test)]
mod tests {
    #[test]
    fn the_scratch_buffer_holds_the_largest_default_input_output_and_value() {
        let l = verity_host_abi::Limits::default();
        for (name, v) in [
            ("max_input_bytes", l.max_input_bytes),
            ("max_output_bytes", l.max_output_bytes),
            ("max_value_bytes", l.max_value_bytes),
        ] {
            assert!(v as usize <= super::SCRATCH_BYTES, "{name} = {v}");
        }
    }
}
