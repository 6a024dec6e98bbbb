//! WAL frame decoding on arbitrary bytes: never panics, never allocates beyond the input,
//! and whatever decodes re-encodes to a frame that decodes to the same txn.

#![no_main]

use arbor_net::storage::{decode_frame, encode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while at < data.len() {
        match decode_frame(&data[at..]) {
            Ok((txn, n)) => {
                let mut again = Vec::new();
                encode_frame(&txn, &mut again).expect("a decoded txn re-encodes");
                let (back, len) = decode_frame(&again).expect("re-encoded frame decodes");
                assert_eq!(back, txn);
                assert_eq!(len, again.len());
                at += n;
            }
            Err(_) => at += 1,
        }
    }
});
