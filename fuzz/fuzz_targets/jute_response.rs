//! Client-side decode of any server frame (used by `arbor bench` / `arbor cli`): the first
//! byte picks the op the reply answers, the rest is the payload. Whatever decodes must
//! re-encode to an equal value.
#![no_main]

use arbor_core::proto::jute::{
    decode_connect_response, decode_reply, encode_connect_response, encode_reply,
};
use arbor_core::types::OpCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let op = OpCode::ALL[usize::from(selector) % OpCode::ALL.len()];
    if let Ok(reply) = decode_reply(payload, op) {
        let mut frame = Vec::new();
        encode_reply(&reply.header, reply.body.as_ref(), &mut frame);
        let again = decode_reply(&frame[4..], op).expect("re-encoded reply decodes");
        assert_eq!(reply, again);
    }
    if let Ok(connect) = decode_connect_response(payload) {
        let mut frame = Vec::new();
        encode_connect_response(&connect, &mut frame);
        let again = decode_connect_response(&frame[4..]).expect("re-encoded connect decodes");
        assert_eq!(connect, again);
    }
});
