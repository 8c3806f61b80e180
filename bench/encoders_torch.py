"""The peer of bench/encoders_bench.c: the same encoder layer shapes built from torch.nn (transformers is
not in Debian), eager attention as transformers 4.40 computes it, random weights, the same inputs, timed
the same way: "name items/s GFLOP/s" per model, the median of RUNS passes after a warm-up.

    python3 encoders_torch.py THREADS RUNS [t5] [clip_text] [clip_vision]   (all without names)
"""
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads, runs = int(sys.argv[1]), int(sys.argv[2])
models = sys.argv[3:] or ["t5", "clip_text", "clip_vision"]
torch.set_num_threads(threads)
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if ("blas" in l or "mkl" in l) and ".so" in l})
print("torch %s: %d threads, BLAS %s" % (torch.__version__, torch.get_num_threads(), " ".join(blas) or "built in"),
      file=sys.stderr)
torch.manual_seed(0)


def init(module):
    """Linear weights U(±√(3 / fan_in)) as the C side draws them; norms near 1, biases small."""
    for name, p in module.named_parameters():
        with torch.no_grad():
            if p.dim() >= 2:
                p.uniform_(-math.sqrt(3 / p[0].numel()), math.sqrt(3 / p[0].numel()))
            elif "bias" in name:
                p.uniform_(-0.05, 0.05)
            else:
                p.uniform_(0.5, 1.5)
    return module.eval()


def layer_flops(B, T, C, inner, ff, gated):
    return 2 * B * T * C * inner * 4 + 2 * B * T * C * ff * (3 if gated else 2) + 4 * B * T * T * inner


def timed(name, f, items, flops):
    with torch.inference_mode():
        f()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
    m = statistics.median(ts)
    print("%s %.2f %.2f" % (name, items / m, flops / m / 1e9), flush=True)


def heads(t, h):
    B, T, _ = t.shape
    return t.view(B, T, h, -1).transpose(1, 2)


# ---- T5 (modeling_t5: T5LayerNorm, unscaled attention + position bias, gated gelu_new FFN) ----
class T5Norm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


class T5Block(nn.Module):
    def __init__(self, d, h, kv, ff):
        super().__init__()
        self.h = h
        self.ln0, self.ln1 = T5Norm(d), T5Norm(d)
        self.q, self.k, self.v = (nn.Linear(d, h * kv, bias=False) for _ in range(3))
        self.o = nn.Linear(h * kv, d, bias=False)
        self.wi0, self.wi1 = nn.Linear(d, ff, bias=False), nn.Linear(d, ff, bias=False)
        self.wo = nn.Linear(ff, d, bias=False)

    def forward(self, x, bias):
        B, T, _ = x.shape
        y = self.ln0(x)
        q, k, v = heads(self.q(y), self.h), heads(self.k(y), self.h), heads(self.v(y), self.h)
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, -1))
        y = self.ln1(x)
        return x + self.wo(F.gelu(self.wi0(y), approximate="tanh") * self.wi1(y))


class T5(nn.Module):
    def __init__(self, vocab, d, h, kv, ff, layers):
        super().__init__()
        self.shared = nn.Embedding(vocab, d)
        self.rel = nn.Embedding(32, h)
        self.blocks = nn.ModuleList(T5Block(d, h, kv, ff) for _ in range(layers))
        self.final = T5Norm(d)

    def forward(self, ids):
        T = ids.shape[1]
        r = torch.arange(T)[None, :] - torch.arange(T)[:, None]
        bucket = (r > 0).long() * 16
        a = r.abs()
        large = 8 + (torch.log(a.float() / 8) / math.log(128 / 8) * 8).long()
        bucket = bucket + torch.where(a < 8, a, torch.clamp(large, max=15))
        bias = self.rel(bucket).permute(2, 0, 1)[None]
        x = self.shared(ids)
        for b in self.blocks:
            x = b(x, bias)
        return self.final(x)


# ---- CLIP (modeling_clip: pre-LN, q scaled, quick_gelu) ----
class ClipLayer(nn.Module):
    def __init__(self, c, h, i):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.q, self.k, self.v, self.o = (nn.Linear(c, c) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(c, i), nn.Linear(i, c)

    def forward(self, x, mask):
        B, T, C = x.shape
        y = self.ln1(x)
        q = heads(self.q(y) * (C // self.h) ** -0.5, self.h)
        k, v = heads(self.k(y), self.h), heads(self.v(y), self.h)
        w = q @ k.transpose(-1, -2)
        if mask is not None:
            w = w + mask
        x = x + self.o((torch.softmax(w, dim=-1) @ v).transpose(1, 2).reshape(B, T, C))
        y = self.fc1(self.ln2(x))
        return x + self.fc2(y * torch.sigmoid(1.702 * y))


class ClipText(nn.Module):
    def __init__(self, vocab, c, h, i, layers, positions):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, c), nn.Embedding(positions, c)
        self.layers = nn.ModuleList(ClipLayer(c, h, i) for _ in range(layers))
        self.final = nn.LayerNorm(c)

    def forward(self, ids):
        B, T = ids.shape
        mask = torch.triu(torch.full((T, T), torch.finfo(torch.float32).min), 1)
        x = self.tok(ids) + self.pos(torch.arange(T))[None]
        for l in self.layers:
            x = l(x, mask)
        x = self.final(x)
        return x, x[torch.arange(B), ids.argmax(-1)]


class ClipVision(nn.Module):
    def __init__(self, c, h, i, layers, size, ps, proj):
        super().__init__()
        self.patch = nn.Conv2d(3, c, ps, ps, bias=False)
        self.cls = nn.Parameter(torch.zeros(c))
        self.pos = nn.Embedding((size // ps) ** 2 + 1, c)
        self.pre, self.post = nn.LayerNorm(c), nn.LayerNorm(c)
        self.layers = nn.ModuleList(ClipLayer(c, h, i) for _ in range(layers))
        self.proj = nn.Linear(c, proj, bias=False)

    def forward(self, px):
        B = px.shape[0]
        x = self.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(B, 1, -1), x], 1) + self.pos.weight[None]
        x = self.pre(x)
        for l in self.layers:
            x = l(x, None)
        return self.proj(self.post(x[:, 0]))


if "t5" in models:
    D, KV, H, FF, LAYERS, L = 4096, 64, 64, 10240, 2, 512
    t5 = init(T5(32128, D, H, KV, FF, LAYERS))
    ids = torch.tensor([[(j * 7919) % 32128 if j < 40 else 0 for j in range(L)]])
    timed("t5_xxl_width_2_blocks_512_tokens", lambda: t5(ids), L, LAYERS * layer_flops(1, L, D, H * KV, FF, True))
    del t5

if "clip_text" in models:
    B, T, C = 8, 77, 768
    text = init(ClipText(49408, C, 12, 3072, 12, T))
    ids = torch.tensor([[49406 if j == 0 else (b * T + j) * 7919 % 49000 if j < 20 else 49407 for j in range(T)]
                        for b in range(B)])
    timed("clip_l_text_8x77_tokens", lambda: text(ids), B * T, 12 * layer_flops(B, T, C, C, 3072, False))
    del text

if "clip_vision" in models:
    B, C, S, PS = 2, 1024, 224, 14
    vision = init(ClipVision(C, 16, 4096, 24, S, PS, 768))
    px = torch.rand(B, 3, S, S) * 2 - 1
    G = S // PS
    timed("clip_l14_vision_2_images", lambda: vision(px), B,
          2 * B * G * G * 3 * PS * PS * C + 24 * layer_flops(B, G * G + 1, C, C, 4096, False) + 2 * B * C * 768)
