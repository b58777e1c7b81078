#!/usr/bin/env python3
"""Turns the JSON of scripts/bench.sh (out/bench/*.json) into the Markdown tables of docs/PERFORMANCE.md.

    python3 scripts/bench_tables.py [out/bench]

Medians of the repetitions, as Google Benchmark aggregated them. Standard library only.
"""
import json
import os
import re
import sys


def medians(path):
    """name (without the aggregate suffix) -> benchmark entry, for the median aggregates of one file."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("aggregate_name") == "median":
            name = re.sub(r"/(iterations:\d+/)?(manual|real)_time_median$|_median$", "", b["name"])
            out[name] = b
    return out


def fmt(v, digits=2):
    return "" if v is None else f"{v:.{digits}f}"


def sgemm_table(d):
    rows = ["| shape (M x N x K) | 2 threads GFLOP/s | 1 thread GFLOP/s | 2 / 1 |", "|---|---:|---:|---:|"]
    shapes = sorted({re.sub(r"/threads:.*", "", n) for n in d}, key=lambda n: (not n.endswith("1024"), n))
    for s in shapes:
        two = next((b for n, b in d.items() if n.startswith(s + "/threads:all")), None)
        one = next((b for n, b in d.items() if n.startswith(s + "/threads:1")), None)
        if not two or not one:
            continue
        label = s.replace("sgemm/", "").replace("vgg16_", "").replace("/", " ").replace("_", " ")
        g2, g1 = two["GFLOP/s"], one["GFLOP/s"]
        rows.append(f"| {label} | {g2:.0f} | {g1:.0f} | {g2 / g1:.2f} |")
    return "\n".join(rows)


def conv_layers(d):
    return [n.split("/")[-1] for n in d if n.startswith("conv2d/forward/b8/")]


def conv_forward_table(d):
    rows = ["| layer | b8 ms | b8 conv GFLOP/s | b8 SGEMM GFLOP/s | b8 conv / SGEMM | b1 ms | b1 conv / SGEMM |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for layer in conv_layers(d):
        b8, b1 = d[f"conv2d/forward/b8/{layer}"], d.get(f"conv2d/forward/b1/{layer}")
        rows.append(f"| {layer} | {b8['real_time']:.1f} | {b8['GFLOP/s']:.0f} | {b8['sgemm_GFLOP/s']:.0f} | "
                    f"**{b8['vs_sgemm']:.2f}** | {fmt(b1 and b1['real_time'], 1)} | {fmt(b1 and b1['vs_sgemm'])} |")
    s = d.get("vgg16_conv_stack/forward/b8")
    if s:
        rows.append(f"| **all 13 (stack), b8** | {s['real_time']:.0f} | {s['GFLOP/s']:.0f} | {s['sgemm_GFLOP/s']:.0f} | "
                    f"**{s['vs_sgemm']:.2f}** | | |")
    return "\n".join(rows)


def conv_backward_table(d):
    rows = ["| layer | data b1 | data b8 | weight b1 | weight b8 |", "|---|---:|---:|---:|---:|"]
    for layer in conv_layers(d):
        cells = []
        for p in ("backward_data/b1", "backward_data/b8", "backward_weight/b1", "backward_weight/b8"):
            b = d.get(f"conv2d/{p}/{layer}")
            cells.append(f"{b['vs_sgemm']:.2f} ({b['GFLOP/s']:.0f})" if b else "")
        rows.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def model_table(runs):
    """runs: [(label, medians of a bench_model file)]"""
    names = []
    for _, d in runs:
        names += [n for n in d if n not in names]
    rows = ["| benchmark | " + " | ".join(label for label, _ in runs) + " |",
            "|---|" + "---:|" * len(runs)]
    for n in names:
        cells = [fmt(d[n]["img_per_s"], 2) if n in d else "" for _, d in runs]
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def torch_table(files):
    rows = ["| PyTorch run | threads | train img/s (b8) | inference img/s (b8) | inference b1 ms | Grad-CAM b1 ms |",
            "|---|---:|---:|---:|---:|---:|"]
    for label, path in files:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            t = json.load(f)
        rows.append(f"| {label} | {t['threads']} | {t['train_img_per_s']:.2f} | {t['infer_img_per_s']:.2f} | "
                    f"{t['infer_b1_ms']:.0f} | {t['gradcam_b1_ms']:.0f} |")
    return "\n".join(rows)


def explain_table(d):
    rows = ["| method | model | batch | ms per image | / inference (wall) | / inference (CPU) |",
            "|---|---|---:|---:|---:|---:|"]
    for n, b in d.items():
        if n.startswith("inference/") or "ratio_to_inference" not in b:
            continue
        method, model, batch = n.split("/")[:3]
        rows.append(f"| {method} | {model} | {batch[1:]} | {b['ms_per_image']:.1f} | {b['ratio_to_inference']:.2f} | "
                    f"{b.get('cpu_ratio', float('nan')):.2f} |")
    return "\n".join(rows)


def io_table(d):
    rows = ["| stage | images/s (wall) | CPU ms per image |", "|---|---:|---:|"]
    for n, b in d.items():
        rows.append(f"| {n.replace('BM_', '')} | {b['items_per_second']:.0f} | {b['cpu_ms_per_image']:.3f} |")
    return "\n".join(rows)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "out/bench"
    p = lambda name: os.path.join(root, name)
    sections = [
        ("SGEMM (bench_sgemm)", sgemm_table(medians(p("bench_sgemm.json")))),
        ("Convolution forward (bench_conv)", conv_forward_table(medians(p("bench_conv.json")))),
        ("Convolution backward, conv / SGEMM (conv GFLOP/s)", conv_backward_table(medians(p("bench_conv.json")))),
        ("Whole model, images/s (bench_model)", model_table(
            [(label, medians(p(f))) for label, f in [
                ("2 threads", "bench_model.json"), ("1 thread", "bench_model_1thread.json"),
                ("2 threads, OPENBLAS_CORETYPE=SkylakeX", "bench_model_skylakex.json"),
                ("2 threads, OpenMP spinning", "bench_model_spinning.json")] if os.path.exists(p(f))])),
        ("PyTorch reference (bench/torch_reference.py)", torch_table(
            [("as the environment is", p("torch_reference.json")), ("1 thread", p("torch_reference_1thread.json")),
             ("oneDNN limited to AVX2", p("torch_reference_avx2.json")),
             ("OPENBLAS_CORETYPE=SkylakeX", p("torch_reference_skylakex.json"))])),
        ("Explanations (bench_explain)", explain_table(medians(p("bench_explain.json")))),
        ("Data loading (bench_io)", io_table(medians(p("bench_io.json")))),
    ]
    for title, table in sections:
        print(f"### {title}\n\n{table}\n")


if __name__ == "__main__":
    main()
