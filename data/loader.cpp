#include "data/loader.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/rng.h"
#include "core/threading.h"
#include "dist/comm.h"
#include "image/image.h"

namespace cxr::data {

int default_loader_workers() { return std::max(1, std::min(4, num_threads() - 1)); }

Tensor prepare_image(const Tensor& decoded, int image_size, int channels, bool antialias) {
  check_dims(decoded, 3, "prepare_image (expects [C, H, W])");
  const int64_t c = decoded.size(0);
  // Reduce channels before resizing (less to resize); a gray image stays one channel even for an RGB model,
  // and is expanded only at the very end.
  Tensor x = (channels == 1) ? image::to_gray(decoded) : (c <= 2 ? image::to_channels(decoded, 1) : image::to_channels(decoded, 3));
  if (x.size(1) == image_size && x.size(2) == image_size) return x;
  return image::resize(x, image_size, image_size, antialias);
}

// Prepared (maybe augmented) image -> the model's channels, normalised. May return x itself (when there
// is nothing to do); it never writes into x, which may be a cached image.
static Tensor finish_image(const Tensor& x, int channels, const image::Normalisation& n) {
  Tensor y = x.size(0) == channels ? x : image::to_channels(x, channels);
  if (!n.mean.empty()) {
    if (y.shares_storage_with(x)) y = x.clone();
    image::normalise_(y, n);
  }
  return y;
}

Tensor preprocess_image(const Tensor& decoded, int image_size, int channels, const image::Normalisation& n,
                        bool antialias) {
  Tensor y = finish_image(prepare_image(decoded, image_size, channels, antialias), channels, n);
  return y.shares_storage_with(decoded) ? y.clone() : y;
}

namespace {

// What one epoch looks like: the sample order and, for balanced draws, which repeat of its sample each is.
struct Plan {
  int64_t epoch = 0;
  std::vector<int64_t> order;
  std::vector<uint32_t> repeat;
  int64_t batches = 0;
  Rng augment_base;
};

struct Slot {
  Batch batch;
  std::exception_ptr error;
};

// Thrown inside a worker when its batch belongs to an epoch that was replaced or the loader is stopping.
struct Abandoned {};

}  // namespace

struct Loader::State {
  Dataset ds;
  LoaderOptions opt;
  int workers = 1;
  int64_t capacity = 1;

  // Work queue (guarded by m).
  std::mutex m;
  std::condition_variable work_cv, ready_cv;
  bool stop = false;
  std::atomic<uint64_t> generation{0};
  std::shared_ptr<const Plan> plan;
  int64_t next_claim = 0, next_yield = 0;
  std::map<int64_t, Slot> ready;
  std::vector<std::thread> threads;

  // Cache of prepared images (guarded by cache_m).
  mutable std::mutex cache_m;
  std::vector<Tensor> cache;
  int64_t cache_used = 0, cache_count = 0;

  // Bad files (guarded by bad_m).
  mutable std::mutex bad_m;
  std::set<int64_t> bad;

  std::atomic<int64_t> decodes{0};

  Plan make_plan(int64_t epoch) const;
  Tensor prepared(int64_t index, bool* is_bad);
  Tensor sample_tensor(int64_t index, const Plan& plan, uint32_t repeat, bool* is_bad);
  Batch build(const Plan& plan, int64_t number, uint64_t gen);
  void worker();
};

Plan Loader::State::make_plan(int64_t epoch) const {
  Plan p;
  p.epoch = epoch;
  const int64_t n = ds.size();
  Rng base(opt.seed);
  Rng order_rng = base.fork(2 * static_cast<uint64_t>(epoch));
  p.augment_base = base.fork(2 * static_cast<uint64_t>(epoch) + 1);
  if (opt.balanced) {
    // Every class equally likely, then a uniform member of it: sample weight proportional to 1 / class count.
    std::vector<std::vector<int64_t>> members(ds.num_classes());
    for (int64_t i = 0; i < n; ++i) members[ds.samples[i].label].push_back(i);
    std::vector<int> present;
    for (int c = 0; c < ds.num_classes(); ++c)
      if (!members[c].empty()) present.push_back(c);
    std::map<int64_t, uint32_t> seen;
    for (int64_t k = 0; k < n; ++k) {
      const auto& mc = members[present[order_rng.below(present.size())]];
      int64_t i = mc[order_rng.below(mc.size())];
      p.order.push_back(i);
      p.repeat.push_back(seen[i]++);
    }
  } else {
    p.order.resize(n);
    for (int64_t i = 0; i < n; ++i) p.order[i] = i;
    if (opt.shuffle) order_rng.shuffle(p.order);
    p.repeat.assign(n, 0);
  }
  const int64_t b = opt.batch_size;
  p.batches = opt.drop_last ? n / b : (n + b - 1) / b;
  return p;
}

// The decoded + resized image of a sample, from the cache or the file. With skip_bad, a bad file gives an
// undefined tensor and *is_bad = true; otherwise its error propagates, naming the file.
Tensor Loader::State::prepared(int64_t index, bool* is_bad) {
  *is_bad = false;
  {
    std::lock_guard<std::mutex> lk(cache_m);
    if (cache[index].defined()) return cache[index];
  }
  if (opt.skip_bad) {
    std::lock_guard<std::mutex> lk(bad_m);
    if (bad.count(index)) {
      *is_bad = true;
      return {};
    }
  }
  const std::string& path = ds.samples[index].path;
  Tensor x;
  try {
    decodes.fetch_add(1);
    image::Image img = image::load_image(path);
    x = prepare_image(img.pixels, opt.image_size, opt.channels, opt.antialias);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) != 0) msg = path + ": " + msg;  // every message names the file
    if (!opt.skip_bad) throw Error(msg);
    std::lock_guard<std::mutex> lk(bad_m);
    if (bad.insert(index).second) std::fprintf(stderr, "cxr: warning: skipping a bad image: %s\n", msg.c_str());
    *is_bad = true;
    return {};
  }
  std::lock_guard<std::mutex> lk(cache_m);
  const int64_t bytes = x.numel() * static_cast<int64_t>(sizeof(float));
  if (!cache[index].defined() && cache_used + bytes <= opt.cache_bytes) {
    cache[index] = x;
    cache_used += bytes;
    ++cache_count;
  }
  return x;
}

