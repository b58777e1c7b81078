#!/usr/bin/python3
"""cxr's training recipe in PyTorch: the same model, data, split, augmentation, optimizer and schedule as
`cxr train`, so that the two frameworks' accuracies can be compared run for run (docs/RESULTS.md §3).

    /usr/bin/python3 scripts/train_torch.py --data DIR_OR_MANIFEST --arch vgg16 --bn --width 0.25 \
        --size 128 --epochs 15 --seed 1 --json runs/torch-s1.json
    /usr/bin/python3 scripts/train_torch.py --data DIR_OR_MANIFEST --arch vgg16 --bn --width 0.25 \
        --size 128 --split val --score runs/cxr-s1/best.safetensors --json score.json  # cxr's model in PyTorch

Needs Debian's python3-torch and python3-torchvision (scripts/install-deps.sh fixtures); CPU only.

What is the same as cxr (train/config.h defaults, train/trainer.cpp, data/loader.cpp):
  * model: torchvision's VGG layout (features.N) at width W (channels round(c * W)), batch-norm after every
    conv when --bn, one input channel, the "gap" head (AdaptiveAvgPool2d(1) -> Linear(C, 3)); torchvision's
    init (conv kaiming-normal fan_out, bias 0; batch-norm 1 and 0; Linear normal(0, 0.01), bias 0);
  * data: the manifest's `split` column, classes in sorted order, grey PNG / 255, resized to --size with
    antialiased bilinear interpolation (torchvision's resize; cxr's own resize differs by rounding only);
  * augmentation "xray" (Keras's ImageDataGenerator as cxr draws it): shift +-10 % of each side, shear
    +-0.1 degree, zoom in [0.8, 1.2] drawn for each axis, bilinear, out-of-image points read the nearest
    edge, one fresh draw per image and epoch;
  * batches of 16, reshuffled every epoch, the last partial batch dropped with batch-norm;
  * Adam(lr 3e-4, betas 0.9 / 0.999, eps 1e-8, no weight decay), cross-entropy;
  * plateau schedule as cxr counts it: lr x 0.5 after every 2nd epoch in a row without a lower val_loss
    (not ReduceLROnPlateau, which waits for patience + 1); early stop after 5 such epochs; the best epoch
    (lowest val_loss) is the model scored on --split at the end.
What differs: the random numbers (shuffles, augmentation draws and initial weights come from torch's
generator, cxr's from its own), and the order of float32 sums inside the kernels.
"""
import argparse
import copy
import csv
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

