"""The same training step in PyTorch on the CPU (bench/train.sh): the blocks of bench/mmdit_torch.py with
autograd's backward, F.mse_loss against the target train_bench wrote, clip_grad_norm_(1.0) and
torch.optim.AdamW (lr 1e-5, betas 0.9/0.999, eps 1e-15, no weight decay), on the weights and inputs that
mmdit_bench wrote. Prints "torch SECONDS FORWARD BACKWARD OPTIMIZER" (medians of N steps after a first
one), "first LOSS GRAD_NORM GRAD_NORM64" (the first step's; the norm as clip_grad_norm_ takes it, in f32,
and in double), "peak_kib VmHWM" and "wdiff MAX N_OVER NUMEL": the first step's updated CHECK_TENSOR
against sora.c's (DIR/w_sora.f32), N_OVER elements apart by more than lr/2.

AdamW's loop: foreach=False (one tensor at a time) by default; env TORCH_FOREACH=1 takes the multi-tensor
path. With Debian's torch 1.13.1 on 2 cores the per-tensor loop was the faster: clipping + AdamW took 9.9 s
and 14.9 s a step against 12.1 s and 26.2 s for foreach=True in two pairs of runs, whose peak RSS was
3.7 GB higher (on the CPU the multi-tensor ops loop over the same per-tensor kernels and keep every
tensor's temporaries alive at once). torch 1.13 has no fused AdamW.

usage: train_torch.py DIR N THREADS"""
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from mmdit_torch import blas, load, model

CHECK_TENSOR = "double_blocks.0.img_attn.q_proj.weight"  # as in train_bench.c
LR = 1e-5


def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main():
    d, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    foreach = os.environ.get("TORCH_FOREACH", "0") == "1"
    torch.set_num_threads(threads)
    print("torch %s, %d threads, BLAS: %s, AdamW foreach=%s" % (torch.__version__, torch.get_num_threads(),
                                                                 blas(), foreach), file=sys.stderr)
    W = load(d + "/model.safetensors")  # leaves over one writable buffer: the optimizer updates them there
    for w in W.values():
        w.requires_grad_(True)
    forward = model(W, load(d + "/inputs.safetensors"))
    with open(d + "/target.f32", "rb") as f:
        target = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    params = list(W.values())
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-15, weight_decay=0, foreach=foreach)

    def step(first=False):
        t0 = time.perf_counter()
        loss = F.mse_loss(forward().reshape(-1), target)
        t1 = time.perf_counter()
        loss.backward()
        if first:  # the norm in double, what sora.c computes; clip_grad_norm_'s f32 one is 3e-5 off here
            norm64 = sum(p.grad.double().pow(2).sum() for p in params).sqrt().item()
        t2 = time.perf_counter()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)  # the next backward writes fresh gradients, no zeroing pass
        t3 = time.perf_counter()
        return (loss.item(), norm.item(), norm64) if first else (t3 - t0, t1 - t0, t2 - t1, t3 - t2)

    print("first %.9g %.9g %.9g" % step(first=True))
    with open(d + "/w_sora.f32", "rb") as f:
        ours = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(W[CHECK_TENSOR].shape)
    diff = (ours - W[CHECK_TENSOR].detach()).abs()
    print("wdiff %.3g %d %d" % (diff.max().item(), (diff > LR / 2).sum().item(), diff.numel()))
    ts = [step() for _ in range(n)]
    print("torch " + " ".join("%.4f" % statistics.median(t[c] for t in ts) for c in range(4)))
    print("peak_kib %d" % peak_kib())


if __name__ == "__main__":
    main()
