#include "train/trainer.h"

#include <atomic>
#include <cmath>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>

#include "autograd/ops.h"
#include "core/allocator.h"
#include "core/argmax.h"
#include "core/blas.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/threading.h"
#include "dist/comm.h"
#include "core/atomic_file.h"
#include "io/checkpoint.h"
#include "data/dataset.h"
#include "io/json_file.h"
#include "data/loader.h"
#include "layers/loss.h"
#include "layers/optim.h"
#include "models/model.h"
#include "train/evaluate.h"
#include "train/grad_reducer.h"
#include "train/mixup.h"
#include "train/recalibrate.h"
#include "train/run_files.h"
#include "train/swa.h"

namespace fs = std::filesystem;

namespace cxr {

static std::atomic<bool> g_stop{false};
static volatile std::sig_atomic_t g_signal = 0;  // the signal that asked to stop (0: request_stop())

void request_stop() { g_stop.store(true); }

static void on_stop_signal(int sig) {
  g_signal = sig;
  request_stop();
  // A second Ctrl-C (or SIGTERM) ends the process at once. The run folder stays consistent even then:
  // every file is replaced atomically and state.json commits an epoch's set (train/run_files.h).
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

void install_interrupt_handler() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

int interrupt_exit_code() { return 128 + (g_signal ? static_cast<int>(g_signal) : SIGINT); }

namespace {

struct TrainData {
  data::Dataset train, val;
};

bool has_split(const data::Dataset& ds, const std::string& name) {
  for (const auto& s : ds.samples)
    if (s.split == name) return true;
  return false;
}

// Training and validation sets: an explicit --val (its val split if it has one, else all of it), else the
// data's own val split, else a patient-grouped split of the training data (e.g. Kaggle's Data/{train,test}
// has no val split). Samples of c.exclude_sources are left out of both.
TrainData open_data(const TrainConfig& c) {
  TrainData d;
  data::Dataset all = data::exclude_sources(data::open_dataset(c.data), c.exclude_sources);
  data::Dataset train = data::has_splits(all) ? data::select_split(all, c.train_split) : all;
  if (!c.val.empty()) {
    d.train = std::move(train);
    data::Dataset v = data::exclude_sources(data::open_dataset(c.val, {d.train.class_names}), c.exclude_sources, false);
    d.val = has_split(v, c.val_split) ? data::select_split(v, c.val_split) : v;
  } else if (has_split(all, c.val_split)) {
    d.train = std::move(train);
    d.val = data::select_split(all, c.val_split);
  } else {
    data::PatientSplit s = data::split_by_patient(train, c.val_fraction, c.seed);
    d.train = std::move(s.train);
    d.val = std::move(s.val);
  }
  CXR_CHECK(d.train.size() > 0, c.data, ": no training images",
            c.exclude_sources.empty() ? "" : " once the sources " + join(c.exclude_sources) + " are left out");
  CXR_CHECK(d.val.size() > 0, (c.val.empty() ? c.data : c.val), ": no validation images");
  return d;
}

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, Model& m) {
  if (c.opt == OptimizerKind::sgd)
    return std::make_unique<SGD>(m.named_parameters(), c.lr,
                                 SGDOptions{c.momentum, 0.0f, c.weight_decay, c.nesterov});
  AdamOptions a;
  a.weight_decay = c.weight_decay;
  if (c.opt == OptimizerKind::adam) return std::make_unique<Adam>(m.named_parameters(), c.lr, a);
  return std::make_unique<AdamW>(m.named_parameters(), c.lr, a);
}

// Every Dropout layer draws its masks from (seed, epoch, step, layer) and each row's from its place in the
// whole batch (layers/activation.h): a step's masks depend neither on what ran before it, which is what
// makes resuming exact, nor on how many ranks share the batch.
void reseed_dropouts(Model& m, uint64_t seed, int epoch, int64_t step, int64_t first_row) {
  uint64_t i = 0;
  for (auto& l : m.layers())
    if (auto* d = dynamic_cast<Dropout*>(l.module)) {
      d->rng = Rng(seed ^ 0xd50u).fork(1000003ull * epoch + i++).fork(static_cast<uint64_t>(step));
      d->first_row = first_row;
    }
}

// Data parallel: this rank's share of a validation set (contiguous, dist::share).
data::Dataset shard_of(const data::Dataset& ds, const dist::Comm& comm) {
  if (comm.size() == 1) return ds;
  const dist::Range r = dist::share(ds.size(), comm.rank(), comm.size());
  data::Dataset out = ds;
  out.samples.assign(ds.samples.begin() + r.begin, ds.samples.begin() + r.end);
  return out;
}

// The sum of the loss's per-row weights (PyTorch's weighted mean divides by it): the row count without
// class weights. A rank's share of the whole batch's mean loss is its sum over the whole batch's.
double loss_normaliser(const std::vector<int>& labels, const CrossEntropyOptions& ce) {
  if (ce.class_weights.empty()) return static_cast<double>(labels.size());
  double w = 0;
  for (int y : labels) w += ce.class_weights[static_cast<size_t>(y)];
  return w;
}

// Where the ranks other than 0 write what they would print: nowhere (they speak only to fail).
std::FILE* null_log() {
  static std::FILE* f = std::fopen("/dev/null", "w");
  return f;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Loads an initial checkpoint for fine-tuning; a head of another class count is left freshly initialised.
void load_init(const std::string& path, Model& m, std::FILE* log) {
  auto layers = m.layers();
  std::string head;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    if (dynamic_cast<Linear*>(it->module)) {
      head = it->name + ".";
      break;
    }
  try {
    io::load_checkpoint(path, m);
    std::fprintf(log, "Initialised all weights from %s\n", path.c_str());
  } catch (const Error& first) {
    io::LoadOptions o;
    o.skip_prefixes = {head};
    try {
      io::load_checkpoint(path, m, o);
    } catch (const Error&) {
      throw Error(str("--init ", path, ": ", first.what()));
    }
    std::fprintf(log, "Initialised from %s except the output layer %s* (new class count)\n", path.c_str(),
                 head.c_str());
  }
}

// On resume: the committed version of every file of epoch st.epochs_done back under its own name, each
// recognised by the epoch (or step) it records; the .prev and temporary files of a crash removed.
void recover_committed_files(const RunFiles& f, const RunState& st, bool swa) {
  remove_stray_temporaries(f.dir);
  const int64_t e = st.epochs_done;
  auto of_epoch = [](int64_t want) {
    return [want](const std::string& p) { return io::read_checkpoint_meta(p).epoch == want; };
  };
  restore_committed(f.last, str("the weights after epoch ", e), of_epoch(e));
  const int64_t step = io::read_checkpoint_meta(f.last).step;
  restore_committed(f.last_opt, str("the optimizer state after epoch ", e, " (step ", step, ")"),
                    [step](const std::string& p) { return io::optimizer_state_step(p) == step; });
  if (st.best_epoch > 0)
    restore_committed(f.best, str("the weights of the best epoch, ", st.best_epoch), of_epoch(st.best_epoch));
  if (swa) restore_committed(f.swa, str("the weight average up to epoch ", e), of_epoch(e));
}

// On resume of a run that never committed an epoch: whatever epoch 1 had begun to write goes.
void remove_uncommitted_files(const RunFiles& f) {
  remove_stray_temporaries(f.dir);
  std::error_code ec;
  for (const std::string* p : {&f.last, &f.last_opt, &f.best, &f.swa, &f.history}) {
    fs::remove(*p, ec);
    drop_previous(*p);
  }
}

// Gradient buckets of data-parallel training (train/grad_reducer.h): big enough that each allreduce is
// bandwidth-bound, small enough that the first starts while backward has most of the model still to do.
constexpr int64_t kBucketBytes = int64_t{4} << 20;

TrainResult run(TrainConfig cfg, bool resuming, std::FILE* log) {
  // Data parallel under mpirun (docs/DISTRIBUTED.md): every rank runs this function with the same config;
  // each trains on its share of every batch, the gradients are summed over the ranks, and rank 0 alone
  // prints and writes the run folder. One process is the case of one rank.
  dist::Comm& comm = dist::world();
  const bool root = comm.is_root(), parallel = comm.size() > 1;
  if (!root) log = null_log();
  g_stop.store(false);
  reset_storage_peak();
  const fs::path dir(cfg.out);
  ModelConfig mc;
  mc.arch = cfg.arch;
  mc.batch_norm = cfg.batch_norm;
  mc.width = cfg.width;
  mc.in_channels = cfg.channels;
  mc.input_size = cfg.size;
  mc.head = cfg.head;
  mc.num_classes = 1;  // known once the data is read; the rest is checked first, before a long scan
  mc.dropout = cfg.dropout;
  mc.seed = cfg.seed;
  validate(mc);
  TrainData data = open_data(cfg);
  std::fprintf(log, "train: %s\nval:   %s\n", data.train.summary().c_str(), data.val.summary().c_str());
  mc.num_classes = data.train.num_classes();
  std::shared_ptr<Model> model = make_model(mc);
  if (!cfg.init.empty() && !resuming) load_init(cfg.init, *model, log);
  CXR_CHECK(cfg.freeze.empty() || cfg.freeze == "features", "--freeze: unknown part '", cfg.freeze,
            "' (use features)");
  if (cfg.freeze == "features") model->features->set_requires_grad(false);
  std::unique_ptr<Optimizer> opt = make_optimizer(cfg, *model);
  const image::Normalisation norm = image::normalisation_preset(cfg.normalize);
  std::fprintf(log, "model: %s, width %g, %dx%d x%d, %lld parameters (%lld trainable); %s\n", model->name().c_str(),
               cfg.width, cfg.size, cfg.size, cfg.channels, static_cast<long long>(model->parameter_count()),
               [&] {
                 long long n = 0;
                 for (auto* p : model->parameters()) n += p->requires_grad() ? p->numel() : 0;
                 return n;
               }(),
               opt->describe().c_str());
  std::fprintf(log, "compute: %d thread(s), OpenBLAS %s kernels\n", num_threads(), blas_core_name());
  if (parallel)
    std::fprintf(log, "data parallel: %d ranks x %d thread(s) (rank 0's count), global batch %d (%s per rank)\n",
                 comm.size(), num_threads(), cfg.batch,
                 cfg.batch % comm.size() == 0 ? std::to_string(cfg.batch / comm.size()).c_str()
                                             : str(cfg.batch / comm.size(), "-", cfg.batch / comm.size() + 1).c_str());
  if (parallel && cfg.mixup > 0)
    std::fprintf(log, "note: --mixup pairs the images within each rank's share of the batch, so this run's "
                      "blends differ from one process's\n");
  // only now: a run refused above (options, data, --init) leaves no empty folder
  if (root) fs::create_directories(dir);

  const RunFiles files = run_files(cfg.out);
  const std::string &last = files.last, &best = files.best, &last_opt = files.last_opt;
  const bool with_swa = cfg.swa_start > 0;
  RunState st;
  TrainResult result;
  result.best_checkpoint = best;
  result.last_checkpoint = last;
  const bool committed = resuming && fs::exists(files.state);
  if (committed) {
    st = run_state_from_json(io::read_json_file(files.state), files.state);
    // Rank 0 puts the committed files back; the others read them once it has.
    if (root) recover_committed_files(files, st, with_swa && st.epochs_done >= cfg.swa_start);
    comm.barrier();
    io::load_checkpoint(last, *model);
    io::load_optimizer_state(last_opt, *opt);
    result.history = read_history_csv(files.history);
    result.history.resize(std::min<size_t>(result.history.size(), st.epochs_done));
    std::fprintf(log, "Resuming %s after epoch %d (lr %.3g)\n", cfg.out.c_str(), st.epochs_done, opt->lr());
    if (st.epochs_done >= cfg.epochs)
      std::fprintf(log, "Nothing to train: the run has done %d of its %d epochs (a larger --epochs trains on).\n",
                   st.epochs_done, cfg.epochs);
  } else if (resuming) {
    if (root) remove_uncommitted_files(files);
    std::fprintf(log, "Resuming %s: it stopped before its first epoch was saved, so it starts again at epoch 1\n",
                 cfg.out.c_str());
  } else if (root) {
    cxr::write_file_atomic(files.config, nlohmann::json(cfg).dump(2) + "\n");
  }
  comm.barrier();

  data::LoaderOptions lo;
  lo.image_size = cfg.size;
  lo.channels = cfg.channels;
  lo.batch_size = cfg.batch;
  lo.shuffle = true;
  // With batch-norm the last partial batch is dropped: a batch of a few images gives batch-norm noisy
  // statistics (of one, none). The order is reshuffled every epoch, so no image is always the one left out.
  // Without batch-norm every image trains every epoch, as Keras and PyTorch's DataLoader do by default.
  lo.drop_last = cfg.batch_norm && data.train.size() > cfg.batch;
  lo.balanced = cfg.balanced;
  lo.seed = cfg.seed;
  lo.augment = image::AugmentParams::preset(cfg.augment);
  lo.normalisation = norm;
  lo.workers = cfg.workers;
  lo.skip_bad = cfg.skip_bad;
  lo.shard = comm.rank();
  lo.shards = comm.size();
  data::Loader loader(data.train, lo);
  data::LoaderOptions vo = inference_loader_options(mc, norm, cfg.batch, cfg.skip_bad);
  vo.workers = cfg.workers;
  // --precise-bn and SWA's batch-norm pass: the training images again, shuffled (another order each
  // epoch) but not augmented. No image cache of its own (the training loader holds one): decoding again
  // on a worker thread costs less than the forward pass it feeds.
  std::unique_ptr<data::Loader> bn_loader;
  if (cfg.precise_bn || (cfg.swa_start > 0 && cfg.batch_norm)) {
    data::LoaderOptions po = vo;
    po.shuffle = true;
    po.drop_last = lo.drop_last;
    po.seed = Rng(cfg.seed).fork(0x6e).next_u64();
    po.cache_bytes = 0;
    bn_loader = std::make_unique<data::Loader>(data.train, po);
  }

  // --swa-start: the running mean of the weights, in a model of its own (train/swa.h).
  std::unique_ptr<WeightAverage> swa;
  if (cfg.swa_start > 0) {
    std::shared_ptr<Model> avg = make_model(mc);
    int64_t count = 0;
    if (resuming && st.epochs_done >= cfg.swa_start) {
      io::load_checkpoint(files.swa, *avg);  // recover_committed_files made it the average up to epochs_done
      count = st.epochs_done - cfg.swa_start + 1;
      result.swa_checkpoint = files.swa;
    }
    swa = std::make_unique<WeightAverage>(avg, count);
  }

  // --sync-bn: every rank must hold rows of every batch, since all of them meet in each batch-norm layer.
  if (parallel && cfg.sync_bn) {
    const int64_t smallest = lo.drop_last || data.train.size() % cfg.batch == 0
                                 ? std::min<int64_t>(cfg.batch, data.train.size())
                                 : data.train.size() % cfg.batch;
    CXR_CHECK(smallest >= comm.size(), "train: --sync-bn on ", comm.size(), " ranks needs at least one image per rank "
              "in every batch, and a batch of this run has ", smallest, ": use a --batch of at least ", comm.size());
    for (auto& l : model->layers())
      if (auto* bn = dynamic_cast<BatchNorm2d*>(l.module))
        bn->sync = [&comm](double* v, int64_t n) { comm.allreduce_sum(v, n); };
  } else if (parallel && cfg.batch_norm) {
    std::fprintf(log, "batch-norm: each rank normalises with its own share's statistics (as PyTorch DDP; "
                      "--sync-bn for the whole batch's)\n");
  }
  std::unique_ptr<GradReducer> reducer;
  if (parallel) {
    std::vector<Variable*> trainable;
    for (Variable* p : model->parameters())
      if (p->requires_grad()) trainable.push_back(p);
    reducer = std::make_unique<GradReducer>(comm, trainable, kBucketBytes);
  }
  const data::Dataset val_shard = shard_of(data.val, comm);

  CrossEntropyOptions ce;
  if (cfg.class_weights) ce.class_weights = data.train.class_weights();
  ce.label_smoothing = cfg.label_smoothing;

  io::CheckpointMeta meta;
  meta.model = mc;
  meta.classes = data.train.class_names;
  meta.mean = norm.mean;
  meta.std = norm.std;
  meta.seed = cfg.seed;
  meta.source = "cxr train";
  meta.extra["train_config"] = cfg;
  meta.extra["normalize"] = cfg.normalize;

  const float lr0 = cfg.lr;
  int64_t val_skipped = 0;  // validation images the last validation could not read (skip_bad)
  for (int epoch = st.epochs_done + 1; epoch <= cfg.epochs; ++epoch) {
    model->train();
    if (cfg.schedule == LrSchedule::cosine)
      opt->set_lr(static_cast<float>(lr0 * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / cfg.epochs))));
    if (swa && cfg.swa_lr > 0 && epoch >= cfg.swa_start) opt->set_lr(cfg.swa_lr);
    loader.start_epoch(epoch);
    int64_t steps = loader.batches_per_epoch();
    if (cfg.max_steps > 0) steps = std::min(steps, cfg.max_steps);
    Progress bar(str("Epoch ", epoch, "/", cfg.epochs), steps, log);
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, step = 0;
    data::Batch b;
    while (step < steps && loader.next(b)) {
      reseed_dropouts(*model, cfg.seed, epoch, step, b.offset);
      // --mixup: the blend of this batch is a function of (seed, epoch, step) alone, so a resumed run
      // draws the same ones.
      MixedBatch mix;
      if (cfg.mixup > 0 && b.size() > 0) {
        Rng r = Rng(cfg.seed).fork(0x6d6978).fork(static_cast<uint64_t>(epoch)).fork(static_cast<uint64_t>(step));
        mix = mixup_batch(b.images, b.labels, cfg.mixup, r);
      }
      // This rank's rows (all of the batch in one process; none on a rank whose share of a short last
      // batch is empty): forward, loss, and how many it got right.
      Variable logits, loss;
      float lv = 0;
      int64_t right = 0;
      if (b.size() > 0) {
        logits = (*model)(Variable(cfg.mixup > 0 ? mix.images : b.images));
        bool finite = true;
        for (int64_t i = 0; i < logits.numel() && finite; ++i) finite = std::isfinite(logits.data()[i]);
        loss = !finite         ? Variable(Tensor::full({}, NAN))
               : cfg.mixup > 0 ? mixup_cross_entropy(logits, mix, ce)
                               : cross_entropy(logits, b.labels, ce);
        lv = loss.item();
        const Tensor& z = logits.data();
        const int64_t K = z.size(1);
        for (int64_t i = 0; i < b.size(); ++i)
          right += argmax(z.data() + i * K, K) == (cfg.mixup > 0 ? mix.dominant(static_cast<size_t>(i)) : b.labels[i]);
      }
      // Summed over the ranks: the loss's normaliser, the weighted loss, non-finite losses, rows, right.
      const double w = loss_normaliser(b.labels, ce);
      double sums[5] = {w, b.size() > 0 ? lv * w : 0.0, b.size() > 0 && !std::isfinite(lv) ? 1.0 : 0.0,
                        static_cast<double>(b.size()), static_cast<double>(right)};
      comm.allreduce_sum(sums, 5);
      const double batch_loss = sums[0] > 0 ? sums[1] / sums[0] : 0.0;
      if (sums[2] > 0) {
        bar.finish();
        throw Error(str("loss became ", std::isfinite(lv) ? static_cast<float>(NAN) : lv, " at epoch ", epoch,
                        " step ", step + 1, " (lr ", opt->lr(), "); training stopped. The last good checkpoint is kept: ",
                        (st.epochs_done > 0 ? last : std::string("(none yet)")), ". Try a lower --lr or --bn."));
      }
      // Each rank's loss is its rows' mean: weighted by its share of the batch, the sum over the ranks is
      // the whole batch's mean loss, and the sum of the ranks' gradients the whole batch's gradient. (The
      // loss, not the gradients, is scaled: then a synchronised batch-norm's backward, which sums over the
      // ranks, adds terms of the same units.)
      if (reducer) reducer->begin();
      if (b.size() > 0) (parallel ? scale(loss, static_cast<float>(w / sums[0])) : loss).backward();
      if (reducer) reducer->finish();
      opt->step();
      opt->zero_grad();
      const int64_t rows = static_cast<int64_t>(sums[3]);
      correct += static_cast<int64_t>(sums[4]);
      loss_sum += batch_loss * static_cast<double>(rows);
      seen += rows;
      ++step;
      bar.update(step, {{"loss", loss_sum / seen}, {"acc", static_cast<double>(correct) / seen}}, seen);
      // A stop asked of any rank (Ctrl-C reaches them all, SIGTERM maybe one) stops every rank here.
      double stop = g_stop.load() ? 1.0 : 0.0;
      comm.allreduce_sum(&stop, 1);
      if (stop > 0) {
        g_stop.store(true);
        break;
      }
    }
    bar.finish();
    if (cfg.precise_bn && !g_stop.load())
      recalibrate_with_progress(*model, *bn_loader, epoch, cfg.max_steps, "  batch-norm statistics", log,
                                [] { return !g_stop.load(); });
    if (parallel) {  // a stop that reached one rank during the batch-norm pass stops them all
      double stop = g_stop.load() ? 1.0 : 0.0;
      comm.allreduce_sum(&stop, 1);
      if (stop > 0) g_stop.store(true);
    }
    if (g_stop.load()) {
      const std::string& path = files.interrupted;
      meta.epoch = epoch - 1;
      meta.created = now_iso();
      if (root) io::save_checkpoint(path, *model, meta);
      std::fprintf(log, "Interrupted in epoch %d: current weights saved to %s; resume from epoch %d with "
                        "`cxr train --resume %s`\n", epoch, path.c_str(), st.epochs_done + 1, cfg.out.c_str());
      result.interrupted = true;
      break;
    }
    // Each rank validates its share of the images; the sums make the metrics of the whole set.
    double val[3] = {0, 0, 0};  // loss sum, right, images read
    if (val_shard.size() > 0) {
      DatasetPredictions vp = predict_dataset(*model, val_shard, vo);
      const double n = static_cast<double>(vp.targets.size());
      val[0] = n > 0 ? vp.loss * n : 0.0;
      val[1] = n > 0 ? std::round(vp.accuracy() * n) : 0.0;
      val[2] = n;
    }
    comm.allreduce_sum(val, 3);
    val_skipped = data.val.size() - static_cast<int64_t>(val[2]);  // unreadable (skip_bad)
    EpochRecord rec;
    rec.epoch = epoch;
    rec.loss = seen ? loss_sum / seen : NAN;
    rec.accuracy = seen ? static_cast<double>(correct) / seen : NAN;
    rec.val_loss = val[2] > 0 ? val[0] / val[2] : NAN;
    rec.val_accuracy = val[2] > 0 ? val[1] / val[2] : NAN;
    rec.lr = opt->lr();
    rec.seconds = bar.elapsed();
    result.history.push_back(rec);
    std::fprintf(log, "%s\n", format_epoch_line(rec, cfg.epochs).c_str());
    if (reducer)  // what the overlap with backward did not hide (rank 0's; docs/DISTRIBUTED.md)
      std::fprintf(log, "  gradient allreduce: %.2f s of the epoch's %.2f s spent waiting after backward "
                        "(%d buckets)\n", reducer->take_wait_seconds(), rec.seconds, reducer->buckets());
    std::fflush(log);

    meta.epoch = epoch;
    meta.step = opt->step_count();
    meta.created = now_iso();
    meta.metrics = {{"loss", rec.loss}, {"accuracy", rec.accuracy}, {"val_loss", rec.val_loss},
                    {"val_accuracy", rec.val_accuracy}};
    // The end of the epoch is one transaction, committed by state.json (train/run_files.h).
    if (std::isfinite(rec.val_loss) && rec.val_loss < st.best_val_loss) {
      st.best_val_loss = rec.val_loss;
      st.best_epoch = epoch;
      st.bad_epochs = 0;
      if (root) {
        keep_previous(best);
        io::save_checkpoint(best, *model, meta);
      }
    } else {
      ++st.bad_epochs;
      if (cfg.schedule == LrSchedule::plateau && cfg.plateau_patience > 0 && st.bad_epochs % cfg.plateau_patience == 0) {
        opt->set_lr(opt->lr() * cfg.plateau_factor);
        std::fprintf(log, "val_loss has not improved for %d epochs: lr -> %.3g\n", st.bad_epochs, opt->lr());
      }
    }
    if (swa && epoch >= cfg.swa_start) {
      const SwaValidation sv = average_epoch(*swa, *model, bn_loader.get(), cfg.max_steps, epoch, data.val, vo, log);
      result.swa_val_loss = sv.val_loss;
      result.swa_val_accuracy = sv.val_accuracy;
      io::CheckpointMeta smeta = meta;
      smeta.metrics = {{"val_loss", sv.val_loss}, {"val_accuracy", sv.val_accuracy}};
      smeta.extra["swa"] = {{"first_epoch", cfg.swa_start}, {"last_epoch", epoch}, {"epochs", swa->count()}};
      if (root) {
        keep_previous(files.swa);
        io::save_checkpoint(files.swa, swa->model(), smeta);
      }
      result.swa_checkpoint = files.swa;
      std::fprintf(log, "  SWA of epochs %d-%d: val_loss: %.4f - val_accuracy: %.4f\n", cfg.swa_start, epoch,
                   sv.val_loss, sv.val_accuracy);
    }
    st.epochs_done = epoch;
    if (root) {  // every rank holds the same weights and optimizer state: rank 0 writes them
      keep_previous(last);
      io::save_checkpoint(last, *model, meta);
      keep_previous(last_opt);
      io::save_optimizer_state(last_opt, *opt);
      write_history_csv(files.history, result.history);
      cxr::write_file_atomic(files.state, to_json(st).dump(2) + "\n");  // the commit
      for (const std::string* f : {&best, &last, &last_opt, &files.swa}) drop_previous(*f);
    }
    if (cfg.patience > 0 && st.bad_epochs >= cfg.patience && epoch < cfg.epochs) {
      std::fprintf(log, "Early stopping: val_loss has not improved for %d epochs.\n", st.bad_epochs);
      result.early_stopped = true;
      break;
    }
  }
  if (loader.bad_count() > 0 || val_skipped > 0)
    std::fprintf(log, "Skipped unreadable images (--skip-bad): %lld training file(s) met in this run, %lld of %lld "
                 "validation.\n", static_cast<long long>(loader.bad_count()), static_cast<long long>(val_skipped),
                 static_cast<long long>(data.val.size()));
  result.best_epoch = st.best_epoch;
  result.best_val_loss = st.best_val_loss;
  if (st.best_epoch > 0 && !result.interrupted)
    std::fprintf(log, "Best epoch %d (val_loss %.4f): %s\n", st.best_epoch, st.best_val_loss, best.c_str());
  if (swa && swa->count() > 0 && !result.interrupted)
    std::fprintf(log, "SWA of epochs %d-%d (val_loss %.4f): %s\n", cfg.swa_start, st.epochs_done,
                 result.swa_val_loss, result.swa_checkpoint.c_str());
  result.peak_tensor_bytes = storage_use().peak_bytes;
  std::fprintf(log, "Peak tensor memory: %.0f MiB (weights, optimizer state, batches, activations, gradients)\n",
               static_cast<double>(result.peak_tensor_bytes) / (1 << 20));
  return result;
}

}  // namespace

