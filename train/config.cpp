// The names of TrainConfig's enums.
#include "train/config.h"

#include "core/error.h"

namespace cxr {

const char* name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
    case OptimizerKind::sgd: return "sgd";
  }
  return "?";
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

}  // namespace cxr
