//! The panic handler for wasm32: a panic reverts the run with
//! `panicked at <file>:<line>:<column>: <message>`.

use crate::msg::MsgBuf;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = MsgBuf::<1024>::new();
    m.push_str("panicked at ");
    if let Some(loc) = info.location() {
        m.push_str(loc.file())
            .push_str(":")
            .push_u32(loc.line())
            .push_str(":")
            .push_u32(loc.column());
    }
    m.push_str(": ");
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
