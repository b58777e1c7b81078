#!/usr/bin/env python3
"""Latency of `cxr serve` per interaction (docs/CLI.md, "cxr serve"; no third-party modules).

  python3 bench/serve_latency.py --cxr build/cxr --model best.safetensors --images DIR [--threads N] [--reps 5]

Starts `cxr serve` on a free port, then times, as a client sees it (medians over --reps different images):
  predict        POST /api/predict of an image the server has not seen (decode + preprocess + one forward)
  explain-first  GET /api/explain at the default layer just after (the forward resumed from a pool
                 checkpoint + one head backward per class)
  switch-class   another class at the same layer (fusion of the cached activations and gradients)
  switch-method  gradcam++ at the same layer (fusion)
  switch-layer   a layer one block lower (a resumed forward + head backwards at that layer)
  guided         guided Grad-CAM (a full forward and backward: the one method that repeats the forward)
"""
import argparse, glob, json, os, re, signal, statistics, subprocess, time, urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--cxr", required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--images", required=True, help="a folder of PNG / JPEG images (searched recursively)")
ap.add_argument("--threads", default="0")
ap.add_argument("--reps", type=int, default=5)
a = ap.parse_args()

files = sorted(f for f in glob.glob(os.path.join(a.images, "**", "*"), recursive=True)
               if f.lower().endswith((".png", ".jpg", ".jpeg")))[: a.reps]
server = subprocess.Popen([a.cxr, "--threads", a.threads, "serve", "--model", a.model, "--port", "0"],
                          stdout=subprocess.PIPE, text=True)
url = None
for line in server.stdout:
    m = re.search(r"Open (http://127\.0\.0\.1:\d+/)", line)
    if m:
        url = m.group(1)
        break

def call(path, body=None, ctype=None):
    req = urllib.request.Request(url + path.lstrip("/"), data=body, headers={"Content-Type": ctype} if ctype else {})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        out = r.read()
    return time.perf_counter() - t0, json.loads(out)

try:
    _, layers = call("/api/layers")
    names = [l["name"] for l in layers["layers"]]
    default = layers["default"]
    lower = [l["name"] for l in layers["layers"] if l["alias"].startswith("relu")]
    lower = lower[lower.index(default) - 3] if default in lower and lower.index(default) >= 3 else names[0]
    times = {k: [] for k in ["predict", "explain-first", "switch-class", "switch-method", "switch-layer", "guided"]}
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        t, s = call("/api/predict", data, "application/octet-stream")
        times["predict"].append(t)
        q = lambda **kw: "/api/explain?" + urllib.parse.urlencode(dict(image=s["id"], **kw))
        times["explain-first"].append(call(q(**{"class": "0"}))[0])
        times["switch-class"].append(call(q(**{"class": "1"}))[0])
        times["switch-method"].append(call(q(**{"class": "1", "method": "gradcam++"}))[0])
        times["switch-layer"].append(call(q(**{"class": "1", "layer": lower}))[0])
        times["guided"].append(call(q(**{"class": "1", "method": "guided-gradcam"}))[0])
    _, info = call("/api/info")
    print(f"{info['model']} at {info['input_size']} px, {len(files)} images, threads {a.threads} "
          f"(switch-layer: {default} -> {lower})")
    for k, v in times.items():
        print(f"  {k:14s} median {1000 * statistics.median(v):8.1f} ms   (min {1000 * min(v):.1f}, max {1000 * max(v):.1f})")
    print("  counters:", json.dumps(info["counters"]))
finally:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