Tensor Loader::State::sample_tensor(int64_t index, const Plan& plan, uint32_t repeat, bool* is_bad) {
  Tensor x = prepared(index, is_bad);
  if (*is_bad) return {};
  if (!opt.augment.is_identity()) {
    Rng rng = plan.augment_base.fork(static_cast<uint64_t>(index + opt.first_sample));
    if (repeat) rng = rng.fork(repeat);
    x = image::augment(x, opt.augment, rng);
  }
  return finish_image(x, opt.channels, opt.normalisation);
}

Batch Loader::State::build(const Plan& plan, int64_t number, uint64_t gen) {
  const int64_t n = static_cast<int64_t>(plan.order.size());
  const int64_t first = number * opt.batch_size, last = std::min(n, first + opt.batch_size);
  const dist::Range mine = dist::share(last - first, opt.shard, opt.shards);
  const int64_t begin = first + mine.begin, end = first + mine.end;
  const int64_t S = opt.image_size, C = opt.channels, per = C * S * S;
  Batch b;
  b.epoch = plan.epoch;
  b.number = number;
  b.offset = mine.begin;
  b.global_size = last - first;
  b.images = Tensor::empty({end - begin, C, S, S});
  int64_t filled = 0;
  for (int64_t k = begin; k < end; ++k) {
    if (generation.load() != gen) throw Abandoned{};
    const int64_t index = plan.order[k];
    bool is_bad = false;
    Tensor x = sample_tensor(index, plan, plan.repeat[k], &is_bad);
    if (is_bad) continue;
    std::copy(x.data(), x.data() + per, b.images.data() + filled * per);
    b.labels.push_back(ds.samples[index].label);
    b.indices.push_back(index);
    ++filled;
  }
  if (filled < end - begin) b.images = filled ? b.images.slice(0, filled).clone() : Tensor();
  return b;
}

void Loader::State::worker() {
  omp_set_num_threads(1);  // this thread's OpenMP regions (resize) stay on this thread
  std::unique_lock<std::mutex> lk(m);
  for (;;) {
    work_cv.wait(lk, [&] { return stop || (plan && next_claim < plan->batches && next_claim < next_yield + capacity); });
    if (stop) return;
    const int64_t number = next_claim++;
    std::shared_ptr<const Plan> p = plan;
    const uint64_t gen = generation.load();
    lk.unlock();
    Slot slot;
    bool abandoned = false;
    try {
      slot.batch = build(*p, number, gen);
    } catch (const Abandoned&) {
      abandoned = true;
    } catch (...) {
      slot.error = std::current_exception();
    }
    lk.lock();
    if (!abandoned && gen == generation.load()) {
      ready.emplace(number, std::move(slot));
      ready_cv.notify_all();
    }
  }
}

