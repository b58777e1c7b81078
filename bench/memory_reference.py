#!/usr/bin/python3
"""Peak memory (resident set) of PyTorch training VGG-16, for docs/PERFORMANCE.md's comparison with
cxr's bench_model (whose training step also reports peak_MiB, the tensor storage alone).

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/memory_reference.py --threads 2 [--size 224 --batch 8]

Prints one JSON object: the process's resident set after importing torch, after building the model and
the optimizer, and its peak over `--steps` SGD-with-momentum training steps (ru_maxrss), in MiB.
"""
import argparse
import json
import resource


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    import torch
    import torchvision
    torch.set_num_threads(a.threads)
    out = {"framework": "pytorch " + torch.__version__, "arch": a.arch, "size": a.size, "batch": a.batch,
           "rss_after_import_MiB": rss_mib()}
    torch.manual_seed(0)
    m = getattr(torchvision.models, a.arch)(num_classes=3)
    opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 3, (a.batch,))
    out["rss_after_model_MiB"] = rss_mib()
    m.train()
    for _ in range(a.steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    out["peak_rss_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