LAYOUTS = {  # torchvision's cfgs A, B, D, E; 0 is a max-pool
    "vgg11": [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
    "vgg13": [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
    "vgg16": [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0],
    "vgg19": [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0],
}


def scaled(c, width):  # models/model.cpp scaled_channels
    return c if width == 1.0 else max(1, int(math.floor(c * width + 0.5)))


class VGG(nn.Module):
    def __init__(self, arch, bn, width, classes, in_channels=1):
        super().__init__()
        layers, c = [], in_channels
        for v in LAYOUTS[arch]:
            if v == 0:
                layers.append(nn.MaxPool2d(2, 2))
                continue
            out = scaled(v, width)
            layers.append(nn.Conv2d(c, out, 3, padding=1))
            if bn:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(c, classes))
        for m in self.modules():  # torchvision's VGG._initialize_weights
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def read_split(data, split, size):
    """Images [N,1,S,S] in [0,1], labels [N], sources [N], class names and files of one split of a manifest."""
    manifest = os.path.join(data, "manifest.csv") if os.path.isdir(data) else data
    root = os.path.dirname(os.path.abspath(manifest))
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    classes = sorted({r["label"] for r in rows})
    rows = [r for r in rows if r["split"] == split]
    if not rows:
        raise SystemExit("%s: no images in split '%s'" % (manifest, split))
    images = torch.empty(len(rows), 1, size, size)
    for i, r in enumerate(rows):
        g = np.asarray(Image.open(os.path.join(root, r["file"])).convert("L"), dtype=np.float32) / 255.0
        x = torch.from_numpy(g)[None]
        if x.shape[1] != size or x.shape[2] != size:
            x = TF.resize(x, [size, size], antialias=True)
        images[i] = x
    labels = torch.tensor([classes.index(r["label"]) for r in rows])
    files = [os.path.join(root, r["file"]) for r in rows]
    return images, labels, [r.get("source", "") for r in rows], classes, files


def augment_xray(x, gen):
    """image/augment.cpp's "xray" preset on a batch [N,1,H,W]: out pixel -> in = c + A (out - c - shift)."""
    n, _, h, w = x.shape
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)
    sx, sy = u(-0.1, 0.1) * w, u(-0.1, 0.1) * h
    shear = u(-0.1, 0.1) * math.pi / 180
    zx, zy = u(0.8, 1.2), u(0.8, 1.2)
    # A = Sh * Z with Keras's shear (x, y) -> (x cos s, y - x sin s)
    a00, a01, a10, a11 = torch.cos(shear) * zx, torch.zeros(n, dtype=torch.float64), -torch.sin(shear) * zx, zy
    cx, cy = (w - 1) / 2, (h - 1) / 2
    # in pixels: in = A out + t with t = c - A (c + s). affine_grid (align_corners=True) works in [-1, 1]
    # coordinates, u = 2 x / (W - 1) - 1, in which the same map is A' = D A D^-1 and t' = D t + (A' - I) 1.
    tx = cx - (a00 * (cx + sx) + a01 * (cy + sy))
    ty = cy - (a10 * (cx + sx) + a11 * (cy + sy))
    dx, dy = 2 / (w - 1), 2 / (h - 1)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = a00, a01 * dx / dy
    theta[:, 1, 0], theta[:, 1, 1] = a10 * dy / dx, a11
    theta[:, 0, 2] = dx * tx + theta[:, 0, 0] + theta[:, 0, 1] - 1
    theta[:, 1, 2] = dy * ty + theta[:, 1, 0] + theta[:, 1, 1] - 1
    grid = F.affine_grid(theta.float(), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


@torch.no_grad()
def predict(model, images, batch=64):
    model.eval()
    return torch.cat([F.softmax(model(images[i:i + batch]), 1) for i in range(0, len(images), batch)])


def roc_auc(scores, positive):
    """Mann-Whitney: the share of (positive, negative) pairs ranked right, ties counting one half."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt) / (len(pos) * len(neg))


def metrics(probs, labels, sources, classes):
    """train/metrics.h's headline figures: accuracy, macro-F1, accuracy per source, NORMAL-vs-PNEUMONIA AUC
    of p(PNEUMONIA) within each source that has both."""
    pred = probs.argmax(1)
    out = {"images": len(labels), "accuracy": float((pred == labels).double().mean()),
           "loss": float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), labels))}
    f1 = []
    for k in range(len(classes)):
        tp = int(((pred == k) & (labels == k)).sum())
        p, r = tp / max(int((pred == k).sum()), 1), tp / max(int((labels == k).sum()), 1)
        f1.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    out["macro_f1"] = sum(f1) / len(f1)
    src = np.array(sources)
    out["source_accuracy"] = {s: float((pred == labels)[torch.from_numpy(src == s)].double().mean())
                              for s in sorted(set(sources))}
    if "NORMAL" in classes and "PNEUMONIA" in classes:
        kn, kp = classes.index("NORMAL"), classes.index("PNEUMONIA")
        out["source_auc"] = {}
        for s in sorted(set(sources)):
            m = torch.from_numpy(src == s) & ((labels == kn) | (labels == kp))
            a = roc_auc(probs[m, kp].numpy(), (labels[m] == kp).numpy())
            if not math.isnan(a):
                out["source_auc"][s] = a
    return out


def train(a, classes, train_set, val_set):
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model = VGG(a.arch, a.bn, a.width, len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    x_train, y_train = train_set
    n = len(y_train)
    steps = n // a.batch if a.bn and n > a.batch else math.ceil(n / a.batch)
    best, best_loss, bad, history = None, math.inf, 0, []
    for epoch in range(1, a.epochs + 1):
        t0 = time.time()
        if a.schedule == "cosine":
            for g in opt.param_groups:
                g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / a.epochs))
        model.train()
        order = torch.randperm(n, generator=gen)
        total, correct, seen = 0.0, 0, 0
        for s in range(steps):
            idx = order[s * a.batch:(s + 1) * a.batch]
            x, y = x_train[idx], y_train[idx]
            if a.augment == "xray":
                x = augment_xray(x, gen)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        vm = metrics(predict(model, val_set[0]), val_set[1], val_set[2], classes)
        rec = {"epoch": epoch, "loss": total / seen, "accuracy": correct / seen, "val_loss": vm["loss"],
               "val_accuracy": vm["accuracy"], "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t0}
        history.append(rec)
        print("epoch %2d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  lr %.3g  %.1f s" %
              (epoch, rec["loss"], rec["accuracy"], rec["val_loss"], rec["val_accuracy"], rec["lr"],
               rec["seconds"]), flush=True)
        if vm["loss"] < best_loss:
            best_loss, best, bad = vm["loss"], copy.deepcopy(model.state_dict()), 0
            rec["best"] = True
        else:
            bad += 1
            if a.schedule == "plateau" and bad % 2 == 0:
                for g in opt.param_groups:
                    g["lr"] *= 0.5
            if bad >= 5 and epoch < a.epochs:
                print("early stop: val_loss has not improved for 5 epochs")
                break
    model.load_state_dict(best)
    return model, history


def load_cxr(path, a, classes):
    """A cxr checkpoint (torchvision names) into the same model."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
    from make_interop_fixtures import read_safetensors  # the reader the interop fixtures use
    tensors = read_safetensors(path)
    model = VGG(a.arch, a.bn, a.width, len(classes))
    state = model.state_dict()
    missing = [k for k in state if k not in tensors]
    if missing:
        raise SystemExit("%s: lacks %s (is it --arch %s%s --width %g?)" %
                         (path, ", ".join(missing[:3]), a.arch, " --bn" if a.bn else "", a.width))
    model.load_state_dict({k: tensors[k].reshape(state[k].shape).to(state[k].dtype) for k in state})
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--arch", default="vgg16", choices=sorted(LAYOUTS))
    p.add_argument("--bn", action="store_true")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--schedule", default="plateau", choices=["plateau", "cosine", "none"])
    p.add_argument("--augment", default="xray", choices=["xray", "none"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--split", default="test", help="split scored at the end (default test; cxr-real has val)")
    p.add_argument("--score", help="score this cxr checkpoint on --split instead of training")
    p.add_argument("--json", help="write the history and the scores here")
    p.add_argument("--predictions", help="write each image's class probabilities on --split here (JSON)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    scored = read_split(a.data, a.split, a.size)
    classes = scored[3]
    out = {"config": vars(a), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if a.score:
        model = load_cxr(a.score, a, classes)
    else:
        x, y, _, c, _ = read_split(a.data, "train", a.size)
        v = read_split(a.data, "val", a.size)
        assert c == classes == v[3], "classes differ between splits"
        print("train %d, val %d, %s %d images; %s" % (len(y), len(v[1]), a.split, len(scored[1]), classes))
        model, out["history"] = train(a, classes, (x, y), v[:3])
    probs = predict(model, scored[0])
    out[a.split] = metrics(probs, scored[1], scored[2], classes)
    if a.predictions:  # as `cxr predict --json` prints them, for a comparison image by image
        with open(a.predictions, "w") as f:
            json.dump([{"file": name, "probabilities": dict(zip(classes, p.tolist()))}
                       for name, p in zip(scored[4], probs)], f, indent=1)
    out["wall_seconds"] = time.time() - t0
    print(json.dumps(out[a.split], indent=1))
    print("wall time %.0f s" % out["wall_seconds"])
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
