#include "explain/faithfulness.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cxr {

Baseline parse_baseline(const std::string& name) {
  if (name == "zeros" || name == "zero") return Baseline::Zeros;
  if (name == "blur") return Baseline::Blur;
  throw Error(str("unknown baseline '", name, "' (known: zeros, blur)"));
}

const char* baseline_name(Baseline b) { return b == Baseline::Zeros ? "zeros" : "blur"; }

double trapezoid_auc(const std::vector<float>& y) {
  CXR_CHECK(y.size() >= 2, "trapezoid_auc: need at least 2 points, got ", y.size());
  double acc = 0.0;
  for (size_t k = 0; k + 1 < y.size(); ++k) acc += 0.5 * (static_cast<double>(y[k]) + y[k + 1]);
  return acc / static_cast<double>(y.size() - 1);
}

std::vector<int64_t> saliency_order(const Tensor& map) {
  std::vector<int64_t> idx(static_cast<size_t>(map.numel()));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  const float* m = map.data();
  // NaN would break the strict weak ordering: it sorts last (least salient).
  auto key = [m](int64_t i) { return std::isnan(m[i]) ? -INFINITY : m[i]; };
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return key(a) > key(b); });
  return idx;
}

Tensor gaussian_blur(const Tensor& chw, float sigma) {
  check_dims(chw, 3, "gaussian_blur");
  CXR_CHECK(sigma > 0.0f && std::isfinite(sigma), "gaussian_blur: sigma ", sigma, " must be positive");
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  const int64_t r = static_cast<int64_t>(std::ceil(3.0f * sigma));
  std::vector<float> k(static_cast<size_t>(2 * r + 1));
  double total = 0.0;
  for (int64_t i = -r; i <= r; ++i) {
    k[static_cast<size_t>(i + r)] = static_cast<float>(std::exp(-0.5 * double(i * i) / (double(sigma) * sigma)));
    total += k[static_cast<size_t>(i + r)];
  }
  for (float& v : k) v = static_cast<float>(v / total);
  Tensor tmp = Tensor::empty(chw.shape()), out = Tensor::empty(chw.shape());
  for (int64_t c = 0; c < C; ++c) {
    const float* src = chw.data() + c * H * W;
    float* t = tmp.data() + c * H * W;
    float* o = out.data() + c * H * W;
    for (int64_t y = 0; y < H; ++y)  // along rows
      for (int64_t x = 0; x < W; ++x) {
        double acc = 0.0;
        for (int64_t i = -r; i <= r; ++i)
          acc += k[static_cast<size_t>(i + r)] * src[y * W + std::clamp(x + i, int64_t{0}, W - 1)];
        t[y * W + x] = static_cast<float>(acc);
      }
    for (int64_t y = 0; y < H; ++y)  // along columns
      for (int64_t x = 0; x < W; ++x) {
        double acc = 0.0;
        for (int64_t i = -r; i <= r; ++i)
          acc += k[static_cast<size_t>(i + r)] * t[std::clamp(y + i, int64_t{0}, H - 1) * W + x];
        o[y * W + x] = static_cast<float>(acc);
      }
  }
  return out;
}

Tensor baseline_image(const Tensor& image, Baseline b, float blur_sigma) {
  check_dims(image, 3, "baseline_image");
  if (b == Baseline::Zeros) return Tensor::zeros(image.shape());
  const float sigma = blur_sigma > 0.0f ? blur_sigma : 5.0f * static_cast<float>(image.size(2)) / 224.0f;
  return gaussian_blur(image, sigma);
}

namespace {

Tensor plane(const Tensor& t, int64_t n) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  return t.slice(n, n + 1).reshape(s);
}

// One image the ScoreFn must see: which explained image, what kind, which step.
enum class Kind { Full, Masked, Deletion, Insertion };
struct Job {
  int64_t image;
  Kind kind;
  int step;
};

}  // namespace

