//! The peer protocol decoder over arbitrary bytes: `decode_peer` must refuse anything
//! malformed with a typed error (never panic); whatever it accepts must re-encode to bytes
//! that decode to the same message.
#![no_main]

use arbor_core::zab::{decode_peer, encode_peer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(msg) = decode_peer(bytes) {
        let again = decode_peer(&encode_peer(&msg)).expect("own encoding decodes");
        assert_eq!(again, msg);
    }
});
