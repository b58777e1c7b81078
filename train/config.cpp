// The names of TrainConfig's enums, and validate(TrainConfig): the checks `cxr train` makes of its options
// before it reads any data.
#include "train/config.h"

#include <cmath>

#include "core/error.h"
#include "models/model.h"

namespace cxr {

const char* name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
    case OptimizerKind::sgd: return "sgd";
  }
  return "?";
}

float cosine_lr(float lr, int epoch, int epochs) {
  return static_cast<float>(lr * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / epochs)));
}

const char* name(LrSchedule s) {
  switch (s) {
    case LrSchedule::none: return "none";
    case LrSchedule::plateau: return "plateau";
    case LrSchedule::cosine: return "cosine";
  }
  return "?";
}

OptimizerKind parse_optimizer(const std::string& s) {
  for (OptimizerKind k : {OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::sgd})
    if (s == name(k)) return k;
  throw Error(str("unknown optimizer '", s, "' (use adam, adamw or sgd)"));
}

LrSchedule parse_schedule(const std::string& s) {
  for (LrSchedule k : {LrSchedule::none, LrSchedule::plateau, LrSchedule::cosine})
    if (s == name(k)) return k;
  throw Error(str("unknown schedule '", s, "' (use none, plateau or cosine)"));
}

void to_json(nlohmann::json& j, OptimizerKind k) { j = name(k); }
void from_json(const nlohmann::json& j, OptimizerKind& k) { k = parse_optimizer(j.get<std::string>()); }
void to_json(nlohmann::json& j, LrSchedule s) { j = name(s); }
void from_json(const nlohmann::json& j, LrSchedule& s) { s = parse_schedule(j.get<std::string>()); }

void validate(const TrainConfig& cfg) {
  const ModelConfig named = config_from_name(cfg.arch, {});  // "vgg16_bn" is vgg16 with batch_norm
  const bool batch_norm = cfg.batch_norm || named.batch_norm;
  CXR_CHECK(!cfg.out.empty(), "an output folder (--out) is required");
  CXR_CHECK(!cfg.data.empty(), "training data (--data) is required");
  CXR_CHECK(cfg.epochs > 0 && cfg.batch > 0, "--epochs and --batch must be positive");
  CXR_CHECK(cfg.lr > 0 && std::isfinite(cfg.lr), "--lr must be positive");
  CXR_CHECK(cfg.accumulate >= 1, "--accumulate ", cfg.accumulate, " must be at least 1 (the batches per optimizer step)");
  CXR_CHECK(cfg.bucket_mb == 0 || (cfg.bucket_mb >= 0.0625 && cfg.bucket_mb <= 4096), "--bucket-mb ", cfg.bucket_mb,
            " must be 0 (one reduction after backward) or between 0.0625 (64 KiB) and 4096");
  CXR_CHECK(cfg.mixup >= 0 && std::isfinite(cfg.mixup), "--mixup ", cfg.mixup,
            " must be 0 (off) or the positive alpha of Beta(alpha, alpha), e.g. 0.2");
  CXR_CHECK(cfg.swa_start >= 0 && cfg.swa_start <= cfg.epochs, "--swa-start ", cfg.swa_start,
            " must be an epoch of the run (1-", cfg.epochs, "), or 0 (off)");
  CXR_CHECK(cfg.swa_lr >= 0 && std::isfinite(cfg.swa_lr), "--swa-lr ", cfg.swa_lr, " must be >= 0");
  CXR_CHECK(cfg.swa_lr == 0 || cfg.swa_start > 0, "--swa-lr needs --swa-start");
  CXR_CHECK(!cfg.sync_bn || batch_norm, "--sync-bn synchronises batch-norm layers, and this ", named.arch,
            " has none: add --bn, or leave --sync-bn out");
  CXR_CHECK(!cfg.precise_bn || batch_norm, "--precise-bn recomputes batch-norm statistics, and this ",
            named.arch, " has no batch-norm layers: add --bn, or leave --precise-bn out");
  CXR_CHECK(cfg.freeze.empty() || cfg.freeze == "features", "--freeze: unknown part '", cfg.freeze,
            "' (use features)");
}

}  // namespace cxr