std::vector<FaithfulnessRow> faithfulness(const ScoreFn& score, const Tensor& images, const Tensor& maps,
                                          const std::vector<int>& classes, const FaithfulnessOptions& opt) {
  CXR_CHECK(images.defined() && images.dim() == 4, "faithfulness: images must be [N, C, S, S], got ",
            images.defined() ? to_string(images.shape()) : "undefined");
  const int64_t N = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3), HW = H * W;
  CXR_CHECK(maps.defined() && maps.dim() == 3 && maps.size(0) == N && maps.size(1) == H && maps.size(2) == W,
            "faithfulness: maps must be [N, H, W] = [", N, ", ", H, ", ", W, "] like the images ",
            to_string(images.shape()), ", got ", maps.defined() ? to_string(maps.shape()) : "undefined");
  CXR_CHECK(static_cast<int64_t>(classes.size()) == N, "faithfulness: ", classes.size(), " classes for ", N, " images");
  CXR_CHECK(opt.steps >= 1, "faithfulness: steps ", opt.steps, " must be at least 1");
  CXR_CHECK(opt.batch >= 1, "faithfulness: batch ", opt.batch, " must be at least 1");
  const int n = opt.steps;

  // Per image: the pixel order, both baselines and the [0, 1] mask E.
  std::vector<std::vector<int64_t>> order(static_cast<size_t>(N));
  std::vector<Tensor> del_base(static_cast<size_t>(N)), ins_base(static_cast<size_t>(N)), unit(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    const Tensor img = plane(images, i), map = plane(maps, i);
    order[static_cast<size_t>(i)] = saliency_order(map);
    del_base[static_cast<size_t>(i)] = baseline_image(img, opt.deletion_baseline, opt.blur_sigma);
    ins_base[static_cast<size_t>(i)] = opt.insertion_baseline == opt.deletion_baseline
                                           ? del_base[static_cast<size_t>(i)]
                                           : baseline_image(img, opt.insertion_baseline, opt.blur_sigma);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t p = 0; p < HW; ++p)
      if (std::isfinite(map[p])) lo = std::min(lo, map[p]), hi = std::max(hi, map[p]);
    Tensor e = Tensor::zeros({HW});
    if (hi > lo)
      for (int64_t p = 0; p < HW; ++p) e[p] = std::isfinite(map[p]) ? (map[p] - lo) / (hi - lo) : 0.0f;
    unit[static_cast<size_t>(i)] = e;
  }

  std::vector<Job> jobs;
  for (int64_t i = 0; i < N; ++i) {
    jobs.push_back({i, Kind::Full, 0});
    jobs.push_back({i, Kind::Masked, 0});
    for (int k = 1; k <= n; ++k) jobs.push_back({i, Kind::Deletion, k});
    for (int k = 0; k < n; ++k) jobs.push_back({i, Kind::Insertion, k});
  }

  std::vector<FaithfulnessRow> rows(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    rows[static_cast<size_t>(i)].target = classes[static_cast<size_t>(i)];
    rows[static_cast<size_t>(i)].deletion.assign(static_cast<size_t>(n + 1), 0.0f);
    rows[static_cast<size_t>(i)].insertion.assign(static_cast<size_t>(n + 1), 0.0f);
  }
  const int64_t per = C * HW;
  for (size_t j0 = 0; j0 < jobs.size(); j0 += static_cast<size_t>(opt.batch)) {
    const size_t j1 = std::min(jobs.size(), j0 + static_cast<size_t>(opt.batch));
    Tensor chunk = Tensor::empty({static_cast<int64_t>(j1 - j0), C, H, W});
    for (size_t j = j0; j < j1; ++j) {
      const Job& job = jobs[j];
      const size_t i = static_cast<size_t>(job.image);
      const float* x = images.data() + job.image * per;
      float* out = chunk.data() + static_cast<int64_t>(j - j0) * per;
      if (job.kind == Kind::Full) {
        std::copy(x, x + per, out);
      } else if (job.kind == Kind::Masked) {
        const float* b = del_base[i].data();
        const float* e = unit[i].data();
        for (int64_t c = 0; c < C; ++c)
          for (int64_t p = 0; p < HW; ++p) out[c * HW + p] = e[p] * x[c * HW + p] + (1.0f - e[p]) * b[c * HW + p];
      } else {
        // Deletion: the image with the first m pixels from the baseline; insertion: the baseline with them
        // from the image.
        const bool del = job.kind == Kind::Deletion;
        const float* from = del ? x : ins_base[i].data();
        const float* put = del ? del_base[i].data() : x;
        std::copy(from, from + per, out);
        const int64_t m = (static_cast<int64_t>(job.step) * HW + n / 2) / n;
        for (int64_t q = 0; q < m; ++q) {
          const int64_t p = order[i][static_cast<size_t>(q)];
          for (int64_t c = 0; c < C; ++c) out[c * HW + p] = put[c * HW + p];
        }
      }
    }
    Tensor probs = score(chunk);
    CXR_CHECK(probs.defined() && probs.dim() == 2 && probs.size(0) == chunk.size(0),
              "faithfulness: the score function returned ", probs.defined() ? to_string(probs.shape()) : "undefined",
              " for ", chunk.size(0), " images (want [N, K])");
    const int64_t K = probs.size(1);
    for (size_t j = j0; j < j1; ++j) {
      const Job& job = jobs[j];
      FaithfulnessRow& r = rows[static_cast<size_t>(job.image)];
      CXR_CHECK(r.target >= 0 && r.target < K, "faithfulness: class ", r.target, " out of range for ", K, " classes");
      const float p = probs[static_cast<int64_t>(j - j0) * K + r.target];
      switch (job.kind) {
        case Kind::Full: r.full = p; break;
        case Kind::Masked: r.masked = p; break;
        case Kind::Deletion: r.deletion[static_cast<size_t>(job.step)] = p; break;
        case Kind::Insertion: r.insertion[static_cast<size_t>(job.step)] = p; break;
      }
    }
  }
  for (FaithfulnessRow& r : rows) {
    r.deletion[0] = r.full;
    r.insertion[static_cast<size_t>(n)] = r.full;
    r.deletion_auc = trapezoid_auc(r.deletion);
    r.insertion_auc = trapezoid_auc(r.insertion);
    r.drop = r.full > 0.0f ? std::max(0.0, static_cast<double>(r.full) - r.masked) / r.full : 0.0;
    r.increase = r.masked > r.full;
  }
  return rows;
}

FaithfulnessSummary summarize(const std::vector<FaithfulnessRow>& rows) {
  FaithfulnessSummary s;
  s.images = static_cast<int64_t>(rows.size());
  if (rows.empty()) return s;
  for (const auto& r : rows) {
    s.deletion_auc += r.deletion_auc;
    s.insertion_auc += r.insertion_auc;
    s.average_drop += r.drop;
    s.increase_in_confidence += r.increase ? 1.0 : 0.0;
  }
  const double n = static_cast<double>(rows.size());
  s.deletion_auc /= n;
  s.insertion_auc /= n;
  s.average_drop = 100.0 * s.average_drop / n;
  s.increase_in_confidence = 100.0 * s.increase_in_confidence / n;
  return s;
}

}  // namespace cxr
