#!/usr/bin/python3
"""The shell tests' one comparison, the twin of tests/common/compare.h (Debian's numpy only).

A comparison fails, naming the element, when either side holds a NaN or an infinity, when the element
counts or shapes differ, when there is nothing to compare, or when the bound is broken:

    rel(got, want, tol)          max|got - want| <= tol * max|want| (tol absolute for an all-zero reference)
    each(got, want, atol, rtol)  every |got - want| <= atol + rtol * |want|

Each returns (ok, message). As a program it compares safetensors tensors and prints "ok" or why not:

    compare.py GOT NAME REF REFNAME [--tol T]     one tensor against one
    compare.py --all GOT REF PREFIX [--tol T]     every tensor NAME of GOT against PREFIX+NAME in REF;
                                                  fails when REF holds none of them
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8", "U8": "u1"}


def load(path):
    """A safetensors file -> {name: float64 array of its shape}; BF16 widened exactly."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    head.pop("__metadata__", None)
    out = {}
    for name, t in head.items():
        b, e = t["data_offsets"]
        raw = data[b:e]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, DTYPES[t["dtype"]])
        out[name] = a.astype(np.float64).reshape(t["shape"])
    return out


def num(s):
    """A number the shell handed over as text; NaN for empty or unreadable text, so a comparison fails."""
    try:
        return float(s)
    except ValueError:
        return float("nan")


def _check(got, want):
    """(got, want) as flat float64 arrays, or (None, why) when they cannot be compared."""
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        return None, "shape %s, want %s" % (list(g.shape), list(w.shape))
    g, w = g.ravel(), w.ravel()
    if g.size == 0:
        return None, "nothing to compare (0 elements)"
    for side, a in (("the output", g), ("the reference", w)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            i = bad[0]
            return None, "element %d is %.9g, want %.9g: %s is not finite" % (i, g[i], w[i], side)
    return (g, w), None


def rel(got, want, tol):
    arrays, why = _check(got, want)
    if arrays is None:
        return False, why
    g, w = arrays
    d = np.abs(g - w)
    i = int(np.argmax(d))
    scale = float(np.abs(w).max())
    r = d[i] / scale if scale > 0 else d[i]
    if d[i] <= (tol * scale if scale > 0 else tol):
        return True, "%d elements, max |error| %.3g, %.3g of max|ref| %.3g" % (g.size, d[i], r, scale)
    return False, "element %d is %.9g, want %.9g: max |error| %.3g is %.3g of max|ref| %.3g (bound %.3g)" % (
        i, g[i], w[i], d[i], r, scale, tol)


def each(got, want, atol, rtol):
    arrays, why = _check(got, want)
    if arrays is None:
        return False, why
    g, w = arrays
    d = np.abs(g - w)
    bound = atol + rtol * np.abs(w)
    off = d > bound
    if not off.any():
        return True, "%d elements, max |error| %.3g" % (g.size, d.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        i = int(np.argmax(np.where(bound > 0, d / bound, np.inf * (d > 0))))
    return False, "%d of %d elements off; worst: element %d is %.9g, want %.9g" % (
        int(off.sum()), g.size, i, g[i], w[i])


def main(argv):
    tol = 1e-5
    if "--tol" in argv:
        k = argv.index("--tol")
        tol = float(argv[k + 1])
        argv = argv[:k] + argv[k + 2:]
    if argv[:1] == ["--all"] and len(argv) == 4:
        got, ref, pre = load(argv[1]), load(argv[2]), argv[3]
        names = sorted(k for k in got if pre + k in ref)
        if not names:
            print("no tensor of %s is in %s under %s" % (argv[1], argv[2], pre))
            return 1
        bad = []
        for k in names:
            ok, msg = rel(got[k], ref[pre + k], tol)
            print("# %s%s: %s" % (pre, k, msg), file=sys.stderr)
            if not ok:
                bad.append("%s: %s" % (k, msg))
        print("; ".join(bad) if bad else "ok %d" % len(names))
        return 1 if bad else 0
    if len(argv) == 4:
        got, ref = load(argv[0]), load(argv[2])
        for path, t, name in ((argv[0], got, argv[1]), (argv[2], ref, argv[3])):
            if name not in t:
                print("no tensor %s in %s" % (name, path))
                return 1
        ok, msg = rel(got[argv[1]], ref[argv[3]], tol)
        print("# %s vs %s: %s" % (argv[1], argv[3], msg), file=sys.stderr)
        print("ok" if ok else msg)
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
