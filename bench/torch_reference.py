#!/usr/bin/python3
"""PyTorch reference timings for docs/PERFORMANCE.md: VGG-16 training and inference throughput (img/s),
and Grad-CAM latency, measured the same way as cxr's bench_model so the two can be compared as ratios in
one run on one machine.

Run with Debian's python3-torch (make fixtures installs it):
    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_reference.py --threads 2 [--size 224 --batch 8]
torch.set_num_threads() does not reach OpenBLAS, hence the variable. Prints one JSON object.
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def make(arch, width_note, num_classes, in_ch):
    m = getattr(torchvision.models, arch)(num_classes=num_classes)
    if in_ch != 3:
        old = m.features[0]
        m.features[0] = torch.nn.Conv2d(in_ch, old.out_channels, 3, padding=1)
    return m


def timed(fn, reps):
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    m = make(a.arch, None, 3, a.channels)
    x = torch.rand(a.batch, a.channels, a.size, a.size)
    y = torch.randint(0, 3, (a.batch,))
    opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)

    def train_step():
        m.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()

    def infer():
        m.eval()
        with torch.no_grad():
            m(x)

    x1 = x[:1]
    feats = {}

    def gradcam():
        # Grad-CAM as pytorch-grad-cam does it: hooks on the last conv block's ReLU (features.29 for vgg16).
        m.eval()
        layer = m.features[len(m.features) - 2]
        h1 = layer.register_forward_hook(lambda mod, i, o: feats.__setitem__("a", o))
        out = m(x1)
        h1.remove()
        a = feats["a"]
        g, = torch.autograd.grad(out[0, out[0].argmax()], a)
        w = g.mean(dim=(2, 3), keepdim=True)
        torch.relu((w * a).sum(1))

    def infer1():
        m.eval()
        with torch.no_grad():
            m(x1)

    t_train = timed(train_step, a.reps)
    t_inf = timed(infer, a.reps)
    t_inf1 = timed(infer1, a.reps)
    t_cam1 = timed(gradcam, a.reps)
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "arch": a.arch, "size": a.size, "batch": a.batch,
        "train_img_per_s": a.batch / t_train, "infer_img_per_s": a.batch / t_inf,
        "infer_b1_ms": t_inf1 * 1e3, "gradcam_b1_ms": t_cam1 * 1e3, "gradcam_over_inference": t_cam1 / t_inf1,
    }, indent=1))


if __name__ == "__main__":
    main()
