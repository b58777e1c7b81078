#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <iomanip>
#include <sstream>

#include "core/argmax.h"
#include "core/error.h"

#include "core/progress.h"
#include "data/csv.h"
#include "layers/loss.h"

namespace cxr {

data::LoaderOptions inference_loader_options(const ModelConfig& model, const image::Normalisation& norm, int batch,
                                           bool skip_bad) {
  data::LoaderOptions o;
  o.image_size = model.input_size;
  o.channels = model.in_channels;
  o.batch_size = batch;
  o.shuffle = false;
  o.drop_last = false;
  o.balanced = false;
  o.normalisation = norm;
  o.skip_bad = skip_bad;
  return o;
}

double DatasetPredictions::accuracy() const {
  if (targets.empty()) return NAN;
  int64_t correct = 0;
  for (size_t i = 0; i < targets.size(); ++i) correct += argmax(probs[i]) == targets[i];
  return static_cast<double>(correct) / static_cast<double>(targets.size());
}

namespace {

// One pass of `loader` (epoch `epoch`) through the model. The loader keeps its image cache between calls,
// so test-time augmentation decodes each file once for all its augmented views.
DatasetPredictions predict_loader(Model& model, data::Loader& loader, const std::string& label, int64_t epoch) {
  const data::Dataset& ds = loader.dataset();
  const int K = model.config().num_classes;
  DatasetPredictions out;
  out.probs.assign(ds.size(), {});
  out.targets.assign(ds.size(), -1);
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  loader.start_epoch(epoch);
  std::unique_ptr<Progress> bar;
  if (!label.empty()) bar = std::make_unique<Progress>(label, loader.batches_per_epoch());
  data::Batch b;
  double loss_sum = 0;
  int64_t seen = 0, step = 0;
  while (loader.next(b)) {
    Variable logits = model(Variable(b.images));
    loss_sum += cross_entropy(logits, b.labels).item() * b.size();
    Tensor p = softmax(logits.data());
    for (int64_t i = 0; i < b.size(); ++i) {
      out.probs[b.indices[i]].assign(p.data() + i * K, p.data() + (i + 1) * K);
      out.targets[b.indices[i]] = b.labels[i];
    }
    seen += b.size();
    if (bar) bar->update(++step, {}, seen);
  }
  if (bar) bar->finish();
  // Samples skipped as bad files are left out.
  std::vector<std::vector<float>> probs;
  std::vector<int> targets;
  for (int64_t i = 0; i < ds.size(); ++i)
    if (out.targets[i] >= 0) {
      probs.push_back(std::move(out.probs[i]));
      targets.push_back(out.targets[i]);
      out.indices.push_back(i);
    }
  out.probs = std::move(probs);
  out.targets = std::move(targets);
  out.loss = seen ? loss_sum / seen : NAN;
  model.train(was_training);
  return out;
}

}  // namespace

DatasetPredictions predict_dataset(Model& model, const data::Dataset& ds, const data::LoaderOptions& opt,
                                   const std::string& label, int64_t epoch) {
  data::Loader loader(ds, opt);
  return predict_loader(model, loader, label, epoch);
}

DatasetPredictions predict_dataset_tta(Model& model, const data::Dataset& ds, data::LoaderOptions opt,
                                       const image::AugmentParams& augment, int views, const std::string& label) {
  CXR_CHECK(views >= 1, "predict_dataset_tta: views must be at least 1, got ", views);
  std::vector<DatasetPredictions> runs;
  auto view_label = [&](int v) {
    return label.empty() || views == 1 ? label : str(label, " (view ", v + 1, "/", views, ")");
  };
  {
    // The plain view reads each file once: no cache, so that only the augmented views' loader holds one.
    data::LoaderOptions po = opt;
    po.augment = image::AugmentParams::none();
    if (views > 1) po.cache_bytes = 0;
    data::Loader plain(ds, po);
    runs.push_back(predict_loader(model, plain, view_label(0), 0));
  }
  if (views > 1) {
    opt.augment = augment;
    data::Loader augmented(ds, opt);
    for (int v = 1; v < views; ++v) runs.push_back(predict_loader(model, augmented, view_label(v), v));
  }
  return views == 1 ? std::move(runs[0]) : average_predictions(runs);
}

DatasetPredictions predict_dataset_sharded(Model& model, const data::Dataset& ds, const data::LoaderOptions& opt,
                                           const image::AugmentParams& augment, int views, const std::string& label,
                                           dist::Comm& comm) {
  if (comm.size() == 1) return predict_dataset_tta(model, ds, opt, augment, views, label);
  // Whole batches of one process's batching: the same GEMMs over the same rows, so the same bytes.
  const dist::Range mine = dist::share_batches(ds.size(), opt.batch_size, comm.rank(), comm.size());
  data::Dataset part = ds;
  part.samples.assign(ds.samples.begin() + mine.begin, ds.samples.begin() + mine.end);
  data::LoaderOptions o = opt;
  o.first_sample = mine.begin;  // augmentation (--tta) keyed to the index in the whole set
  DatasetPredictions p;
  if (part.size() > 0) p = predict_dataset_tta(model, part, o, augment, views, comm.is_root() ? label : "");
  // Rows as text (exact: floats with 9 significant digits, the loss sum with 17), gathered in rank order,
  // which is dataset order since the shares are contiguous.
  std::ostringstream os;
  os.precision(17);
  os << p.targets.size() << ' ' << (p.targets.empty() ? 0.0 : p.loss * static_cast<double>(p.targets.size())) << '\n';
  for (size_t i = 0; i < p.targets.size(); ++i) {
    os << p.indices[i] + mine.begin << ' ' << p.targets[i] << ' ' << p.probs[i].size();
    for (float v : p.probs[i]) os << ' ' << std::setprecision(9) << v;
    os << std::setprecision(17) << '\n';
  }
  const std::vector<std::string> parts = comm.gather(os.str());
  DatasetPredictions all;
  double loss_sum = 0;
  for (const std::string& text : parts) {
    std::istringstream in(text);
    size_t rows = 0;
    double sum = 0;
    in >> rows >> sum;
    loss_sum += sum;
    for (size_t i = 0; i < rows; ++i) {
      int64_t index = 0;
      int target = 0;
      size_t k = 0;
      in >> index >> target >> k;
      std::vector<float> row(k);
      for (float& v : row) {  // as text: strtof reads the "nan" and "inf" that operator>> refuses
        std::string token;
        in >> token;
        v = std::strtof(token.c_str(), nullptr);
      }
      all.indices.push_back(index);
      all.targets.push_back(target);
      all.probs.push_back(std::move(row));
    }
    CXR_CHECK(!in.fail(), "predict_dataset_sharded: a rank's predictions did not parse");
  }
  all.loss = all.targets.empty() ? NAN : loss_sum / static_cast<double>(all.targets.size());
  return all;
}

DatasetPredictions average_predictions(const std::vector<DatasetPredictions>& runs) {
  CXR_CHECK(!runs.empty(), "average_predictions: no predictions to average");
  // Each run's row of a dataset index; -1 where that run skipped the sample.
  int64_t n_index = 0;
  for (const auto& r : runs)
    for (int64_t i : r.indices) n_index = std::max(n_index, i + 1);
  std::vector<std::vector<int64_t>> row(runs.size(), std::vector<int64_t>(n_index, -1));
  for (size_t m = 0; m < runs.size(); ++m) {
    CXR_CHECK(runs[m].probs.size() == runs[m].indices.size() && runs[m].targets.size() == runs[m].indices.size(),
              "average_predictions: run ", m, " has ", runs[m].probs.size(), " rows of probabilities for ",
              runs[m].indices.size(), " samples");
    for (size_t r = 0; r < runs[m].indices.size(); ++r) row[m][runs[m].indices[r]] = static_cast<int64_t>(r);
  }
  const size_t K = runs[0].probs.empty() ? 0 : runs[0].probs[0].size();
  DatasetPredictions out;
  double loss_sum = 0;
  for (int64_t i = 0; i < n_index; ++i) {
    bool everywhere = true;
    for (size_t m = 0; m < runs.size() && everywhere; ++m) everywhere = row[m][i] >= 0;
    if (!everywhere) continue;
    std::vector<double> mean(K, 0.0);
    const int target = runs[0].targets[row[0][i]];
    for (size_t m = 0; m < runs.size(); ++m) {
      const auto& p = runs[m].probs[row[m][i]];
      CXR_CHECK(p.size() == K, "average_predictions: run ", m, " has ", p.size(), " classes, run 0 has ", K);
      CXR_CHECK(runs[m].targets[row[m][i]] == target, "average_predictions: sample ", i, " has target ",
                runs[m].targets[row[m][i]], " in run ", m, " but ", target, " in run 0: not the same dataset");
      for (size_t k = 0; k < K; ++k) mean[k] += p[k];
    }
    std::vector<float> avg(K);
    for (size_t k = 0; k < K; ++k) avg[k] = static_cast<float>(mean[k] / static_cast<double>(runs.size()));
    // Only probabilities are averaged, so the loss is -log of one; a probability that underflowed to 0 is
    // floored at 1e-30 (at most 69 per sample) instead of making the mean infinite. A single model's loss
    // comes from its logits and has no such floor.
    loss_sum -= std::log(std::max(mean[target] / static_cast<double>(runs.size()), 1e-30));
    out.probs.push_back(std::move(avg));
    out.targets.push_back(target);
    out.indices.push_back(i);
  }
  out.loss = out.indices.empty() ? NAN : loss_sum / static_cast<double>(out.indices.size());
  return out;
}

std::vector<std::string> source_groups(const data::Dataset& ds, const DatasetPredictions& p) {
  std::vector<std::string> groups;
  bool any = false;
  for (int64_t i : p.indices) any = any || !ds.samples.at(static_cast<size_t>(i)).source.empty();
  if (!any) return groups;
  for (int64_t i : p.indices) {
    const std::string& s = ds.samples[static_cast<size_t>(i)].source;
    groups.push_back(s.empty() ? "(none)" : s);
  }
  return groups;
}

std::string predictions_csv(const data::Dataset& ds, const DatasetPredictions& p) {
  std::ostringstream out;
  out << "file,label,source,predicted,correct";
  for (const auto& c : ds.class_names) out << ",p_" << data::csv_field(c);
  out << "\n";
  char num[32];
  for (size_t r = 0; r < p.indices.size(); ++r) {
    const data::Sample& s = ds.samples.at(p.indices[r]);
    const auto& pr = p.probs[r];
    const int pred = argmax(pr);
    out << data::csv_field(s.path) << ',' << data::csv_field(ds.class_names.at(p.targets[r])) << ','
        << data::csv_field(s.source) << ',' << data::csv_field(ds.class_names.at(pred)) << ','
        << (pred == p.targets[r] ? 1 : 0);
    for (float v : pr) {
      std::snprintf(num, sizeof num, ",%.9g", v);  // %.9g: a float survives the text round trip exactly
      out << num;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace cxr
