#!/usr/bin/env python3
"""Builds the seed corpora of the jute fuzz targets from the real frames captured from
Apache ZooKeeper 3.8.0 (core/tests/vectors/zookeeper-3.8.0/frames.jsonl).

- jute_request: every client-to-server frame's payload (length prefix stripped).
- jute_response: every server-to-client frame's payload, prefixed by one selector byte
  that picks the op the reply answers (the index of that op in arbor_core's OpCode::ALL).

Usage: python3 fuzz/seed_corpus.py   (writes fuzz/corpus/<target>/<frame id>)

The `snapshot` seeds (fuzz/corpus/snapshot/: an empty tree and a small tree with every
node kind) are `DataTree::serialize` output and the `peer_message` seeds one
`encode_peer` envelope per message kind, committed as they are; `tree_ops` starts from
an empty corpus (its input is a choice sequence, not a format). The `replica_inputs`,
`wal_record` and `snapshot_file` seeds are written by the Rust generator
`cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus` (fuzz/examples/).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "core", "tests", "vectors", "zookeeper-3.8.0", "frames.jsonl")

# Must match the order of `OpCode::ALL` in core/src/types.rs.
OPCODE_ORDER = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                100, 101, 102, 103, 104, 105, 106, 107, -10, -11, -1]


def main() -> int:
    out = {t: os.path.join(HERE, "corpus", t) for t in ("jute_request", "jute_response")}
    for d in out.values():
        os.makedirs(d, exist_ok=True)
    n = 0
    with open(VECTORS, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            frame = bytes.fromhex(row["hex"])
            payload = frame[4:]
            if row["dir"] == "c2s":
                path = os.path.join(out["jute_request"], row["id"])
                data = payload
            else:
                op = row.get("opcode")
                selector = OPCODE_ORDER.index(op) if op in OPCODE_ORDER else 0
                path = os.path.join(out["jute_response"], row["id"])
                data = bytes([selector]) + payload
            with open(path, "wb") as g:
                g.write(data)
            n += 1
    print(f"wrote {n} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