Loader::Loader(Dataset dataset, LoaderOptions options) : st_(std::make_unique<State>()) {
  State& s = *st_;
  s.ds = std::move(dataset);
  s.opt = std::move(options);
  const LoaderOptions& o = s.opt;
  CXR_CHECK(s.ds.size() > 0, s.ds.origin, ": the loader needs at least one sample");
  CXR_CHECK(o.image_size >= 1, "loader: image_size must be >= 1, got ", o.image_size);
  CXR_CHECK(o.channels == 1 || o.channels == 3, "loader: channels must be 1 or 3, got ", o.channels);
  CXR_CHECK(o.batch_size >= 1, "loader: batch_size must be >= 1, got ", o.batch_size);
  CXR_CHECK(o.shards >= 1 && o.shard >= 0 && o.shard < o.shards, "loader: shard ", o.shard, " of ", o.shards);
  CXR_CHECK(o.workers >= 0 && o.prefetch >= 0 && o.cache_bytes >= 0,
            "loader: workers, prefetch and cache_bytes must be >= 0");
  const auto& n = o.normalisation;
  CXR_CHECK(n.mean.size() == n.std.size() && (n.mean.empty() || n.mean.size() == 1 ||
                                              static_cast<int>(n.mean.size()) == o.channels),
            "loader: normalisation '", n.name, "' has ", n.mean.size(), " means and ", n.std.size(),
            " stds for a ", o.channels, "-channel model");
  o.augment.validate();
  for (const Sample& smp : s.ds.samples)
    CXR_CHECK(smp.label >= 0 && smp.label < s.ds.num_classes(), smp.path, ": label index ", smp.label,
              " outside the ", s.ds.num_classes(), " classes");
  s.workers = o.workers > 0 ? o.workers : default_loader_workers();
  s.capacity = s.workers + o.prefetch;
  s.cache.resize(s.ds.size());
  s.threads.reserve(s.workers);
  try {
    for (int i = 0; i < s.workers; ++i) s.threads.emplace_back([&s] { s.worker(); });
  } catch (...) {  // could not start them all: stop the ones that did start before giving up
    {
      std::lock_guard<std::mutex> lk(s.m);
      s.stop = true;
    }
    s.work_cv.notify_all();
    for (std::thread& t : s.threads) t.join();
    throw;
  }
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lk(st_->m);
    st_->stop = true;
    st_->generation.fetch_add(1);
  }
  st_->work_cv.notify_all();
  for (std::thread& t : st_->threads) t.join();
}

void Loader::start_epoch(int64_t epoch) {
  auto p = std::make_shared<const Plan>(st_->make_plan(epoch));
  {
    std::lock_guard<std::mutex> lk(st_->m);
    st_->generation.fetch_add(1);
    st_->plan = std::move(p);
    st_->next_claim = st_->next_yield = 0;
    st_->ready.clear();
  }
  st_->work_cv.notify_all();
}

bool Loader::next(Batch& out) {
  State& s = *st_;
  std::unique_lock<std::mutex> lk(s.m);
  CXR_ASSERT(s.plan, "Loader::next: call start_epoch first");
  for (;;) {
    if (s.next_yield >= s.plan->batches) return false;
    s.ready_cv.wait(lk, [&] { return s.ready.count(s.next_yield) > 0; });
    auto it = s.ready.find(s.next_yield);
    Slot slot = std::move(it->second);
    s.ready.erase(it);
    ++s.next_yield;
    if (slot.error) {
      // The epoch cannot go on: stop its remaining work, then hand the error to the caller.
      s.generation.fetch_add(1);
      s.next_claim = s.next_yield = s.plan->batches;
      s.ready.clear();
      std::rethrow_exception(slot.error);
    }
    s.work_cv.notify_all();  // room for one more batch
    // Every file of the batch was bad: one process skips it; a shard yields it empty, since the other
    // shards' rows of the batch go on (and data-parallel ranks must take every step together).
    if (slot.batch.size() == 0 && s.opt.shards == 1) continue;
    out = std::move(slot.batch);
    return true;
  }
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = st_->ds.size(), b = st_->opt.batch_size;
  return st_->opt.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const { return st_->make_plan(epoch).order; }

Tensor Loader::load_sample(int64_t index, int64_t epoch, bool augment) {
  State& s = *st_;
  CXR_CHECK(index >= 0 && index < s.ds.size(), "Loader::load_sample: index ", index, " out of range [0, ",
            s.ds.size(), ")");
  bool is_bad = false;
  Tensor x = s.prepared(index, &is_bad);
  CXR_CHECK(!is_bad, s.ds.samples[index].path, ": bad image (skipped)");
  Tensor cached = x;
  if (augment && !s.opt.augment.is_identity()) {
    Rng rng = Rng(s.opt.seed).fork(2 * static_cast<uint64_t>(epoch) + 1)
                  .fork(static_cast<uint64_t>(index + s.opt.first_sample));
    x = image::augment(x, s.opt.augment, rng);
  }
  Tensor y = finish_image(x, s.opt.channels, s.opt.normalisation);
  return y.shares_storage_with(cached) ? y.clone() : y;  // never hand out the cache's own storage
}

int64_t Loader::bad_count() const {
  std::lock_guard<std::mutex> lk(st_->bad_m);
  return static_cast<int64_t>(st_->bad.size());
}

std::vector<std::string> Loader::bad_files() const {
  std::lock_guard<std::mutex> lk(st_->bad_m);
  std::vector<std::string> out;
  for (int64_t i : st_->bad) out.push_back(st_->ds.samples[i].path);
  return out;
}

int64_t Loader::decode_count() const { return st_->decodes.load(); }

int64_t Loader::cached_count() const {
  std::lock_guard<std::mutex> lk(st_->cache_m);
  return st_->cache_count;
}

int64_t Loader::cached_bytes() const {
  std::lock_guard<std::mutex> lk(st_->cache_m);
  return st_->cache_used;
}

int Loader::workers() const { return st_->workers; }
const Dataset& Loader::dataset() const { return st_->ds; }
const LoaderOptions& Loader::options() const { return st_->opt; }

}  // namespace cxr::data
