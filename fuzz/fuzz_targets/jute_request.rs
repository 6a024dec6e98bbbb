//! Server-side decode of any client frame: the connect handshake, ordinary requests, and
//! four-letter-word detection. Whatever decodes must re-encode to an equal value.
#![no_main]

use arbor_core::proto::jute::{
    decode_connect_request, decode_request, detect_four_letter_word, encode_connect_request,
    encode_request, next_frame, DEFAULT_MAX_FRAME_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detect_four_letter_word(data);
    // The framing layer over the raw stream.
    if let Ok(Some(frame)) = next_frame(data, DEFAULT_MAX_FRAME_LEN) {
        assert!(frame.consumed <= data.len());
        assert!(frame.payload.end <= data.len());
    }
    // The input as one frame payload, both as a handshake and as a request.
    if let Ok(connect) = decode_connect_request(data) {
        let mut frame = Vec::new();
        encode_connect_request(&connect, &mut frame);
        let again = decode_connect_request(&frame[4..]).expect("re-encoded connect decodes");
        assert_eq!(connect, again);
    }
    if let Ok((header, request)) = decode_request(data) {
        let mut frame = Vec::new();
        encode_request(header.xid, &request, &mut frame);
        let (h2, r2) = decode_request(&frame[4..]).expect("re-encoded request decodes");
        assert_eq!(header, h2);
        assert_eq!(request, r2);
    }
});
