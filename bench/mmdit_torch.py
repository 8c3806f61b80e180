"""The same MMDiT call in PyTorch on the CPU (bench/sample.sh): Open-Sora 2.0's forward written with torch
ops (the official module needs flash-attn and Liger's Triton kernels), on the weights and inputs that
mmdit_bench wrote. Prints "torch SECONDS" (median of N calls after a warm-up) and the largest difference
from sora.c's output relative to its largest value.

usage: mmdit_torch.py DIR N THREADS
bench/train_torch.py imports load, blas and model from here."""
import json
import math
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F


def load(path):
    """A safetensors file of F32 tensors, without the safetensors package (views of one buffer)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", name
        b, e = t["data_offsets"]
        out[name] = torch.frombuffer(data, dtype=torch.float32, count=(e - b) // 4, offset=b).reshape(t["shape"])
    return out


def blas():
    """The BLAS libraries mapped into this process (Debian's torch calls the libblas.so.3 alternative)."""
    return " ".join(sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and ".so" in l}))


def model(W, x):
    """forward() of the MMDiT over the weights W on the inputs x (dicts of tensors by published name); it
    reads W at each call, so W may hold parameters that an optimizer updates."""
    C = W["img_in.weight"].shape[0]
    D = W["single_blocks.0.norm.query_norm.scale"].shape[0]
    H = C // D
    axes, theta = [16, 56, 56], 10000

    def lin(v, p):
        return F.linear(v, W[p + ".weight"], W[p + ".bias"])

    def mlp_embed(v, p):
        return lin(F.silu(lin(v, p + ".in_layer")), p + ".out_layer")

    def temb(t):  # layers.timestep_embedding
        freqs = torch.exp(-math.log(10000) * torch.arange(0, 128, dtype=torch.float32) / 128)
        a = (1000 * t)[:, None].float() * freqs[None]
        return torch.cat([torch.cos(a), torch.sin(a)], -1)

    def rope_tables(ids):  # LigerEmbedND: [L, D/2]
        cos, sin = [], []
        for i, dim in enumerate(axes):
            omega = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
            a = ids[..., i, None] * omega
            cos.append(a.cos())
            sin.append(a.sin())
        return torch.cat(cos, -1)[0], torch.cat(sin, -1)[0]

    def ada(v, sh, sc):
        return (1 + sc) * F.layer_norm(v, (C,), eps=1e-6) + sh

    def heads(v):  # B L (H D) -> B H L D
        return v.reshape(v.shape[0], v.shape[1], H, D).transpose(1, 2)

    def rms(v, s):
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * s

    def rope(v, cos, sin):  # half split
        a, b = v[..., : D // 2], v[..., D // 2:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], -1)

    def attention(q, k, v, cos, sin):
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        s = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), -1)
        o = s @ v
        return o.transpose(1, 2).reshape(o.shape[0], o.shape[2], C)

    def qkv(h, p, q_name, k_name, v_name, norm):
        q = rms(heads(lin(h, p + q_name)), W[p + norm + "query_norm.scale"])
        k = rms(heads(lin(h, p + k_name)), W[p + norm + "key_norm.scale"])
        return q, k, heads(lin(h, p + v_name))

    def forward():
        img = lin(x["img"], "img_in") + lin(x["cond"], "cond_in")
        vec = mlp_embed(temb(x["timesteps"]), "time_in") + mlp_embed(x["y_vec"], "vector_in")
        txt = lin(x["txt"], "txt_in")
        cos, sin = rope_tables(torch.cat([x["txt_ids"], x["img_ids"]], 1))
        sv = F.silu(vec)[:, None, :]
        Lt = txt.shape[1]
        i = 0
        while "double_blocks.%d.img_mod.lin.weight" % i in W:
            p = "double_blocks.%d." % i
            mi = lin(sv, p + "img_mod.lin").chunk(6, -1)
            mt = lin(sv, p + "txt_mod.lin").chunk(6, -1)
            iq, ik, iv = qkv(ada(img, mi[0], mi[1]), p + "img_attn.", "q_proj", "k_proj", "v_proj", "norm.")
            tq, tk, tv = qkv(ada(txt, mt[0], mt[1]), p + "txt_attn.", "q_proj", "k_proj", "v_proj", "norm.")
            a = attention(torch.cat([tq, iq], 2), torch.cat([tk, ik], 2), torch.cat([tv, iv], 2), cos, sin)
            img = img + mi[2] * lin(a[:, Lt:], p + "img_attn.proj")
            img = img + mi[5] * lin(F.gelu(lin(ada(img, mi[3], mi[4]), p + "img_mlp.0"), approximate="tanh"),
                                    p + "img_mlp.2")
            txt = txt + mt[2] * lin(a[:, :Lt], p + "txt_attn.proj")
            txt = txt + mt[5] * lin(F.gelu(lin(ada(txt, mt[3], mt[4]), p + "txt_mlp.0"), approximate="tanh"),
                                    p + "txt_mlp.2")
            i += 1
        h = torch.cat([txt, img], 1)
        i = 0
        while "single_blocks.%d.modulation.lin.weight" % i in W:
            p = "single_blocks.%d." % i
            m = lin(sv, p + "modulation.lin").chunk(3, -1)
            xm = ada(h, m[0], m[1])
            vm = lin(xm, p + "v_mlp")
            q = rms(heads(lin(xm, p + "q_proj")), W[p + "norm.query_norm.scale"])
            k = rms(heads(lin(xm, p + "k_proj")), W[p + "norm.key_norm.scale"])
            a = attention(q, k, heads(vm[..., :C]), cos, sin)
            h = h + m[2] * lin(torch.cat([a, F.gelu(vm[..., C:], approximate="tanh")], -1), p + "linear2")
            i += 1
        img = h[:, Lt:]
        sh, sc = lin(F.silu(vec), "final_layer.adaLN_modulation.1").chunk(2, -1)
        return lin((1 + sc[:, None]) * F.layer_norm(img, (C,), eps=1e-6) + sh[:, None], "final_layer.linear")

    return forward


def main():
    d, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    print("torch %s, %d threads, BLAS: %s" % (torch.__version__, torch.get_num_threads(), blas()), file=sys.stderr)
    forward = model(load(d + "/model.safetensors"), load(d + "/inputs.safetensors"))
    with torch.no_grad():
        out = forward()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            forward()
            ts.append(time.perf_counter() - t0)
    print("torch %.4f" % statistics.median(ts))
    with open(d + "/out_sora.f32", "rb") as f:
        ours = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(out.shape)
    print("diff %.3g" % ((ours - out).abs().max() / out.abs().max()).item())


if __name__ == "__main__":
    main()
