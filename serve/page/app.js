// The cxr serve page: everything it shows comes from /api (serve/server.h). The overlay is drawn here, on a
// canvas, from the raw map and the original image, so the colormap and opacity sliders never call the server.
"use strict";
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
const state = { info: null, luts: {}, image: null, img: null, views: [null, null], seq: 0 };

async function api(path, options = {}) {
  options.headers = Object.assign({}, options.headers || {}, token ? { Authorization: "Bearer " + token } : {});
  const r = await fetch(path, options);
  const type = r.headers.get("Content-Type") || "";
  const body = type.startsWith("application/json") ? await r.json() : await r.blob();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}
function status(text, error = false) { $("status").textContent = text; $("status").className = error ? "status error" : "status"; }
function option(select, value, label) { const o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o); }

// Bilinear upsampling as torch's interpolate(align_corners=False), the server's own rule (explain/maps.h).
function upsample(map, h, w, H, W) {
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    let sy = Math.max((y + 0.5) * h / H - 0.5, 0); const y0 = Math.min(Math.floor(sy), h - 1), y1 = Math.min(y0 + 1, h - 1); const fy = sy - y0;
    for (let x = 0; x < W; x++) {
      let sx = Math.max((x + 0.5) * w / W - 0.5, 0); const x0 = Math.min(Math.floor(sx), w - 1), x1 = Math.min(x0 + 1, w - 1); const fx = sx - x0;
      const a = map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx, b = map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx;
      out[y * W + x] = a * (1 - fy) + b * fy;
    }
  }
  return out;
}

function imagePixels() {
  const c = document.createElement("canvas"); c.width = state.img.width; c.height = state.img.height;
  const g = c.getContext("2d"); g.drawImage(state.img, 0, 0); return g.getImageData(0, 0, c.width, c.height);
}

// One view: the map upsampled once per explanation; colour and blend on every slider move.
function draw(k) {
  const v = state.views[k], canvas = $(k ? "canvas-b" : "canvas-a");
  if (!state.img) return;
  const W = state.img.width, H = state.img.height;
  canvas.width = W; canvas.height = H;
  const g = canvas.getContext("2d");
  if (!state.base) state.base = imagePixels();
  const out = g.createImageData(W, H), src = state.base.data, dst = out.data;
  const alpha = parseFloat($("alpha").value), lut = state.luts[$("colormap").value];
  if (v && !v.degenerate && v.up && lut) {
    for (let i = 0, n = W * H; i < n; i++) {
      const c = Math.max(0, Math.min(255, Math.round(v.up[i] * 255))) * 3;
      dst[4 * i] = (1 - alpha) * src[4 * i] + alpha * lut[c];
      dst[4 * i + 1] = (1 - alpha) * src[4 * i + 1] + alpha * lut[c + 1];
      dst[4 * i + 2] = (1 - alpha) * src[4 * i + 2] + alpha * lut[c + 2];
      dst[4 * i + 3] = 255;
    }
  } else dst.set(src);
  g.putImageData(out, 0, 0);
  if (v && v.degenerate) {
    g.fillStyle = "rgba(0,0,0,.6)"; g.fillRect(0, H / 2 - H / 12, W, H / 6);
    g.fillStyle = "#fff"; g.font = `bold ${Math.round(H / 14)}px sans-serif`; g.textAlign = "center"; g.textBaseline = "middle";
    g.fillText("FLAT MAP: " + v.degenerate_reason, W / 2, H / 2);
  }
  const cap = $(k ? "cap-b" : "cap-a");
  cap.textContent = v ? `${v.counterfactual ? "against " : ""}${v.class} (p = ${v.probability.toFixed(3)}) · ${v.method} · ${v.layer}` : "";
}
function drawAll() { draw(0); if ($("compare").checked) draw(1); }

function query(k) {
  const p = new URLSearchParams({ image: state.image.id, class: $("class").value,
    method: $(k ? "method-b" : "method").value, layer: $(k ? "layer-b" : "layer").value,
    counterfactual: $("counterfactual").checked && state.methodInfo[$(k ? "method-b" : "method").value].counterfactual });
  return p;
}

