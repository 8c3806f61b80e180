#!/usr/bin/python3
"""Reads a sora.c dataset folder with Debian's python3-lmdb and numpy only (the safetensors blob is
parsed by hand, as docs/formats.md shows), for the tests:

    read_shard.py DIR                  one JSON line per row: id, tensor shapes, metadata
    read_shard.py DIR --ids            the ids, one a line, in dataset order
    read_shard.py DIR --check          index.json against the shard files; exit 1 on any mismatch
    read_shard.py DIR --compare REF    every tensor and metadata value against REF, a safetensors file
                                       holding "<id>/<name>" tensors and "<id>/<key>" metadata
"""
import json
import os
import struct
import sys

import lmdb
import numpy as np

DTYPES = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8"}


def parse_blob(blob):
    """A safetensors blob -> ({name: numpy array}, {key: str}); BF16 is widened to float32 exactly."""
    n = struct.unpack("<Q", blob[:8])[0]
    head = json.loads(blob[8 : 8 + n])
    meta = head.pop("__metadata__", {})
    out = {}
    for name, t in head.items():
        b, e = t["data_offsets"]
        raw = blob[8 + n + b : 8 + n + e]
        if t["dtype"] == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
        else:
            arr = np.frombuffer(raw, DTYPES[t["dtype"]])
        out[name] = arr.reshape(t["shape"])
    return out, meta


def rows(folder):
    """(id, tensors, metadata) of every row: shards in index order, keys in byte order."""
    index = json.load(open(os.path.join(folder, "index.json")))
    for s in index["shards"]:
        env = lmdb.open(os.path.join(folder, s["file"]), subdir=False, readonly=True, lock=False)
        with env.begin() as txn:
            for key, value in txn.cursor():
                yield (key.decode(),) + parse_blob(bytes(value))
        env.close()


def check(folder):
    index = json.load(open(os.path.join(folder, "index.json")))
    problems, ids, total = [], set(), 0
    for s in index["shards"]:
        path = os.path.join(folder, s["file"])
        if os.path.getsize(path) != s["bytes"]:
            problems.append(f"{s['file']}: {os.path.getsize(path)} bytes, index says {s['bytes']}")
        env = lmdb.open(path, subdir=False, readonly=True, lock=False)
        with env.begin() as txn:
            keys = [k.decode() for k in txn.cursor().iternext(values=False)]
        env.close()
        if len(keys) != s["rows"]:
            problems.append(f"{s['file']}: {len(keys)} rows, index says {s['rows']}")
        if ids & set(keys):
            problems.append(f"{s['file']}: ids also in an earlier shard")
        ids |= set(keys)
        total += len(keys)
    if total != index["rows"]:
        problems.append(f"{total} rows in the shards, index says {index['rows']}")
    listed = {s["file"] for s in index["shards"]}
    for name in os.listdir(folder):
        if name not in listed and name not in ("index.json", ".lock"):
            problems.append(f"stray file {name}")
    for p in problems:
        print(p)
    print(f"{len(index['shards'])} shards, {total} rows, {len(ids)} ids")
    return not problems


def compare(folder, ref_path):
    ref_tensors, ref_meta = parse_blob(open(ref_path, "rb").read())
    seen, bad = 0, 0
    for rid, tensors, meta in rows(folder):
        for name, arr in tensors.items():
            want = ref_tensors.get(f"{rid}/{name}")
            seen += 1
            if want is None or want.shape != arr.shape or not np.array_equal(want.view("<u4"), arr.view("<u4")):
                print(f"{rid}/{name}: differs")
                bad += 1
        for key, value in meta.items():
            if ref_meta.get(f"{rid}/{key}") != value:
                print(f"{rid} metadata {key}: {value!r} != {ref_meta.get(rid + '/' + key)!r}")
                bad += 1
    print(f"{seen} tensors compared, {bad} differences")
    return bad == 0 and seen == len(ref_tensors)


def main():
    folder = sys.argv[1]
    if sys.argv[2:3] == ["--ids"]:
        for rid, _, _ in rows(folder):
            print(rid)
    elif sys.argv[2:3] == ["--check"]:
        sys.exit(0 if check(folder) else 1)
    elif sys.argv[2:3] == ["--compare"]:
        sys.exit(0 if compare(folder, sys.argv[3]) else 1)
    else:
        for rid, tensors, meta in rows(folder):
            shapes = {k: list(v.shape) for k, v in tensors.items()}
            print(json.dumps({"id": rid, "tensors": shapes, "metadata": meta}, ensure_ascii=False))


if __name__ == "__main__":
    main()
