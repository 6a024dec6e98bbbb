//! Criterion: jute encode / decode of the most common client records.
//!
//! Reports throughput only; nothing here asserts on time.

use std::hint::black_box;

use arbor_core::proto::jute::{
    decode_reply, decode_request, encode_reply, encode_request, next_frame, CreateRequest,
    GetDataResponse, PathWatchRequest, ReplyHeader, Request, ResponseBody, SetDataRequest,
    DEFAULT_MAX_FRAME_LEN,
};
use arbor_core::types::{Acl, ErrorCode, OpCode, Stat, Zxid};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0042,
        mzxid: 0x1_0000_0099,
        ctime: 1_764_460_800_000,
        mtime: 1_764_460_801_000,
        version: 3,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 100,
        num_children: 0,
        pzxid: 0x1_0000_0042,
    }
}

fn requests() -> Vec<(&'static str, Request)> {
    vec![
        (
            "getData",
            Request::GetData(PathWatchRequest {
                path: "/app/svc-00042/key-00042".into(),
                watch: true,
            }),
        ),
        (
            "setData_100B",
            Request::SetData(SetDataRequest {
                path: "/app/svc-00042/key-00042".into(),
                data: Some(vec![7u8; 100]),
                version: -1,
            }),
        ),
        (
            "create_100B",
            Request::Create(CreateRequest {
                path: "/app/svc-00042/key-00042".into(),
                data: Some(vec![7u8; 100]),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
        ),
    ]
}

fn bench_requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("jute_request");
    for (name, req) in requests() {
        let mut frame = Vec::new();
        encode_request(42, &req, &mut frame);
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_function(format!("encode/{name}"), |b| {
            let mut out = Vec::with_capacity(256);
            b.iter(|| {
                out.clear();
                encode_request(42, black_box(&req), &mut out);
                black_box(out.len())
            })
        });
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let f = next_frame(black_box(&frame), DEFAULT_MAX_FRAME_LEN)
                    .expect("valid frame")
                    .expect("complete frame");
                let decoded = decode_request(&frame[f.payload.clone()]).expect("decodes");
                black_box(decoded)
            })
        });
    }
    group.finish();
}

fn bench_replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("jute_reply");
    let replies = [
        (
            "getData_100B",
            OpCode::GetData,
            ResponseBody::GetData(GetDataResponse {
                data: Some(vec![9u8; 100]),
                stat: stat(),
            }),
        ),
        ("setData", OpCode::SetData, ResponseBody::Stat(stat())),
    ];
    for (name, op, body) in replies {
        let header = ReplyHeader::new(42, Zxid(0x1_0000_0099), ErrorCode::Ok);
        let mut frame = Vec::new();
        encode_reply(&header, Some(&body), &mut frame);
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_function(format!("encode/{name}"), |b| {
            let mut out = Vec::with_capacity(256);
            b.iter(|| {
                out.clear();
                encode_reply(black_box(&header), Some(black_box(&body)), &mut out);
                black_box(out.len())
            })
        });
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| black_box(decode_reply(black_box(&frame[4..]), op).expect("decodes")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_requests, bench_replies);
criterion_main!(benches);
