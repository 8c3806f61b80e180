#!/usr/bin/env python3
"""Converts a PyTorch state dict (.pth) to safetensors, values unchanged, for sora.c's loaders.

Made for the LAION aesthetic predictor that `sora-score --scores aes --aes-model FILE` reads:

    python3 scripts/aes-pth-to-safetensors.py sac+logos+ava1-l14-linearMSE.pth aes.safetensors

Needs python3-torch only (Debian has no python3-safetensors): the file is written here by hand, as
the format specifies it: an 8-byte little-endian header length, a JSON header naming each tensor's
dtype, shape and byte range (padded with spaces to a multiple of 8), then the raw little-endian data.
"""
import json
import os
import struct
import sys

try:
    import torch
except ImportError:
    sys.exit("needs PyTorch to read a .pth (Debian: apt install python3-torch)")

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32"}


def load_state_dict(path):
    try:  # only tensors and containers: a .pth cannot run code while loading
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch older than 1.13
        sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not sd:
        sys.exit(f"{path}: not a state dict (a dict of tensors)")
    for name, t in sd.items():
        if not isinstance(t, torch.Tensor):
            sys.exit(f"{path}: '{name}' is a {type(t).__name__}, not a tensor")
        if t.dtype not in DTYPES:
            sys.exit(f"{path}: '{name}' has dtype {t.dtype}, which safetensors files here do not hold")
    return sd


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the same 16 bits as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, sd):
    header, blobs, offset = {}, [], 0
    for name in sorted(sd):
        data = raw_bytes(sd[name])
        header[name] = {"dtype": DTYPES[sd[name].dtype], "shape": list(sd[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for data in blobs:
            f.write(data)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit(f"usage: {os.path.basename(sys.argv[0])} IN.pth OUT.safetensors")
    if sys.byteorder != "little":
        sys.exit("safetensors data is little-endian; this machine is not")
    sd = load_state_dict(sys.argv[1])
    write_safetensors(sys.argv[2], sd)
    print(f"{sys.argv[2]}: {len(sd)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
