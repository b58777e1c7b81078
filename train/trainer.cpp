#include "train/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <utility>

#include "autograd/ops.h"
#include "core/allocator.h"
#include "core/argmax.h"
#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/threading.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "dist/comm.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/safetensors.h"
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

// Data parallel: this rank's share of a validation set, in whole batches of one process's validation
// (dist::share_batches), so each image's prediction is the one one process makes.
data::Dataset shard_of(const data::Dataset& ds, int64_t batch, const dist::Comm& comm) {
  if (comm.size() == 1) return ds;
  const dist::Range r = dist::share_batches(ds.size(), batch, comm.rank(), comm.size());
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

// Loads an initial checkpoint for fine-tuning. When the file's output layer has other shapes than the
// model's (another class count), that layer keeps its fresh initialisation and everything else is loaded;
// decided from the file's header, so any other mismatch is reported as load_checkpoint words it.
void load_init(const std::string& path, Model& m, std::FILE* log) {
  auto layers = m.layers();
  std::string head;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    if (dynamic_cast<Linear*>(it->module)) {
      head = it->name + ".";
      break;
    }
  const io::SafeTensorsHeader file = io::read_safetensors_header(path);
  bool head_fits = true;
  for (const auto& param : m.named_parameters()) {  // (name, Variable*)
    const std::string& name = param.first;
    if (!name.starts_with(head)) continue;
    const auto e = std::find_if(file.entries.begin(), file.entries.end(),
                                [&](const io::TensorEntry& t) { return t.name == name; });
    head_fits = head_fits && e != file.entries.end() && e->shape == param.second->data().shape();
  }
  io::LoadOptions o;
  if (!head_fits) o.skip_prefixes = {head};
  io::load_checkpoint(path, m, o);
  if (head_fits)
    std::fprintf(log, "Initialised all weights from %s\n", path.c_str());
  else
    std::fprintf(log, "Initialised from %s except the output layer %s* (new class count)\n", path.c_str(),
                 head.c_str());
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

// Gradient buckets of data-parallel training (train/grad_reducer.h), --bucket-mb: by default 4 MiB, big
// enough that each allreduce is bandwidth-bound, small enough that the first starts while backward has most
// of the model still to do. 0: one bucket of everything, reduced once backward is done.
int64_t bucket_bytes(const TrainConfig& cfg) {
  return cfg.bucket_mb > 0 ? static_cast<int64_t>(cfg.bucket_mb * (1 << 20)) : std::numeric_limits<int64_t>::max();
}

// ---- One run -------------------------------------------------------------------------------------------
//
// run() at the bottom is the life of a run, read top-down:
//   set_up          the model (fresh or --init) and optimizer, the data, its loaders, the run folder (a new
//                   run writes config.json; a resumed one gets back its committed epoch)
//   train_epoch     the steps of one epoch (train_step: dropout masks, mixup, forward, loss, NaN guard,
//                   backward with the gradient allreduce, optimizer step) with a progress bar, then
//                   --precise-bn's batch-norm pass
//   validate_epoch  the validation pass and the epoch's line of history
//   end_epoch       best or plateau, SWA, and the checkpoint transaction that state.json commits
//   finish          the closing lines
//
// Data parallel under mpirun (docs/DISTRIBUTED.md): every rank runs all of this with the same config; each
// trains on its share of every batch, the gradients are summed over the ranks, and rank 0 alone prints and
// writes the run folder. One process is the case of one rank.

// What a run holds from set_up to its last epoch. The members are declared in the order set_up makes them,
// so they are destroyed in reverse (the loaders' worker threads before the data and the model).
struct Run {
  TrainConfig cfg;
  dist::Comm& comm = dist::world();
  bool root = comm.is_root(), parallel = comm.size() > 1;
  std::FILE* log = nullptr;  // rank 0's log; the other ranks' goes nowhere (they speak only to fail)
  ModelConfig mc;
  TrainData data;
  std::shared_ptr<Model> model;
  std::unique_ptr<Optimizer> opt;
  image::Normalisation norm;
  RunFiles files;
  RunState st;               // what state.json commits: epochs done, the best epoch, the plateau counter
  TrainResult result;
  data::LoaderOptions lo;    // the training batches: shuffled, augmented, this rank's share
  std::unique_ptr<data::Loader> loader;
  data::LoaderOptions vo;    // validation
  std::unique_ptr<data::Loader> bn_loader;  // --precise-bn, SWA's batch-norm pass: training images, not augmented
  std::unique_ptr<WeightAverage> swa;       // --swa-start
  std::unique_ptr<GradReducer> reducer;     // data parallel: sums the gradients over the ranks
  data::Dataset val_shard;                  // this rank's share of the validation set
  CrossEntropyOptions ce;
  io::CheckpointMeta meta;   // saved with every checkpoint; its epoch, step and metrics change per epoch
  int64_t val_skipped = 0;   // validation images the last validation could not read (skip_bad)
};

ModelConfig model_config(const TrainConfig& cfg) {
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
  return mc;
}

// The lines that say what this run is: the model and optimizer, the threads, the ranks.
void print_set_up(const Run& r) {
  const TrainConfig& cfg = r.cfg;
  const int ranks = r.comm.size();
  long long trainable = 0;
  for (auto* p : r.model->parameters()) trainable += p->requires_grad() ? p->numel() : 0;
  std::fprintf(r.log, "model: %s, width %g, %dx%d x%d, %lld parameters (%lld trainable); %s\n",
               r.model->name().c_str(), cfg.width, cfg.size, cfg.size, cfg.channels,
               static_cast<long long>(r.model->parameter_count()), trainable, r.opt->describe().c_str());
  std::fprintf(r.log, "compute: %d thread(s), OpenBLAS %s kernels\n", num_threads(), blas_core_name());
  if (r.parallel)
    std::fprintf(r.log, "data parallel: %d ranks x %d thread(s) (rank 0's count), global batch %d (%s per rank)\n",
                 ranks, num_threads(), cfg.batch,
                 cfg.batch % ranks == 0 ? std::to_string(cfg.batch / ranks).c_str()
                                        : str(cfg.batch / ranks, "-", cfg.batch / ranks + 1).c_str());
  if (cfg.accumulate > 1)
    std::fprintf(r.log, "gradient accumulation: %d batches of %d per optimizer step (updates of %d images)\n",
                 cfg.accumulate, cfg.batch, cfg.accumulate * cfg.batch);
  if (r.parallel && cfg.mixup > 0)
    std::fprintf(r.log, "note: --mixup pairs the images within each rank's share of the batch, so this run's "
                        "blends differ from one process's\n");
}

// The run folder's files and state: a new run writes config.json; a resumed one puts back the files of its
// last committed epoch and loads that epoch's weights, optimizer state and history (or, when it never
// committed one, removes what epoch 1 had begun to write and starts again).
void open_run_folder(Run& r, bool resuming) {
  const TrainConfig& cfg = r.cfg;
  r.files = run_files(cfg.out);
  const RunFiles& files = r.files;
  r.result.best_checkpoint = files.best;
  r.result.last_checkpoint = files.last;
  const bool with_swa = cfg.swa_start > 0;
  const bool committed = resuming && fs::exists(files.state);
  if (committed) {
    r.st = run_state_from_json(io::read_json_file(files.state), files.state);
    // Rank 0 puts the committed files back; the others read them once it has.
    if (r.root) recover_committed_files(files, r.st, with_swa && r.st.epochs_done >= cfg.swa_start);
    r.comm.barrier();
    io::load_checkpoint(files.last, *r.model);
    io::load_optimizer_state(files.last_opt, *r.opt);
    r.result.history = read_history_csv(files.history);
    r.result.history.resize(std::min<size_t>(r.result.history.size(), r.st.epochs_done));
    std::fprintf(r.log, "Resuming %s after epoch %d (lr %.3g)\n", cfg.out.c_str(), r.st.epochs_done, r.opt->lr());
    if (r.st.epochs_done >= cfg.epochs)
      std::fprintf(r.log, "Nothing to train: the run has done %d of its %d epochs (a larger --epochs trains on).\n",
                   r.st.epochs_done, cfg.epochs);
  } else if (resuming) {
    if (r.root) remove_uncommitted_files(files);
    std::fprintf(r.log, "Resuming %s: it stopped before its first epoch was saved, so it starts again at epoch 1\n",
                 cfg.out.c_str());
  } else if (r.root) {
    cxr::write_file_atomic(files.config, nlohmann::json(cfg).dump(2) + "\n");
  }
  r.comm.barrier();
}

// The training loader, the validation loader's options, and the batch-norm pass's loader.
void make_loaders(Run& r) {
  const TrainConfig& cfg = r.cfg;
  data::LoaderOptions& lo = r.lo;
  lo.image_size = cfg.size;
  lo.channels = cfg.channels;
  lo.batch_size = cfg.batch;
  lo.shuffle = true;
  // With batch-norm the last partial batch is dropped: a batch of a few images gives batch-norm noisy
  // statistics (of one, none). The order is reshuffled every epoch, so no image is always the one left out.
  // Without batch-norm every image trains every epoch, as Keras and PyTorch's DataLoader do by default.
  lo.drop_last = cfg.batch_norm && r.data.train.size() > cfg.batch;
  lo.balanced = cfg.balanced;
  lo.seed = cfg.seed;
  lo.augment = image::AugmentParams::preset(cfg.augment);
  lo.normalisation = r.norm;
  lo.workers = cfg.workers;
  lo.skip_bad = cfg.skip_bad;
  lo.shard = r.comm.rank();
  lo.shards = r.comm.size();
  r.loader = std::make_unique<data::Loader>(r.data.train, lo);
  r.vo = inference_loader_options(r.mc, r.norm, cfg.batch, cfg.skip_bad);
  r.vo.workers = cfg.workers;
  // --precise-bn and SWA's batch-norm pass: the training images again, shuffled (another order each
  // epoch) but not augmented. No image cache of its own (the training loader holds one): decoding again
  // on a worker thread costs less than the forward pass it feeds.
  if (cfg.precise_bn || (cfg.swa_start > 0 && cfg.batch_norm)) {
    data::LoaderOptions po = r.vo;
    po.shuffle = true;
    po.drop_last = lo.drop_last;
    po.seed = Rng(cfg.seed).fork(0x6e).next_u64();
    po.cache_bytes = 0;
    r.bn_loader = std::make_unique<data::Loader>(r.data.train, po);
  }
}

// --swa-start: the running mean of the weights, in a model of its own (train/swa.h); on resume, the
// average up to the committed epoch.
void make_weight_average(Run& r, bool resuming) {
  const TrainConfig& cfg = r.cfg;
  if (cfg.swa_start <= 0) return;
  std::shared_ptr<Model> avg = make_model(r.mc);
  int64_t count = 0;
  if (resuming && r.st.epochs_done >= cfg.swa_start) {
    io::load_checkpoint(r.files.swa, *avg);  // recover_committed_files made it the average up to epochs_done
    count = r.st.epochs_done - cfg.swa_start + 1;
    r.result.swa_checkpoint = r.files.swa;
  }
  r.swa = std::make_unique<WeightAverage>(avg, count);
}

// Data parallel: batch-norm over the ranks (--sync-bn), the gradient reducer, and this rank's share of the
// validation set (all of it in one process).
void share_between_ranks(Run& r) {
  const TrainConfig& cfg = r.cfg;
  dist::Comm& comm = r.comm;
  // --sync-bn: every rank must hold rows of every batch, since all of them meet in each batch-norm layer.
  if (r.parallel && cfg.sync_bn) {
    const int64_t smallest = r.lo.drop_last || r.data.train.size() % cfg.batch == 0
                                 ? std::min<int64_t>(cfg.batch, r.data.train.size())
                                 : r.data.train.size() % cfg.batch;
    CXR_CHECK(smallest >= comm.size(), "train: --sync-bn on ", comm.size(), " ranks needs at least one image per rank "
              "in every batch, and a batch of this run has ", smallest, ": use a --batch of at least ", comm.size());
    for (auto& l : r.model->layers())
      if (auto* bn = dynamic_cast<BatchNorm2d*>(l.module))
        bn->sync = [&comm](double* v, int64_t n) { comm.allreduce_sum(v, n); };
  } else if (r.parallel && cfg.batch_norm) {
    std::fprintf(r.log, "batch-norm: each rank normalises with its own share's statistics (as PyTorch DDP; "
                        "--sync-bn for the whole batch's)\n");
  }
  if (r.parallel) {
    std::vector<Variable*> trainable;
    for (Variable* p : r.model->parameters())
      if (p->requires_grad()) trainable.push_back(p);
    r.reducer = std::make_unique<GradReducer>(comm, trainable, bucket_bytes(cfg));
  }
  r.val_shard = shard_of(r.data.val, r.vo.batch_size, comm);
}

// Set-up, in an order that refuses a bad run early: the model's options before the data is scanned, and
// the run folder made only once the options, the data and --init have all passed.
void set_up(Run& r, const TrainConfig& cfg, bool resuming, std::FILE* log) {
  r.cfg = cfg;
  r.log = r.root ? log : null_log();
  g_stop.store(false);
  reset_storage_peak();
  r.mc = model_config(cfg);
  validate(r.mc);
  r.data = open_data(cfg);
  std::fprintf(r.log, "train: %s\nval:   %s\n", r.data.train.summary().c_str(), r.data.val.summary().c_str());
  r.mc.num_classes = r.data.train.num_classes();
  r.model = make_model(r.mc);
  if (!cfg.init.empty() && !resuming) load_init(cfg.init, *r.model, r.log);
  if (cfg.freeze == "features") r.model->features->set_requires_grad(false);  // else "" (validate())
  r.opt = make_optimizer(cfg, *r.model);
  r.norm = image::normalisation_preset(cfg.normalize);
  print_set_up(r);
  // only now: a run refused above (options, data, --init) leaves no empty folder
  if (r.root) fs::create_directories(cfg.out);
  open_run_folder(r, resuming);
  make_loaders(r);
  make_weight_average(r, resuming);
  share_between_ranks(r);
  if (cfg.class_weights) r.ce.class_weights = r.data.train.class_weights();
  r.ce.label_smoothing = cfg.label_smoothing;
  r.meta.model = r.mc;
  r.meta.classes = r.data.train.class_names;
  r.meta.mean = r.norm.mean;
  r.meta.std = r.norm.std;
  r.meta.seed = cfg.seed;
  r.meta.source = "cxr train";
  r.meta.extra["train_config"] = cfg;
  r.meta.extra["normalize"] = cfg.normalize;
}

// While alive, the model's batch-norm layers normalise with this rank's statistics only (--sync-bn off).
class UnsyncedBatchNorm {
 public:
  explicit UnsyncedBatchNorm(Model& m) {
    for (auto& l : m.layers())
      if (auto* bn = dynamic_cast<BatchNorm2d*>(l.module)) saved_.push_back({bn, std::exchange(bn->sync, {})});
  }
  ~UnsyncedBatchNorm() {
    for (auto& [bn, sync] : saved_) bn->sync = std::move(sync);
  }
  UnsyncedBatchNorm(const UnsyncedBatchNorm&) = delete;
  UnsyncedBatchNorm& operator=(const UnsyncedBatchNorm&) = delete;

 private:
  std::vector<std::pair<BatchNorm2d*, ReplicaSum>> saved_;
};

// Any rank asked to stop (Ctrl-C reaches them all, SIGTERM maybe one)? Then every rank stops.
bool stop_on_any_rank(dist::Comm& comm) {
  double stop = g_stop.load() ? 1.0 : 0.0;
  comm.allreduce_sum(&stop, 1);
  if (stop > 0) g_stop.store(true);
  return stop > 0;
}

// One step's numbers for the whole batch (or the K batches of --accumulate K), summed over the ranks.
struct StepSums {
  double loss_sum = 0;       // each batch's mean loss times its rows
  int64_t rows = 0, right = 0;
};

// Where an epoch's training time went (--profile; under mpirun always): waiting for the loader's next
// batch, waiting in the reductions over the ranks (the step's numbers, the gradient buckets backward had
// not finished), and the rest, computing.
struct StepTimes {
  double data = 0, ranks = 0;
  std::vector<double> steps;  // each step's seconds, loading its batches included
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A non-finite loss on any rank (`ranks` of them, from the step's reduced sums): the progress bar ends and
// the run stops, keeping the last checkpoint. Every rank knows it at once, so under mpirun no rank is aborted.
[[noreturn]] void stop_on_bad_loss(Run& r, float lv, int ranks, int epoch, int64_t step, Progress& bar) {
  bar.finish();
  const std::string what = r.parallel ? str("non-finite on ", ranks, " of ", r.comm.size(), " ranks")
                                      : str(std::isfinite(lv) ? static_cast<float>(NAN) : lv);
  throw dist::AllRanksError(str("loss became ", what, " at epoch ", epoch, " step ", step + 1, " (lr ", r.opt->lr(),
                                "); training stopped. The last good checkpoint is kept: ",
                                (r.st.epochs_done > 0 ? r.files.last : std::string("(none yet)")),
                                ". Try a lower --lr or --bn."));
}

// One optimizer step over `group`: one batch, or with --accumulate K the K consecutive batches `first_batch`..
// of the epoch. For each batch, on this rank's rows of it (all of them in one process; none on a rank whose
// share of a short last batch is empty): dropout masks, mixup, forward, loss, backward, which adds to the
// gradients. The last backward sums the gradients over the ranks (buckets started while it runs); then the
// optimizer's step.
//
// Scaling: each rank's loss is its rows' mean; weighted by its rows' share w / W of the step's rows (over
// the batches and the ranks), the sum of the ranks' and batches' gradients is the gradient of the mean loss
// over all of the step's images. (The loss, not the gradients, is scaled: then a synchronised batch-norm's
// backward, which sums over the ranks, adds terms of the same units.) Dropout rows are keyed to their place
// in the step's rows, so --batch 8 and --batch 4 --accumulate 2 draw the same masks.
StepSums train_step(Run& r, const std::vector<data::Batch>& group, int epoch, int64_t step, int64_t first_batch,
                    StepTimes& times, Progress& bar) {
  const TrainConfig& cfg = r.cfg;
  const bool accumulating = group.size() > 1;
  double step_rows = 0;  // W: the loss normaliser of the whole step, when it spans several batches
  if (accumulating) {
    for (const data::Batch& b : group) step_rows += loss_normaliser(b.labels, r.ce);
    const auto t0 = std::chrono::steady_clock::now();
    r.comm.allreduce_sum(&step_rows, 1);
    times.ranks += seconds_since(t0);
  }
  StepSums s;
  for (size_t k = 0; k < group.size(); ++k) {
    const data::Batch& b = group[k];
    const int64_t batch_index = first_batch + static_cast<int64_t>(k);
    reseed_dropouts(*r.model, cfg.seed, epoch, step, static_cast<int64_t>(k) * cfg.batch + b.offset);
    // --mixup: the blend of this batch is a function of (seed, epoch, batch) alone, so a resumed run
    // draws the same ones.
    MixedBatch mix;
    if (cfg.mixup > 0 && b.size() > 0) {
      Rng rng = Rng(cfg.seed).fork(0x6d6978).fork(static_cast<uint64_t>(epoch)).fork(static_cast<uint64_t>(batch_index));
      mix = mixup_batch(b.images, b.labels, cfg.mixup, rng);
    }
    // --sync-bn: every rank meets the others in each batch-norm layer, so none may come without rows (a
    // share whose files --skip-bad all left out).
    if (r.parallel && cfg.sync_bn) {
      double empty = b.size() == 0 ? 1.0 : 0.0;
      r.comm.allreduce_sum(&empty, 1);
      if (empty > 0) {
        bar.finish();
        throw dist::AllRanksError(str("--sync-bn: ", empty, " rank(s) hold no readable image of batch ", batch_index + 1,
                                      " of epoch ", epoch, " (--skip-bad left them out), and every rank takes part in "
                                      "each batch-norm layer: remove the unreadable images, or train without --sync-bn"));
      }
    }
    // This rank's rows: forward, loss, and how many it got right.
    Variable logits, loss;
    float lv = 0;
    int64_t right = 0;
    if (b.size() > 0) {
      logits = (*r.model)(Variable(cfg.mixup > 0 ? mix.images : b.images));
      bool finite = true;
      for (int64_t i = 0; i < logits.numel() && finite; ++i) finite = std::isfinite(logits.data()[i]);
      loss = !finite         ? Variable(Tensor::full({}, NAN))
             : cfg.mixup > 0 ? mixup_cross_entropy(logits, mix, r.ce)
                             : cross_entropy(logits, b.labels, r.ce);
      lv = loss.item();
      const Tensor& z = logits.data();
      const int64_t K = z.size(1);
      for (int64_t i = 0; i < b.size(); ++i)
        right += argmax(z.data() + i * K, K) == (cfg.mixup > 0 ? mix.dominant(static_cast<size_t>(i)) : b.labels[i]);
    }
    // Summed over the ranks: the loss's normaliser, the weighted loss, non-finite losses, rows, right.
    const double w = loss_normaliser(b.labels, r.ce);
    double sums[5] = {w, b.size() > 0 ? lv * w : 0.0, b.size() > 0 && !std::isfinite(lv) ? 1.0 : 0.0,
                      static_cast<double>(b.size()), static_cast<double>(right)};
    const auto t0 = std::chrono::steady_clock::now();
    r.comm.allreduce_sum(sums, 5);
    times.ranks += seconds_since(t0);
    if (sums[2] > 0) stop_on_bad_loss(r, lv, static_cast<int>(sums[2]), epoch, step, bar);
    // A step whose images were all unreadable (--skip-bad; a rank's loader yields such a batch empty) takes
    // no optimizer step, as one process skips the batch: every rank knows the sum.
    const bool last = k + 1 == group.size();
    const bool any_rows = s.rows + static_cast<int64_t>(sums[3]) > 0;
    if (last && !any_rows) break;
    if (r.reducer && last) r.reducer->begin();
    if (b.size() > 0) {
      const double share = w / (accumulating ? step_rows : sums[0]);
      (r.parallel || accumulating ? scale(loss, static_cast<float>(share)) : loss).backward();
    }
    if (r.reducer && last) {
      r.reducer->finish();
      times.ranks += r.reducer->take_wait_seconds();
    }
    s.loss_sum += (sums[0] > 0 ? sums[1] / sums[0] : 0.0) * sums[3];
    s.rows += static_cast<int64_t>(sums[3]);
    s.right += static_cast<int64_t>(sums[4]);
  }
  if (s.rows == 0) return s;
  r.opt->step();
  r.opt->zero_grad();
  return s;
}

// One epoch's training numbers, over all ranks.
struct EpochTotals {
  double loss_sum = 0;       // the batch mean losses, each times its batch's rows
  int64_t seen = 0, correct = 0;
  StepTimes times;
  std::chrono::steady_clock::time_point start;  // when the steps began: the epoch's seconds count from here
};

// The training part of an epoch: the schedule's learning rate, the optimizer steps over the loader's batches
// (--accumulate K of them a step; at most --max-steps steps) with a progress bar, then --precise-bn's
// batch-norm pass. A stop request on any rank ends it early with g_stop set on every rank.
EpochTotals train_epoch(Run& r, int epoch) {
  const TrainConfig& cfg = r.cfg;
  r.model->train();
  if (cfg.schedule == LrSchedule::cosine)
    r.opt->set_lr(cosine_lr(cfg.lr, epoch, cfg.epochs));
  if (r.swa && cfg.swa_lr > 0 && epoch >= cfg.swa_start) r.opt->set_lr(cfg.swa_lr);
  r.loader->start_epoch(epoch);
  const size_t per_step = static_cast<size_t>(cfg.accumulate);
  int64_t steps = (r.loader->batches_per_epoch() + cfg.accumulate - 1) / cfg.accumulate;
  if (cfg.max_steps > 0) steps = std::min(steps, cfg.max_steps);
  EpochTotals t;
  t.start = std::chrono::steady_clock::now();
  Progress bar(str("Epoch ", epoch, "/", cfg.epochs), steps, r.log);
  int64_t step = 0, batches = 0;
  std::vector<data::Batch> group;
  while (step < steps) {
    group.clear();
    const auto t0 = std::chrono::steady_clock::now();
    const auto step_start = t0;
    for (data::Batch b; group.size() < per_step && r.loader->next(b);) group.push_back(std::move(b));
    t.times.data += seconds_since(t0);
    if (group.empty()) break;
    const StepSums s = train_step(r, group, epoch, step, batches, t.times, bar);
    batches += static_cast<int64_t>(group.size());
    t.times.steps.push_back(seconds_since(step_start));
    t.correct += s.right;
    t.loss_sum += s.loss_sum;
    t.seen += s.rows;
    ++step;
    bar.update(step, {{"loss", t.loss_sum / t.seen}, {"acc", static_cast<double>(t.correct) / t.seen}}, t.seen);
    if (stop_on_any_rank(r.comm)) break;
  }
  bar.finish();
  if (cfg.precise_bn && !g_stop.load()) {
    // Every rank runs this pass over all the training images (its loader is not sharded), and each may
    // stop it at its own moment on Ctrl-C: synchronised batch-norm would pair the ranks' reductions wrongly.
    const UnsyncedBatchNorm unsynced(*r.model);
    recalibrate_with_progress(*r.model, *r.bn_loader, epoch, cfg.max_steps * cfg.accumulate,
                              "  batch-norm statistics", r.log, [] { return !g_stop.load(); });
  }
  if (r.parallel) stop_on_any_rank(r.comm);  // a stop that reached one rank in the batch-norm pass stops all
  return t;
}

// Ctrl-C or SIGTERM in epoch `epoch`: the current weights go to RUN_DIR/interrupted.safetensors, and the
// committed epoch stays the one to resume from.
void save_interrupted(Run& r, int epoch) {
  const std::string& path = r.files.interrupted;
  r.meta.epoch = epoch - 1;
  r.meta.created = now_iso();
  if (r.root) io::save_checkpoint(path, *r.model, r.meta);
  std::fprintf(r.log, "Interrupted in epoch %d: current weights saved to %s; resume from epoch %d with "
                      "`cxr train --resume %s`\n", epoch, path.c_str(), r.st.epochs_done + 1, r.cfg.out.c_str());
  r.result.interrupted = true;
}

// --profile (and every epoch under mpirun): where the epoch's time went, on rank 0. What the overlap of
// the gradient allreduce with backward did not hide is in the wait for the other ranks, with any time they
// took longer to compute (docs/DISTRIBUTED.md).
void print_time_split(const Run& r, const EpochTotals& t, double validation_seconds) {
  const double total = seconds_since(t.start);
  const double training = total - validation_seconds;
  const double compute = training - t.times.data - t.times.ranks;
  std::fprintf(r.log, "  time: %.2f s training = %.2f s computing + %.2f s waiting for data", training, compute,
               t.times.data);
  if (r.parallel)
    std::fprintf(r.log, " + %.2f s waiting for the other ranks (%d gradient bucket%s)", t.times.ranks,
                 r.reducer->buckets(), r.reducer->buckets() == 1 ? "" : "s");
  std::fprintf(r.log, "; %.2f s validation", validation_seconds);
  // The median step: the first steps of a process also pay for touching its memory the first time (the
  // storage cache keeps it after that), which the epoch's total includes and a longer run spreads out.
  std::vector<double> steps = t.times.steps;
  if (!steps.empty()) {
    std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
    std::fprintf(r.log, "; median step %.3f s of %zu", steps[steps.size() / 2], steps.size());
  }
  std::fprintf(r.log, "\n");
}

// The validation pass (each rank validates its share of the images; the sums make the metrics of the whole
// set) and the epoch's record: added to the history and printed as one Keras-like line.
EpochRecord validate_epoch(Run& r, int epoch, const EpochTotals& t) {
  const auto t_val = std::chrono::steady_clock::now();
  double val[3] = {0, 0, 0};  // loss sum, right, images read
  if (r.val_shard.size() > 0) {
    DatasetPredictions vp = predict_dataset(*r.model, r.val_shard, r.vo);
    const double n = static_cast<double>(vp.targets.size());
    val[0] = n > 0 ? vp.loss * n : 0.0;
    val[1] = n > 0 ? std::round(vp.accuracy() * n) : 0.0;
    val[2] = n;
  }
  r.comm.allreduce_sum(val, 3);
  const double validation_seconds = seconds_since(t_val);
  r.val_skipped = r.data.val.size() - static_cast<int64_t>(val[2]);  // unreadable (skip_bad)
  EpochRecord rec;
  rec.epoch = epoch;
  rec.loss = t.seen ? t.loss_sum / t.seen : NAN;
  rec.accuracy = t.seen ? static_cast<double>(t.correct) / t.seen : NAN;
  rec.val_loss = val[2] > 0 ? val[0] / val[2] : NAN;
  rec.val_accuracy = val[2] > 0 ? val[1] / val[2] : NAN;
  rec.lr = r.opt->lr();
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t.start).count();
  r.result.history.push_back(rec);
  std::fprintf(r.log, "%s\n", format_epoch_line(rec, r.cfg.epochs).c_str());
  if (r.parallel || r.cfg.profile) print_time_split(r, t, validation_seconds);
  std::fflush(r.log);
  return rec;
}

// A better val_loss makes this epoch the best (best.safetensors, transaction step 1-2); otherwise the
// plateau counter goes up, and the plateau schedule cuts the learning rate every plateau_patience epochs.
void keep_best_or_count_plateau(Run& r, int epoch, const EpochRecord& rec) {
  const TrainConfig& cfg = r.cfg;
  RunState& st = r.st;
  if (std::isfinite(rec.val_loss) && rec.val_loss < st.best_val_loss) {
    st.best_val_loss = rec.val_loss;
    st.best_epoch = epoch;
    st.bad_epochs = 0;
    if (r.root) {
      keep_previous(r.files.best);
      io::save_checkpoint(r.files.best, *r.model, r.meta);
    }
  } else {
    ++st.bad_epochs;
    if (cfg.schedule == LrSchedule::plateau && cfg.plateau_patience > 0 && st.bad_epochs % cfg.plateau_patience == 0) {
      r.opt->set_lr(r.opt->lr() * cfg.plateau_factor);
      std::fprintf(r.log, "val_loss has not improved for %d epochs: lr -> %.3g\n", st.bad_epochs, r.opt->lr());
    }
  }
}

// --swa-start: this epoch's weights into the average, its batch-norm statistics recomputed, validated, and
// saved (swa.safetensors, transaction step 1-2).
void average_weights(Run& r, int epoch) {
  const TrainConfig& cfg = r.cfg;
  const SwaValidation sv =
      average_epoch(*r.swa, *r.model, r.bn_loader.get(), cfg.max_steps, epoch, r.data.val, r.vo, r.log);
  r.result.swa_val_loss = sv.val_loss;
  r.result.swa_val_accuracy = sv.val_accuracy;
  io::CheckpointMeta smeta = r.meta;
  smeta.metrics = {{"val_loss", sv.val_loss}, {"val_accuracy", sv.val_accuracy}};
  smeta.extra["swa"] = {{"first_epoch", cfg.swa_start}, {"last_epoch", epoch}, {"epochs", r.swa->count()}};
  if (r.root) {
    keep_previous(r.files.swa);
    io::save_checkpoint(r.files.swa, r.swa->model(), smeta);
  }
  r.result.swa_checkpoint = r.files.swa;
  std::fprintf(r.log, "  SWA of epochs %d-%d: val_loss: %.4f - val_accuracy: %.4f\n", cfg.swa_start, epoch,
               sv.val_loss, sv.val_accuracy);
}

// The end of the epoch: one transaction, committed by state.json (train/run_files.h). Its order is what
// makes a crash at any moment resumable: best.safetensors and swa.safetensors, then last.safetensors,
// last.optim.safetensors and history.csv, then state.json (the commit), then the .prev files go. Every rank
// holds the same weights, optimizer state and RunState; rank 0 alone writes.
void end_epoch(Run& r, int epoch, const EpochRecord& rec) {
  r.meta.epoch = epoch;
  r.meta.step = r.opt->step_count();
  r.meta.created = now_iso();
  r.meta.metrics = {{"loss", rec.loss}, {"accuracy", rec.accuracy}, {"val_loss", rec.val_loss},
                    {"val_accuracy", rec.val_accuracy}};
  keep_best_or_count_plateau(r, epoch, rec);
  if (r.swa && epoch >= r.cfg.swa_start) average_weights(r, epoch);
  r.st.epochs_done = epoch;
  if (r.root) {
    const RunFiles& f = r.files;
    keep_previous(f.last);
    io::save_checkpoint(f.last, *r.model, r.meta);
    keep_previous(f.last_opt);
    io::save_optimizer_state(f.last_opt, *r.opt);
    write_history_csv(f.history, r.result.history);
    cxr::write_file_atomic(f.state, to_json(r.st).dump(2) + "\n");  // the commit
    for (const std::string* p : {&f.best, &f.last, &f.last_opt, &f.swa}) drop_previous(*p);
  }
}

// The closing lines (images skipped, the best epoch, SWA, peak memory) and the result's last fields.
void finish(Run& r) {
  TrainResult& result = r.result;
  const RunState& st = r.st;
  if (r.loader->bad_count() > 0 || r.val_skipped > 0)
    std::fprintf(r.log, "Skipped unreadable images (--skip-bad): %lld training file(s) met in this run, %lld of %lld "
                 "validation.\n", static_cast<long long>(r.loader->bad_count()), static_cast<long long>(r.val_skipped),
                 static_cast<long long>(r.data.val.size()));
  result.best_epoch = st.best_epoch;
  result.best_val_loss = st.best_val_loss;
  if (st.best_epoch > 0 && !result.interrupted)
    std::fprintf(r.log, "Best epoch %d (val_loss %.4f): %s\n", st.best_epoch, st.best_val_loss, r.files.best.c_str());
  if (r.swa && r.swa->count() > 0 && !result.interrupted)
    std::fprintf(r.log, "SWA of epochs %d-%d (val_loss %.4f): %s\n", r.cfg.swa_start, st.epochs_done,
                 result.swa_val_loss, result.swa_checkpoint.c_str());
  result.peak_tensor_bytes = storage_use().peak_bytes;
  std::fprintf(r.log, "Peak tensor memory: %.0f MiB (weights, optimizer state, batches, activations, gradients)\n",
               static_cast<double>(result.peak_tensor_bytes) / (1 << 20));
}

TrainResult run(const TrainConfig& cfg, bool resuming, std::FILE* log) {
  Run r;
  set_up(r, cfg, resuming, log);
  for (int epoch = r.st.epochs_done + 1; epoch <= cfg.epochs; ++epoch) {
    const EpochTotals t = train_epoch(r, epoch);
    if (g_stop.load()) {
      save_interrupted(r, epoch);
      break;
    }
    const EpochRecord rec = validate_epoch(r, epoch, t);
    end_epoch(r, epoch, rec);
    if (cfg.patience > 0 && r.st.bad_epochs >= cfg.patience && epoch < cfg.epochs) {
      std::fprintf(r.log, "Early stopping: val_loss has not improved for %d epochs.\n", r.st.bad_epochs);
      r.result.early_stopped = true;
      break;
    }
  }
  finish(r);
  return std::move(r.result);
}

}  // namespace

TrainResult train(const TrainConfig& given, std::FILE* log) {
  TrainConfig cfg = given;
  const ModelConfig named = config_from_name(cfg.arch, {});  // "vgg16_bn" is vgg16 with batch_norm
  cfg.arch = named.arch;
  cfg.batch_norm = cfg.batch_norm || named.batch_norm;
  validate(cfg);
  CXR_CHECK(!fs::exists(fs::path(cfg.out) / "state.json"), cfg.out,
            " already holds a training run: continue it with --resume ", cfg.out, " or choose another --out");
  return run(cfg, false, log);
}

TrainResult resume(const std::string& run_dir, int epochs, std::FILE* log) {
  const std::string config = run_files(run_dir).config;
  CXR_CHECK(fs::exists(config), "--resume ", run_dir, ": no ", config, " there, so no run to continue (a run folder ",
            "gets it before its first epoch; start a new run with --data and --out)");
  // The saved options were validated when the run began (and a new --epochs may now end it before its
  // --swa-start, as before), so they are not checked again here.
  TrainConfig cfg = train_config_from_json(io::read_json_file(config), config);
  cfg.out = run_dir;
  if (epochs > 0) cfg.epochs = epochs;
  return run(cfg, true, log);
}

}  // namespace cxr
