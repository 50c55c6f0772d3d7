#!/usr/bin/python3
"""The PyTorch peer for bench/lenet.sh: BigDL's LeNet-5 with the same data order (splitmix64
Fisher-Yates per epoch, last batch wrapping to the epoch's first images), normalisation,
initialisation ranges and SGD (lr / (1 + step * decay), momentum, dampening) as tbml's trainer.
Prints one line per epoch and a final `RESULT images_per_s=... accuracy=... train_s=...`."""
import argparse
import gzip
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn

M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def shuffle(perm, state):
    for i in range(len(perm) - 1, 0, -1):
        state, r = splitmix64(state)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return state


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, base):
    for suffix in ("", ".gz"):
        p = os.path.join(folder, base + suffix)
        if os.path.exists(p):
            return p
    raise SystemExit(f"lenet_torch.py: no {base} in {folder}")


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 12, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(192, 100), nn.Tanh(), nn.Linear(100, 10), nn.LogSoftmax(dim=1))


def step_bench(a):
    """Training steps alone (as bench_nn_step does), in wall-clock and CPU time."""
    model = lenet()
    opt = torch.optim.SGD(model.parameters(), lr=a.learningRate, momentum=a.momentum,
                          dampening=a.dampening)
    x = torch.randn(a.batchSize, 1, 28, 28)
    y = torch.randint(0, 10, (a.batchSize,))
    loss_fn = nn.NLLLoss()
    for i in range(a.stepBench + 3):
        if i == 3:
            t, c = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    n = a.stepBench * a.batchSize
    print(f"STEP images_per_s={n / (time.perf_counter() - t):.1f} "
          f"images_per_cpu_s={n / (time.process_time() - c):.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataPath", required=True)
    ap.add_argument("--maxEpoch", type=int, default=2)
    ap.add_argument("--batchSize", type=int, default=128)
    ap.add_argument("--learningRate", type=float, default=0.05)
    ap.add_argument("--learningRateDecay", type=float, default=0.0002)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--dampening", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stepBench", type=int, default=0,
                    help="only time this many training steps on fixed random data")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.stepBench:
        step_bench(a)
        return

    tr_x = read_idx(find(a.dataPath, "train-images-idx3-ubyte"))
    tr_y = read_idx(find(a.dataPath, "train-labels-idx1-ubyte")).astype(np.int64)
    te_x = read_idx(find(a.dataPath, "t10k-images-idx3-ubyte"))
    te_y = read_idx(find(a.dataPath, "t10k-labels-idx1-ubyte")).astype(np.int64)
    scaled = tr_x.astype(np.float64) / 255.0
    mean, std = scaled.mean(), scaled.std()
    lut = torch.tensor([(v / 255.0 - mean) / std for v in range(256)], dtype=torch.float32)
    train_u8 = torch.from_numpy(tr_x.copy()).long()
    train_y = torch.from_numpy(tr_y.copy())
    test_x = lut[torch.from_numpy(te_x.copy()).long()].unsqueeze(1)
    test_y = torch.from_numpy(te_y.copy())

    model = lenet()
    # BigDL/Torch initialisation: uniform +-1/sqrt(fan_in) for weights and biases
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bound = 1.0 / math.sqrt(m.weight[0].numel())
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.uniform_(m.bias, -bound, bound)
    # BigDL's SGD with explicit dampening is Torch's: the first step's buffer is the gradient
    opt = torch.optim.SGD(model.parameters(), lr=a.learningRate, momentum=a.momentum,
                          dampening=a.dampening)
    loss_fn = nn.NLLLoss()

    n, B = len(tr_y), a.batchSize
    iters = (n + B - 1) // B
    perm = list(range(n))
    state = a.seed ^ 0x5EED5EED5EED5EED
    step, train_s, acc = 0, 0.0, 0.0
    for epoch in range(1, a.maxEpoch + 1):
        state = shuffle(perm, state)
        order = torch.tensor([perm[k % n] for k in range(iters * B)])
        model.train()
        for b in range(iters):
            t0 = time.perf_counter()
            idx = order[b * B:(b + 1) * B]
            x = lut[train_u8[idx]].unsqueeze(1)
            y = train_y[idx]
            for g in opt.param_groups:
                g["lr"] = a.learningRate / (1 + step * a.learningRateDecay)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            step += 1
            train_s += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            correct = int((model(test_x).argmax(1) == test_y).sum())
        acc = correct / len(test_y)
        print(f"torch epoch {epoch}: {iters * B} images, train {train_s:.3f}s, "
              f"accuracy {acc:.4f} ({correct}/{len(test_y)})", flush=True)
    print(f"RESULT images_per_s={step * B / train_s:.1f} accuracy={acc:.4f} train_s={train_s:.3f}")


if __name__ == "__main__":
    main()
