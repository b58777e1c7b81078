// The files of a run folder that `cxr train --resume` and `cxr report` read back, and the JSON `cxr report`
// reads from the other commands. The first byte picks the file, the rest is its content:
//   0 config.json (train/run_files.h)   1 state.json   2 history.csv (train/history.h)
//   3 `cxr eval --json` output (report/report.h eval_from_json)
//   4 `cxr xai-eval --json` output (explain/xai_report.h xai_report_from_json)
#include <string>

#include "explain/xai_report.h"
#include "fuzz_common.h"
#include "io/json_file.h"
#include "report/report.h"
#include "train/history.h"
#include "train/run_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: CXR_FUZZ_REFUSAL_OK(cxr::train_config_from_json(cxr::io::parse_json_text(text, "config.json"),
                                                            "config.json")); break;
    case 1: CXR_FUZZ_REFUSAL_OK(cxr::run_state_from_json(cxr::io::parse_json_text(text, "state.json"),
                                                         "state.json")); break;
    case 2: CXR_FUZZ_REFUSAL_OK(cxr::parse_history_csv(text, "history.csv")); break;
    case 3: CXR_FUZZ_REFUSAL_OK(cxr::report::eval_from_json(cxr::io::parse_json_text(text, "eval.json"))); break;
    case 4: CXR_FUZZ_REFUSAL_OK(cxr::xai_report_from_json(cxr::io::parse_json_text(text, "xai.json"))); break;
  }
  return 0;
}
