// TrainConfig: everything `cxr train` needs, with the defaults `cxr train --help` shows. Saved as
// RUN_DIR/config.json so a run can be resumed and reported exactly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cxr {

// The optimizer (layers/optim.h) and the learning-rate schedule, parsed once where their names come in
// (`cxr train`'s options, a run's config.json). config.json holds the names below, as it always has, so
// run folders of every version resume.
enum class OptimizerKind { adam, adamw, sgd };
enum class LrSchedule {
  none,     // the learning rate stays --lr
  plateau,  // multiplied by plateau_factor after every plateau_patience epochs without a better val_loss
  cosine,   // lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2 at the start of each epoch
};
// The cosine schedule's rate for epoch (from 1) of `epochs`: lr at epoch 1, falling to near 0 at the last.
float cosine_lr(float lr, int epoch, int epochs);
const char* name(OptimizerKind k);  // "adam" | "adamw" | "sgd"
const char* name(LrSchedule s);     // "none" | "plateau" | "cosine"
// The inverse of name(); any other string is a cxr::Error that lists the names.
OptimizerKind parse_optimizer(const std::string& s);
LrSchedule parse_schedule(const std::string& s);
// JSON: the name, as a string (a config.json with another string is refused by parse_*).
void to_json(nlohmann::json& j, OptimizerKind k);
void from_json(const nlohmann::json& j, OptimizerKind& k);
void to_json(nlohmann::json& j, LrSchedule s);
void from_json(const nlohmann::json& j, LrSchedule& s);

struct TrainConfig {
  // data
  std::string data;                // folder (one sub-folder per class) or CSV manifest
  std::string val;                 // optional: validation folder/manifest; else the data's own val split
  std::string train_split = "train", val_split = "val";
  float val_fraction = 0.15f;      // patient-grouped split when the data has no split of its own
  std::vector<std::string> exclude_sources;  // left out of training and validation (data::exclude_sources)
  bool skip_bad = false;
  int workers = 0;                 // loader threads (0: automatic)
  // model
  std::string arch = "vgg16";
  bool batch_norm = false;
  float width = 1.0f;
  int size = 224, channels = 1;
  // "gap" (global average pool -> one Linear), not torchvision's 4096w-4096w FC head: trained from scratch
  // with Adam, that head's hidden ReLUs die in the first steps (their input is all positive, so every
  // weight of a unit moves the same way) and the logits go constant: docs/RESULTS.md §1, "Why the defaults
  // did not learn". `--head torchvision` is still there for torchvision's ImageNet weights (--init).
  std::string head = "gap";
  float dropout = 0.5f;
  std::string init;                // checkpoint to start from (fine-tuning); its head is replaced if K differs
  std::string freeze;              // "" or "features": freeze the convolutional part
  std::string normalize = "none";  // input normalisation preset: none | imagenet | half
  // optimisation
  int epochs = 20, batch = 16;
  OptimizerKind opt = OptimizerKind::adam;
  // 3e-4: at 1e-3 Adam left VGG-16-BN (width 0.25, 128 px) at chance for 6+ epochs even with the gap head
  // (docs/RESULTS.md §1).
  float lr = 3e-4f, momentum = 0.9f, weight_decay = 0.0f;
  bool nesterov = false;
  LrSchedule schedule = LrSchedule::plateau;
  float plateau_factor = 0.5f;
  int plateau_patience = 2;
  int patience = 5;                // early stopping on val_loss (0: off); the best epoch's weights are in best.safetensors
  std::string augment = "xray";    // xray | none
  bool class_weights = false;
  bool balanced = false;
  float label_smoothing = 0.0f;
  float mixup = 0.0f;              // mixup's Beta(alpha, alpha) (train/mixup.h); 0: off
  int64_t max_steps = 0;           // optimizer steps per epoch, 0: all (for quick tests)
  // Gradient accumulation: one optimizer step per `accumulate` consecutive batches of `batch`, with the
  // gradient of all their images (each batch's loss weighted by its share of their rows): the update of a
  // batch of accumulate x batch in the memory of one of `batch` (batch-norm still sees batches of `batch`),
  // and under mpirun one gradient allreduce per step, so 1/accumulate of the communication per image.
  int accumulate = 1;
  bool precise_bn = false;         // recompute batch-norm statistics before each validation (train/recalibrate.h)
  int swa_start = 0;               // average the weights of this epoch and every later one (train/swa.h); 0: off
  float swa_lr = 0.0f;             // constant learning rate from swa_start on; 0: keep the schedule
  // data parallel (mpirun): batch-norm statistics of the whole batch over the ranks (layers/batchnorm.h),
  // rather than of each rank's share
  bool sync_bn = false;
  // Gradient buckets under mpirun (train/grad_reducer.h), in MiB; 0: one reduction of every gradient after
  // backward, nothing overlapped (for measuring what the buckets hide)
  float bucket_mb = 4.0f;
  bool profile = false;            // print each epoch's time split: compute, waiting for data, for the other ranks
  // run
  uint64_t seed = 42;
  std::string out;                 // RUN_DIR
};

// Refuses options that make no run (cxr::Error naming the option, as `cxr train` spells it): an --arch cxr
// knows; --out and --data given; --epochs, --batch and --lr positive; --mixup 0 or positive; --swa-start an
// epoch of the run or 0, --accumulate >= 1, --swa-lr >= 0 and only with --swa-start; --sync-bn and --precise-bn only with
// batch-norm layers (--bn or an arch like vgg16_bn); --freeze "" or "features". It reads no files: that
// --out holds no run yet, and that the data exists, are checked by train(), which calls this first.
void validate(const TrainConfig& cfg);

// JSON (de)serialisation; missing keys keep their defaults, so an older config.json still loads.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainConfig, data, val, train_split, val_split, val_fraction,
                                                exclude_sources, skip_bad, workers, arch, batch_norm, width,
                                                size, channels, head, dropout, init, freeze, normalize, epochs,
                                                batch, opt, lr, momentum, weight_decay, nesterov, schedule,
                                                plateau_factor, plateau_patience, patience, augment,
                                                class_weights, balanced, label_smoothing, mixup, max_steps,
                                                accumulate, precise_bn, swa_start, swa_lr, sync_bn, bucket_mb, profile,
                                                seed, out)

}  // namespace cxr