async function explain() {
  if (!state.image) return;
  const seq = ++state.seq, t0 = performance.now();
  const ks = $("compare").checked ? [0, 1] : [0];
  status("computing the map…");
  try {
    for (const k of ks) {
      const e = await api("/api/explain?" + query(k));
      if (seq !== state.seq) return;  // a newer choice has been made meanwhile
      e.up = e.degenerate ? null : upsample(e.map.data, e.map.height, e.map.width, state.img.height, state.img.width);
      state.views[k] = e;
    }
    drawAll();
    const e = state.views[0];
    status(`map in ${(performance.now() - t0).toFixed(0)} ms (server ${(e.seconds * 1000).toFixed(0)} ms)` +
           (e.degenerate ? ` — flat map: ${e.degenerate_reason}` : ""));
    ["dl-png", "dl-npy", "dl-json", "measure"].forEach((id) => $(id).disabled = false);
    $("metrics").textContent = "Press “Measure trust metrics” for this map.";
    state.metrics = null;
  } catch (err) { if (seq === state.seq) status(err.message, true); }
}

function showProbs() {
  const s = state.image, div = $("probs"); div.className = ""; div.innerHTML = "";
  state.info.classes.forEach((c, i) => {
    const p = s.probabilities[c], row = document.createElement("div");
    row.className = "prob" + (i === s.predicted_index ? " pred" : "") + ($("class").value === c ? " sel" : "");
    row.innerHTML = `<div class="row"><span class="name"></span><span>${(100 * p).toFixed(1)}%</span></div><div class="bar" style="width:${(100 * p).toFixed(1)}%"></div>`;
    row.querySelector(".name").textContent = c + (i === s.predicted_index ? "  (predicted)" : "");
    row.onclick = () => { $("class").value = c; showProbs(); explain(); };
    div.appendChild(row);
  });
  if (s.sample && s.sample.label) {
    const l = document.createElement("div"); const right = s.sample.label === s.predicted;
    l.innerHTML = `True label: <b></b> — the model is <b class="${right ? "right" : "wrong"}">${right ? "right" : "wrong"}</b>`;
    l.querySelector("b").textContent = s.sample.label; div.appendChild(l);
  }
}

async function useImage(summary, url) {
  const img = new Image();
  await new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error("the browser cannot show this image")); img.src = url; });
  state.image = summary; state.img = img; state.base = null; state.views = [null, null];
  showProbs(); await explain();
}

async function upload(file) {
  status("reading " + file.name + "…");
  try {
    const type = file.type === "image/png" || file.type === "image/jpeg" ? file.type : "application/octet-stream";
    const s = await api("/api/predict", { method: "POST", headers: { "Content-Type": type }, body: file });
    await useImage(s, URL.createObjectURL(file));
  } catch (err) { status(err.message, true); }
}

async function pickIndex(i, li) {
  document.querySelectorAll("#image-list li").forEach((x) => x.classList.remove("sel")); if (li) li.classList.add("sel");
  status("loading image " + i + "…");
  try { const s = await api("/api/images/" + i); await useImage(s, withToken("/api/original?image=" + s.id)); }
  catch (err) { status(err.message, true); }
}

async function listImages() {
  const p = new URLSearchParams({ class: $("f-class").value, source: $("f-source").value, correct: $("f-correct").value });
  if ($("f-correct").value) $("image-count").textContent = "predicting the images to sort right from wrong…";
  try {
    const r = await api("/api/images?" + p), ol = $("image-list"); ol.innerHTML = "";
    $("image-count").textContent = `${r.matched} of ${r.total} images` + (r.matched > r.count ? ` (first ${r.count} shown)` : "");
    for (const s of r.images) {
      const li = document.createElement("li"), name = document.createElement("span"), tag = document.createElement("span");
      name.textContent = s.file; tag.textContent = (s.label || "?") + (s.predicted ? (s.correct ? " ✓" : " ✗ " + s.predicted) : "");
      if (s.predicted) tag.className = s.correct ? "right" : "wrong";
      li.append(name, tag); li.onclick = () => pickIndex(s.index, li); ol.appendChild(li);
    }
  } catch (err) { $("image-count").textContent = err.message; }
}

