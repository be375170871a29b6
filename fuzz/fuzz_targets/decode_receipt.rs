//! Arbitrary bytes as a receipt, binary or JSON: decoding either fails
//! cleanly or yields a receipt that re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verity_host_abi::Receipt;
use verity_host_abi::json::ReceiptJson;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(r) = Receipt::decode(bytes) {
        assert_eq!(r.encode(), bytes, "decode accepted a non-canonical encoding");
    }
    if let Ok(json) = serde_json::from_slice::<ReceiptJson>(bytes) {
        let _ = json.into_receipt();
    }
});
