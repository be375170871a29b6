//! A fixed-capacity message buffer that needs neither `alloc` nor `core::fmt`
//! (both cost kilobytes of code in a contract).

/// What a panic whose message is formatted (not a string literal) reverts
/// with when the `panic-fmt` feature is off: on wasm and, so that native
/// tests see exactly what the contract will say, in `TestEnv` too.
/// `Option::expect("...")`, `Result::unwrap()` and `assert_eq!` format
/// their messages; `panic!("literal")` and `Option::unwrap()` do not.
#[cfg(any(not(target_arch = "wasm32"), not(feature = "panic-fmt")))]
pub(crate) const FORMATTED_PANIC_PLACEHOLDER: &str =
    "<formatted message; enable verity-sdk feature `panic-fmt` to keep it>";

/// Up to `N` bytes of UTF-8 text; longer text is cut at a character boundary.
pub(crate) struct MsgBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> MsgBuf<N> {
    pub(crate) const fn new() -> Self {
        MsgBuf {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) -> &mut Self {
        let mut take = s.len().min(N - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.push_bytes(s.as_bytes().get(..take).unwrap_or_default())
    }

    /// Appends bytes that fit (callers pass whole UTF-8 sequences). Written
    /// with `get` so no bounds-check panic (and its formatting code) is
    /// linked into contracts.
    fn push_bytes(&mut self, b: &[u8]) -> &mut Self {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + b.len()) {
            dst.copy_from_slice(b);
            self.len += b.len();
        }
        self
    }

    pub(crate) fn push_u32(&mut self, mut v: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        while i > 0 {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        // ASCII digits: each byte is a whole UTF-8 character.
        let digits = digits.get(i..).unwrap_or_default();
        let fit = digits.len().min(N - self.len);
        self.push_bytes(digits.get(..fit).unwrap_or_default())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Longest panic message a contract reverts with, in bytes.
pub(crate) const PANIC_MESSAGE_BYTES: usize = 1024;

/// Writes the start of a panic's revert message, on wasm and in `TestEnv`
/// alike, into a `MsgBuf<PANIC_MESSAGE_BYTES>`:
/// `panicked at <file>:<line>:<column>: `; the panic's message follows, and
/// all of it is cut at [`PANIC_MESSAGE_BYTES`].
///
/// A macro rather than a function: expanded in the panic handler, it
/// compiles to exactly the code the handler had when it was written out, so
/// the fixture contracts' bytes (and the receipts naming them) stay as
/// they are.
macro_rules! push_panic_location {
    ($m:expr, $location:expr) => {
        $m.push_str("panicked at ");
        if let Some(loc) = $location {
            $m.push_str(loc.file())
                .push_str(":")
                .push_u32(loc.line())
                .push_str(":")
                .push_u32(loc.column());
        }
        $m.push_str(": ");
    };
}
pub(crate) use push_panic_location;

#[cfg(feature = "panic-fmt")]
impl<const N: usize> core::fmt::Write for MsgBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::MsgBuf;

    #[test]
    fn numbers_and_text_concatenate_and_overflow_is_cut_on_a_char_boundary() {
        let mut m = MsgBuf::<16>::new();
        m.push_str("error ").push_u32(4_294_967_295).push_str(": é");
        assert_eq!(m.as_bytes(), "error 4294967295".as_bytes());
        let mut m = MsgBuf::<8>::new();
        m.push_str("x").push_u32(0).push_str("aéééé");
        assert_eq!(core::str::from_utf8(m.as_bytes()).unwrap(), "x0aéé");
    }
}