async function measure() {
  $("metrics").textContent = "measuring (deletion and insertion run the model a few dozen times)…";
  try {
    const m = await api("/api/metrics?" + query(0)); state.metrics = m;
    const f = (x, d = 3) => x === null || x === undefined ? "n/a" : Number(x).toFixed(d);
    const rows = [];
    if (m.faithfulness) {
      rows.push(["Deletion AUC (lower is better)", f(m.faithfulness.deletion_auc)]);
      rows.push(["Insertion AUC (higher is better)", f(m.faithfulness.insertion_auc)]);
    }
    rows.push(["Energy in the lungs", m.lung ? f(m.lung.energy) : "no lung mask"]);
    rows.push(["Energy in the lesion", m.lesion ? f(m.lesion.energy) : "no lesion mask"]);
    if (m.shortcut) rows.push(["Share on the border band", f(m.shortcut.border)],
      ["Shortcut flag", m.shortcut.flagged ? "<span class=flag>FLAGGED: evidence on the border</span>" : "not flagged"]);
    if (m.degenerate) rows.push(["Map", "flat: nothing to measure"]);
    $("metrics").className = ""; $("metrics").innerHTML = "<table class=metrics>" + rows.map((r) => `<tr><td>${r[0]}</td><td class=v>${r[1]}</td></tr>`).join("") + "</table>";
  } catch (err) { $("metrics").textContent = err.message; }
}

function save(blob, name) { const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = name; a.click(); }
function stem() { const v = state.views[0]; return `${state.image.id}_${v.class}_${v.method}`; }

async function start() {
  try {
    const [info, layers, methods] = await Promise.all([api("/api/info"), api("/api/layers"), api("/api/methods")]);
    state.info = info; state.luts = (await api("/api/colormaps")).colormaps;
    $("model-line").textContent = `${info.model} · ${info.checkpoint} · ${info.classes.length} classes: ${info.classes.join(", ")} · input ${info.input_size} px`;
    option($("class"), "pred", "the predicted class"); info.classes.forEach((c) => option($("class"), c, c));
    state.methodInfo = {};
    for (const m of methods.methods) { state.methodInfo[m.name] = m; option($("method"), m.name, m.name); option($("method-b"), m.name, m.name); }
    $("method-b").value = "gradcam++";
    for (const l of layers.layers) { option($("layer"), l.name, l.display); option($("layer-b"), l.name, l.display); }
    $("layer").value = layers.default; $("layer-b").value = layers.default;
    methods.colormaps.forEach((c) => option($("colormap"), c, c));
    if (info.data) {
      $("browse").hidden = false;
      const r = await api("/api/images?limit=1");
      r.classes.forEach((c) => option($("f-class"), c, c)); r.sources.forEach((s) => option($("f-source"), s, s));
      listImages();
    }
    status("drop an X-ray to begin");
  } catch (err) { status("cannot reach the server: " + err.message, true); }
}

$("file").onchange = (e) => e.target.files[0] && upload(e.target.files[0]);
const drop = $("drop");
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); };
["class", "method", "layer", "counterfactual", "method-b", "layer-b"].forEach((id) => $(id).onchange = () => { showProbsIf(); explain(); });
function showProbsIf() { if (state.image) showProbs(); }
$("compare").onchange = () => { $("view-b").hidden = $("compare-controls").hidden = !$("compare").checked; explain(); };
$("alpha").oninput = () => { $("alpha-v").textContent = Number($("alpha").value).toFixed(2); drawAll(); };
$("colormap").onchange = drawAll;
["f-class", "f-source", "f-correct"].forEach((id) => $(id).onchange = listImages);
$("measure").onclick = measure;
$("dl-png").onclick = () => $("canvas-a").toBlob((b) => save(b, stem() + "_overlay.png"), "image/png");
$("dl-npy").onclick = async () => { try { save(await api("/api/explain?" + query(0) + "&format=npy"), stem() + "_raw.npy"); } catch (err) { status(err.message, true); } };
$("dl-json").onclick = () => {
  const v = Object.assign({}, state.views[0]); delete v.up;
  const rec = { tool: "cxr serve", model: state.info.model, checkpoint: state.info.checkpoint, checkpoint_sha256: state.info.checkpoint_sha256,
    image: state.image, explanation: v, colormap: $("colormap").value, opacity: Number($("alpha").value), metrics: state.metrics };
  save(new Blob([JSON.stringify(rec, null, 2)], { type: "application/json" }), stem() + ".json");
};
start();
