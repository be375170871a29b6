//! Arbitrary bytes as a `verity.spec` section: decoding fails cleanly or
//! round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verity_host_abi::spec::ContractSpec;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(spec) = ContractSpec::decode(bytes) {
        assert_eq!(ContractSpec::decode(&spec.encode()), Ok(spec));
    }
});