TrainResult train(const TrainConfig& given, std::FILE* log) {
  TrainConfig cfg = given;
  const ModelConfig named = config_from_name(cfg.arch, {});  // "vgg16_bn" is vgg16 with batch_norm
  cfg.arch = named.arch;
  cfg.batch_norm = cfg.batch_norm || named.batch_norm;
  CXR_CHECK(!cfg.out.empty(), "train: an output folder (--out) is required");
  CXR_CHECK(!cfg.data.empty(), "train: training data (--data) is required");
  CXR_CHECK(!fs::exists(fs::path(cfg.out) / "state.json"), cfg.out,
            " already holds a training run: continue it with --resume ", cfg.out, " or choose another --out");
  CXR_CHECK(cfg.epochs > 0 && cfg.batch > 0, "train: --epochs and --batch must be positive");
  CXR_CHECK(cfg.lr > 0 && std::isfinite(cfg.lr), "train: --lr must be positive");
  CXR_CHECK(cfg.mixup >= 0 && std::isfinite(cfg.mixup), "train: --mixup ", cfg.mixup,
            " must be 0 (off) or the positive alpha of Beta(alpha, alpha), e.g. 0.2");
  CXR_CHECK(cfg.swa_start >= 0 && cfg.swa_start <= cfg.epochs, "train: --swa-start ", cfg.swa_start,
            " must be an epoch of the run (1-", cfg.epochs, "), or 0 (off)");
  CXR_CHECK(cfg.swa_lr >= 0 && std::isfinite(cfg.swa_lr), "train: --swa-lr ", cfg.swa_lr, " must be >= 0");
  CXR_CHECK(cfg.swa_lr == 0 || cfg.swa_start > 0, "train: --swa-lr needs --swa-start");
  CXR_CHECK(!cfg.sync_bn || cfg.batch_norm, "train: --sync-bn synchronises batch-norm layers, and this ", cfg.arch,
            " has none: add --bn, or leave --sync-bn out");
  CXR_CHECK(!cfg.precise_bn || cfg.batch_norm, "train: --precise-bn recomputes batch-norm statistics, and this ",
            cfg.arch, " has no batch-norm layers: add --bn, or leave --precise-bn out");
  return run(cfg, false, log);
}

TrainResult resume(const std::string& run_dir, int epochs, std::FILE* log) {
  const std::string config = run_files(run_dir).config;
  CXR_CHECK(fs::exists(config), "--resume ", run_dir, ": no ", config, " there, so no run to continue (a run folder ",
            "gets it before its first epoch; start a new run with --data and --out)");
  TrainConfig cfg = train_config_from_json(io::read_json_file(config), config);
  cfg.out = run_dir;
  if (epochs > 0) cfg.epochs = epochs;
  return run(cfg, true, log);
}

}  // namespace cxr
