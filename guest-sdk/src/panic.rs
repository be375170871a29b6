//! The panic handler for wasm32: a panic reverts the run with
//! `panicked at <file>:<line>:<column>: <message>` (the start written by
//! [`push_panic_location!`](crate::msg::push_panic_location), as in
//! `TestEnv`).

use crate::msg::{MsgBuf, PANIC_MESSAGE_BYTES, push_panic_location};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = MsgBuf::<PANIC_MESSAGE_BYTES>::new();
    push_panic_location!(m, info.location());
    let message = info.message();
    match message.as_str() {
        Some(s) => {
            m.push_str(s);
        }
        None => {
            #[cfg(feature = "panic-fmt")]
            {
                let _ = core::fmt::Write::write_fmt(&mut m, format_args!("{message}"));
            }
            #[cfg(not(feature = "panic-fmt"))]
            m.push_str(crate::msg::FORMATTED_PANIC_PLACEHOLDER);
        }
    }
    crate::host::abort(m.as_bytes())
}
