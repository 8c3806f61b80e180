# The peer of vae_bench.c in PyTorch on the CPU (Debian's python3-torch): the same conv3d cases (replicate
# causal padding, then Conv3d) and the same encoder (the released widths, random weights), written out
# with torch.nn.functional, timed the same way. Usage: vae_peer_torch.py THREADS conv | encoder T H W
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if ("blas" in l or "dnnl" in l) and ".so" in l})
print("torch %s, %d threads, mkldnn %s, BLAS: %s" % (torch.__version__, torch.get_num_threads(),
      torch.backends.mkldnn.is_available(), " ".join(blas) or "(linked in)"), file=sys.stderr)
torch.manual_seed(0)


def timed(f, runs):
    f()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def cconv(x, w, b, stride=1):
    k = w.shape[-1]
    if k > 1:
        x = F.pad(x, (k // 2, k // 2, k // 2, k // 2, k - 1, 0), mode="replicate")
    return F.conv3d(x, w, b, stride=stride)


def conv_cases():
    cases = [("conv3d_128to128_9x64x64", 128, 128, 9, 64, 64, 3, 1, 1),
             ("conv3d_3to128_9x64x64", 3, 128, 9, 64, 64, 3, 1, 1),
             ("conv3d_256to256_s222_9x32x32", 256, 256, 9, 32, 32, 3, 2, 2),
             ("conv3d_512to512_3x16x16", 512, 512, 3, 16, 16, 3, 1, 1),
             ("conv3d_256to512_k1_5x16x16", 256, 512, 5, 16, 16, 1, 1, 1)]
    for name, cin, cout, T, H, W, k, st, sh in cases:
        x = torch.randn(1, cin, T, H, W)
        w = torch.randn(cout, cin, k, k, k) * 0.02
        b = torch.randn(cout)
        y = cconv(x, w, b, (st, sh, sh))
        with torch.no_grad():
            t = timed(lambda: cconv(x, w, b, (st, sh, sh)), 5)
        print(name, "%.2f" % (2.0 * cout * cin * k ** 3 * y[0, 0].numel() / t / 1e9))


def conv_p(cin, cout, k):
    return (torch.randn(cout, cin, k, k, k) / (2 * (cin * k ** 3) ** 0.5), torch.randn(cout) / (2 * cout ** 0.5))


def resnet_p(cin, cout):
    p = {"n1": (torch.ones(cin), torch.zeros(cin)), "c1": conv_p(cin, cout, 3),
         "n2": (torch.ones(cout), torch.zeros(cout)), "c2": conv_p(cout, cout, 3)}
    if cin != cout:
        p["sc"] = conv_p(cin, cout, 1)
    return p


def resnet(p, x):
    h = F.silu(F.group_norm(x, 32, *p["n1"], eps=1e-6))
    h = cconv(h, *p["c1"])
    h = F.silu(F.group_norm(h, 32, *p["n2"], eps=1e-6))
    h = cconv(h, *p["c2"])
    return (cconv(x, *p["sc"]) if "sc" in p else x) + h


def attention(p, x):
    B, C, T, H, W = x.shape
    t = F.group_norm(x.reshape(B, C, -1), 32, *p["gn"], eps=1e-6).transpose(1, 2)
    q, k, v = (F.linear(t, *p[n]) for n in ("q", "k", "v"))
    f = torch.arange(T).repeat_interleave(H * W)
    mask = torch.zeros(T * H * W, T * H * W).masked_fill(f[None, :] > f[:, None], float("-inf"))
    a = torch.softmax(q @ k.transpose(1, 2) / C ** 0.5 + mask, dim=-1) @ v
    o = F.linear(a, *p["o"]) + x.reshape(B, C, -1).transpose(1, 2)
    return o.transpose(1, 2).reshape(B, C, T, H, W)


def encoder_p():
    ch = [128, 256, 512, 512]
    p = {"conv_in": conv_p(3, 128, 3), "blocks": []}
    cin = 128
    for i, c in enumerate(ch):
        blk = {"res": [resnet_p(cin if j == 0 else c, c) for j in range(2)]}
        if i < 3:
            blk["down"] = (conv_p(c, c, 3), (2 if i >= 1 else 1, 2, 2))
        p["blocks"].append(blk)
        cin = c
    lin = lambda: (torch.randn(512, 512) / 45, torch.randn(512) / 45)
    p["mid"] = [resnet_p(512, 512), resnet_p(512, 512)]
    p["attn"] = {"gn": (torch.ones(512), torch.zeros(512)), "q": lin(), "k": lin(), "v": lin(), "o": lin()}
    p["norm_out"] = (torch.ones(512), torch.zeros(512))
    p["conv_out"] = conv_p(512, 32, 3)
    p["quant"] = conv_p(32, 32, 1)
    return p


def encoder(p, x):
    h = cconv(x, *p["conv_in"])
    for blk in p["blocks"]:
        for r in blk["res"]:
            h = resnet(r, h)
        if "down" in blk:
            h = cconv(h, *blk["down"][0], stride=blk["down"][1])
    h = resnet(p["mid"][0], h)
    h = attention(p["attn"], h)
    h = resnet(p["mid"][1], h)
    h = F.silu(F.group_norm(h, 32, *p["norm_out"], eps=1e-6))
    return cconv(cconv(h, *p["conv_out"]), *p["quant"])


if sys.argv[2] == "conv":
    conv_cases()
else:
    T, H, W = (int(v) for v in sys.argv[3:6])
    p = encoder_p()
    x = torch.rand(1, 3, T, H, W) * 2 - 1
    with torch.no_grad():
        print("encoder_%dx%dx%d %.3f" % (T, H, W, timed(lambda: encoder(p, x), 3)))
