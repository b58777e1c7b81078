// data/synth: synthetic chest X-ray phantoms. Determinism, masks that match the pictures, lesions where each
// class puts them, the shortcut marker's rate and place, anatomy the right way round, and the written layout.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/threading.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "image/image.h"

using namespace cxr;
using data::SynthOptions;
using data::SynthSample;
namespace fs = std::filesystem;

namespace {

SynthSample render(const SynthOptions& o, const std::string& cls, int64_t i, const char* split = "train") {
  return data::render_sample(o, cls, data::sample_seed(o.seed, split, cls, i));
}

int64_t count(const Tensor& m) {
  int64_t n = 0;
  for (int64_t i = 0; i < m.numel(); ++i) n += m[i] > 0.5f;
  return n;
}

// Samples per check; CXR_SYNTH_STRESS=N runs the per-sample checks over N seeds instead (slow, for tuning).
int samples(int n) {
  const char* e = std::getenv("CXR_SYNTH_STRESS");
  return e && std::atoi(e) > 0 ? std::atoi(e) : n;
}

bool same_pixels(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// The connected components (4-neighbour) of a [1, S, S] mask: a label per pixel (-1 outside), sizes.
struct Components {
  std::vector<int> label;
  std::vector<int64_t> size;
  std::vector<double> mean_x;
};
Components components(const Tensor& m) {
  const int S = static_cast<int>(m.size(2));
  Components c;
  c.label.assign(static_cast<size_t>(S) * S, -1);
  std::vector<int> stack;
  for (int start = 0; start < S * S; ++start) {
    if (m[start] < 0.5f || c.label[start] >= 0) continue;
    int id = static_cast<int>(c.size.size());
    c.size.push_back(0);
    c.mean_x.push_back(0);
    stack.push_back(start);
    c.label[start] = id;
    while (!stack.empty()) {
      int p = stack.back();
      stack.pop_back();
      ++c.size[id];
      c.mean_x[id] += p % S;
      int x = p % S, y = p / S;
      const int nb[4][2] = {{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}};
      for (auto& q : nb) {
        if (q[0] < 0 || q[0] >= S || q[1] < 0 || q[1] >= S) continue;
        int j = q[1] * S + q[0];
        if (m[j] >= 0.5f && c.label[j] < 0) {
          c.label[j] = id;
          stack.push_back(j);
        }
      }
    }
    c.mean_x[id] /= static_cast<double>(c.size[id]);
  }
  return c;
}

// The two lungs: for each pixel 0 (image left), 1 (image right) or -1. Fails the test unless the lung mask
// has two large components side by side.
std::vector<int> lung_sides(const Tensor& lung) {
  Components c = components(lung);
  std::vector<int> order(c.size.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return c.size[a] > c.size[b]; });
  EXPECT_GE(order.size(), 2u) << "the lung mask should have two lungs";
  std::vector<int> side(c.label.size(), -1);
  if (order.size() < 2) return side;
  int left = order[0], right = order[1];
  if (c.mean_x[left] > c.mean_x[right]) std::swap(left, right);
  EXPECT_GT(c.size[right], lung.numel() / 40) << "the second lung is too small";
  for (size_t i = 0; i < side.size(); ++i) side[i] = c.label[i] == left ? 0 : c.label[i] == right ? 1 : -1;
  return side;
}

}  // namespace

TEST(Synth, SameSeedSamePixelsOtherSeedOthers) {
  SynthOptions o;
  o.size = 64;
  o.shortcut_rate = 0.5f;
  for (const char* cls : {"NORMAL", "PNEUMONIA", "COVID19"}) {
    SynthSample a = render(o, cls, 3), b = render(o, cls, 3), c = render(o, cls, 4);
    EXPECT_EQ(a.image.shape(), (Shape{1, 64, 64}));
    EXPECT_TRUE(same_pixels(a.image, b.image)) << cls;
    EXPECT_TRUE(same_pixels(a.lesion_mask, b.lesion_mask)) << cls;
    EXPECT_TRUE(same_pixels(a.marker_mask, b.marker_mask)) << cls;
    EXPECT_FALSE(same_pixels(a.image, c.image)) << cls;
    EXPECT_EQ(a.label, cls);
  }
  SynthOptions o2 = o;
  o2.seed = o.seed + 1;
  EXPECT_FALSE(same_pixels(render(o, "NORMAL", 0).image, render(o2, "NORMAL", 0).image));
  // Seeds differ by split and by class.
  EXPECT_NE(data::sample_seed(1, "train", "NORMAL", 0), data::sample_seed(1, "val", "NORMAL", 0));
  EXPECT_NE(data::sample_seed(1, "train", "NORMAL", 0), data::sample_seed(1, "train", "COVID19", 0));
  EXPECT_NE(data::sample_seed(1, "train", "NORMAL", 0), data::sample_seed(1, "train", "NORMAL", 1));
}

TEST(Synth, ValuesInRangeAndMasksBinary) {
  SynthOptions o;
  o.size = 80;
  o.shortcut_rate = 1.f;
  for (const char* cls : {"NORMAL", "PNEUMONIA", "COVID19"}) {
    SynthSample s = render(o, cls, 1);
    for (int64_t i = 0; i < s.image.numel(); ++i) {
      ASSERT_GE(s.image[i], 0.f);
      ASSERT_LE(s.image[i], 1.f);
      for (const Tensor* m : {&s.lung_mask, &s.lesion_mask, &s.marker_mask})
        ASSERT_TRUE((*m)[i] == 0.f || (*m)[i] == 1.f);
    }
  }
}

TEST(Synth, SameImagesWithOneOrTwoThreads) {
  SynthOptions o;
  o.size = 48;
  o.shortcut_rate = 0.5f;
  int saved = num_threads();
  set_num_threads(1);
  auto one = data::render_batch(o, "val", "COVID19", 5, 6);
  set_num_threads(2);
  auto two = data::render_batch(o, "val", "COVID19", 5, 6);
  set_num_threads(saved);
  ASSERT_EQ(one.size(), 6u);
  ASSERT_EQ(two.size(), 6u);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_TRUE(same_pixels(one[i].image, two[i].image)) << i;
    EXPECT_TRUE(same_pixels(one[i].lesion_mask, two[i].lesion_mask)) << i;
    EXPECT_EQ(one[i].shortcut, two[i].shortcut) << i;
    // render_batch's item i is render_sample of index first + i.
    EXPECT_TRUE(same_pixels(one[i].image, render(o, "COVID19", 5 + static_cast<int64_t>(i), "val").image)) << i;
  }
}

TEST(Synth, LesionMasksFollowTheClass) {
  SynthOptions o;
  o.size = 96;
  for (int i = 0; i < samples(12); ++i) {
    SynthSample n = render(o, "NORMAL", i);
    EXPECT_EQ(count(n.lesion_mask), 0) << "NORMAL " << i;
    for (const char* cls : {"PNEUMONIA", "COVID19"}) {
      SynthSample s = render(o, cls, i);
      int64_t lesion = count(s.lesion_mask);
      EXPECT_GT(lesion, 10) << cls << " " << i;
      int64_t outside = 0;
      for (int64_t p = 0; p < s.lesion_mask.numel(); ++p) outside += s.lesion_mask[p] > 0.5f && s.lung_mask[p] < 0.5f;
      EXPECT_EQ(outside, 0) << cls << " " << i << ": lesion pixels outside the lungs";
    }
  }
}

TEST(Synth, PneumoniaInOneLungCovidInBothLowerAndPeripheral) {
  SynthOptions o;
  o.size = 96;
  const int S = o.size;
  for (int i = 0; i < samples(12); ++i) {
    {
      SynthSample s = render(o, "PNEUMONIA", i);
      std::vector<int> side = lung_sides(s.lung_mask);
      int64_t in[2] = {0, 0};
      for (size_t p = 0; p < side.size(); ++p)
        if (s.lesion_mask[static_cast<int64_t>(p)] > 0.5f && side[p] >= 0) ++in[side[p]];
      int64_t total = in[0] + in[1];
      ASSERT_GT(total, 0) << i;
      EXPECT_GE(std::max(in[0], in[1]), total * 9 / 10) << "PNEUMONIA " << i << ": lesion in both lungs (" << in[0]
                                                          << " / " << in[1] << ")";
    }
    {
      SynthSample s = render(o, "COVID19", i);
      std::vector<int> side = lung_sides(s.lung_mask);
      for (int k = 0; k < 2; ++k) {
        // Each lung's vertical extent and its distance from the midline between the lungs.
        int top = S, bottom = -1;
        double lung_dx = 0, lesion_dx = 0, lesion_y = 0;
        int64_t lung_n = 0, lesion_n = 0;
        double mid = 0;
        int64_t all = 0;
        for (int p = 0; p < S * S; ++p)
          if (side[p] >= 0) {
            mid += p % S;
            ++all;
          }
        mid /= static_cast<double>(all);
        for (int p = 0; p < S * S; ++p) {
          if (side[p] != k) continue;
          int x = p % S, y = p / S;
          top = std::min(top, y);
          bottom = std::max(bottom, y);
          lung_dx += std::abs(x - mid);
          ++lung_n;
          if (s.lesion_mask[p] > 0.5f) {
            lesion_dx += std::abs(x - mid);
            lesion_y += y;
            ++lesion_n;
          }
        }
        ASSERT_GT(lesion_n, 0) << "COVID19 " << i << ": no lesion in lung " << k;
        EXPECT_GT(lesion_y / lesion_n, 0.5 * (top + bottom)) << "COVID19 " << i << ": lesion not in the lower half";
        EXPECT_GT(lesion_dx / lesion_n, lung_dx / lung_n) << "COVID19 " << i << ": lesion not peripheral";
      }
    }
  }
}

TEST(Synth, LesionMakesTheLungBrighter) {
  // The same seed with lesion_contrast 0 is the same picture without the lesion (and with the same mask).
  for (const char* cls : {"PNEUMONIA", "COVID19"}) {
    double gain[2];
    for (int d = 0; d < 2; ++d) {
      SynthOptions o;
      o.size = 96;
      o.difficulty = d == 0 ? 0.f : 1.f;
      SynthSample with = render(o, cls, 2);
      o.lesion_contrast = 0.f;
      SynthSample without = render(o, cls, 2);
      ASSERT_TRUE(same_pixels(with.lesion_mask, without.lesion_mask)) << cls;
      ASSERT_TRUE(same_pixels(with.lung_mask, without.lung_mask)) << cls;
      double diff = 0;
      int64_t n = 0, changed_far = 0;
      for (int64_t p = 0; p < with.image.numel(); ++p) {
        if (with.lesion_mask[p] > 0.5f) {
          diff += with.image[p] - without.image[p];
          ++n;
        }
        // Outside the lungs' bounding rows' neighbourhood nothing may change: pick the image's top rows.
        if (p < 96 * 4 && with.image[p] != without.image[p]) ++changed_far;
      }
      ASSERT_GT(n, 0) << cls;
      gain[d] = diff / n;
      EXPECT_EQ(changed_far, 0) << cls;
    }
    EXPECT_GT(gain[0], 0.04) << cls << ": lesion barely brighter at difficulty 0";
    EXPECT_GT(gain[1], 0.005) << cls << ": lesion invisible at difficulty 1";
    EXPECT_LT(gain[1], gain[0]) << cls << ": difficulty should lower the lesion contrast";
  }
}

TEST(Synth, LungsDarkerThanMediastinumAndAnatomyTheRightWayRound) {
  SynthOptions o;
  o.size = 96;
  const int S = o.size;
  int heart_right = 0, right_dome_higher = 0;
  const int N = samples(16);
  for (int i = 0; i < N; ++i) {
    SynthSample s = render(o, "NORMAL", i);
    std::vector<int> side = lung_sides(s.lung_mask);
    // Rows where both lungs are present: lung pixels vs the pixels between the lungs.
    double lung = 0, med = 0;
    int64_t nl = 0, nm = 0;
    int64_t lower[2] = {0, 0};
    int lowest[2] = {-1, -1};
    for (int y = 0; y < S; ++y) {
      int right_edge_of_left = -1, left_edge_of_right = S;
      for (int x = 0; x < S; ++x) {
        int sd = side[y * S + x];
        if (sd == 0) right_edge_of_left = std::max(right_edge_of_left, x);
        if (sd == 1) left_edge_of_right = std::min(left_edge_of_right, x);
        if (sd >= 0) lowest[sd] = std::max(lowest[sd], y);
        if (sd >= 0 && y > S / 2) ++lower[sd];
      }
      if (right_edge_of_left < 0 || left_edge_of_right >= S) continue;
      for (int x = 0; x < S; ++x) {
        float v = s.image[y * S + x];
        if (side[y * S + x] >= 0) {
          lung += v;
          ++nl;
        } else if (x > right_edge_of_left && x < left_edge_of_right) {
          med += v;
          ++nm;
        }
      }
    }
    ASSERT_GT(nl, 0);
    ASSERT_GT(nm, 0);
    EXPECT_LT(lung / nl + 0.1, med / nm) << "sample " << i << ": lungs not darker than the mediastinum";
    // The heart takes room from the image-right lung's lower half; the right hemidiaphragm (image left) is
    // higher, so the image-left lung ends higher.
    heart_right += lower[1] < lower[0];
    right_dome_higher += lowest[0] < lowest[1];
  }
  EXPECT_GE(heart_right, N * 4 / 5);
  EXPECT_GE(right_dome_higher, N * 2 / 3);
}

TEST(Synth, MarkerOnlyOnTheShortcutClassAtItsRateInTheBorderBand) {
  SynthOptions o;
  o.size = 48;
  o.shortcut_rate = 0.5f;
  o.shortcut_class = "COVID19";
  const int S = o.size, band = data::marker_band_px(S);
  EXPECT_EQ(band, 10);
  EXPECT_EQ(data::marker_band_px(200), 40);
  const int N = 200;
  int marked = 0;
  for (int i = 0; i < N; ++i) {
    SynthSample s = render(o, "COVID19", i);
    int64_t n = count(s.marker_mask);
    EXPECT_EQ(n > 0, s.shortcut) << i;
    marked += s.shortcut;
    if (!s.shortcut) continue;
    float brightest = 0.f;
    for (int p = 0; p < S * S; ++p) {
      if (s.marker_mask[p] < 0.5f) continue;
      int x = p % S, y = p / S;
      int edge = std::min(std::min(x, y), std::min(S - 1 - x, S - 1 - y));
      ASSERT_LT(edge, band) << "sample " << i << ": marker pixel (" << x << ", " << y << ") outside the band";
      brightest = std::max(brightest, s.image[p]);
    }
    EXPECT_GE(brightest, 0.9f) << i;
  }
  // Binomial(200, 0.5): sd ~7; +-30 is over 4 sd.
  EXPECT_GT(marked, N / 2 - 30);
  EXPECT_LT(marked, N / 2 + 30);
  for (const char* cls : {"NORMAL", "PNEUMONIA"})
    for (int i = 0; i < 40; ++i) {
      SynthSample s = render(o, cls, i);
      EXPECT_FALSE(s.shortcut) << cls;
      EXPECT_EQ(count(s.marker_mask), 0) << cls;
    }
  o.shortcut_rate = 0.f;
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(render(o, "COVID19", i).shortcut);
  o.shortcut_rate = 1.f;
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(render(o, "COVID19", i).shortcut);
  // The marker does not change the anatomy: away from it, the same pixels as without it.
  o.shortcut_rate = 1.f;
  SynthSample with = render(o, "COVID19", 7);
  o.shortcut_rate = 0.f;
  SynthSample without = render(o, "COVID19", 7);
  for (int p = 0; p < S * S; ++p) {
    if (with.marker_mask[p] < 0.5f) {
      ASSERT_EQ(with.image[p], without.image[p]) << p;
    }
  }
}

TEST(Synth, AnySizeFrom32) {
  SynthOptions o;
  for (int size : {32, 45, 128}) {
    o.size = size;
    SynthSample s = render(o, "PNEUMONIA", 0);
    EXPECT_EQ(s.image.shape(), (Shape{1, size, size}));
    EXPECT_GT(count(s.lung_mask), size * size / 10) << size;
  }
}

TEST(Synth, RejectsBadOptions) {
  SynthOptions o;
  o.size = 16;
  EXPECT_THROW(data::validate(o), Error);
  o = {};
  o.difficulty = 1.5f;
  EXPECT_THROW(data::validate(o), Error);
  o = {};
  o.shortcut_rate = -0.1f;
  EXPECT_THROW(data::validate(o), Error);
  o = {};
  o.classes = {"NORMAL", "TUBERCULOSIS"};
  try {
    data::validate(o);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TUBERCULOSIS"), std::string::npos) << e.what();
  }
  EXPECT_THROW(data::render_sample(SynthOptions{}, "normal", 0), Error);
  // A marker for a class that is not made would be silently absent.
  o = {};
  o.classes = {"NORMAL", "PNEUMONIA"};
  o.shortcut_class = "COVID19";
  o.shortcut_rate = 1.0f;
  try {
    data::validate(o);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shortcut class COVID19 is not among the classes made (NORMAL, PNEUMONIA)"),
              std::string::npos)
        << e.what();
  }
  o.shortcut_rate = 0.0f;  // no marker asked for: fine
  EXPECT_NO_THROW(data::validate(o));
  o = {};
  EXPECT_NO_THROW(data::validate(o));
}

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("cxr_test_synth_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(Synth, WritesLayoutManifestAndMasks) {
  SynthOptions o;
  o.size = 40;
  o.train = 2;
  o.val = 1;
  o.test = 1;
  o.shortcut_rate = 1.f;
  o.shortcut_class = "COVID19";
  fs::path dir = temp_dir("layout");
  data::SynthStats st = data::write_dataset(o, dir.string());
  EXPECT_EQ(st.images, 12);
  EXPECT_EQ(st.with_marker, 4);
  EXPECT_EQ(st.per_split[0], 6);
  auto rows = read_csv(dir / "manifest.csv");
  ASSERT_EQ(rows.size(), 13u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"file", "label", "split", "source", "patient_id", "lung_mask",
                                               "lesion_mask", "shortcut"}));
  std::set<std::string> ids;
  std::map<std::string, int> per_class_split;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    ASSERT_EQ(row.size(), 8u) << r;
    const std::string &file = row[0], &label = row[1], &split = row[2];
    EXPECT_EQ(file, split + "/" + label + "/" + row[4] + ".png");
    EXPECT_EQ(row[5], "masks/lung/" + split + "/" + label + "/" + row[4] + ".png");
    EXPECT_EQ(row[6], "masks/lesion/" + split + "/" + label + "/" + row[4] + ".png");
    EXPECT_TRUE(ids.insert(row[4]).second) << "duplicate patient id " << row[4];
    ++per_class_split[split + "/" + label];
    bool marked = label == "COVID19";
    EXPECT_EQ(row[7], marked ? "1" : "0") << r;
    EXPECT_EQ(row[3], marked ? "synth-marker" : "synth") << r;
    EXPECT_EQ(fs::exists(dir / "masks" / "marker" / split / label / (row[4] + ".png")), marked) << r;
    image::Image img = image::load_image((dir / file).string());
    EXPECT_EQ(img.channels(), 1);
    EXPECT_EQ(img.width(), 40);
    EXPECT_EQ(img.height(), 40);
    image::Image lung = image::load_image((dir / row[5]).string());
    image::Image lesion = image::load_image((dir / row[6]).string());
    int64_t lung_n = 0, lesion_n = 0;
    for (int64_t p = 0; p < lung.pixels.numel(); ++p) {
      ASSERT_TRUE(lung.pixels[p] == 0.f || lung.pixels[p] == 1.f);
      ASSERT_TRUE(lesion.pixels[p] == 0.f || lesion.pixels[p] == 1.f);
      lung_n += lung.pixels[p] == 1.f;
      lesion_n += lesion.pixels[p] == 1.f;
    }
    EXPECT_GT(lung_n, 100);
    EXPECT_EQ(lesion_n > 0, label != "NORMAL") << r;
    // The written image is the rendered one (8-bit).
    int64_t index = split == "train" ? (r - 1) % 2 : 0;
    SynthSample s = data::render_sample(o, label, data::sample_seed(o.seed, split, label, index));
    double worst = 0;
    for (int64_t p = 0; p < s.image.numel(); ++p) worst = std::max(worst, double(std::abs(s.image[p] - img.pixels[p])));
    EXPECT_LE(worst, 0.5 / 255 + 1e-6) << file;
  }
  EXPECT_EQ(per_class_split["train/NORMAL"], 2);
  EXPECT_EQ(per_class_split["test/PNEUMONIA"], 1);
  // A folder scan of a split finds the images only, the masks sitting elsewhere.
  data::Dataset train = data::open_folder((dir / "train").string());
  EXPECT_EQ(train.size(), 6);
  data::Dataset all = data::open_dataset(dir.string());
  EXPECT_EQ(all.size(), 12);
  EXPECT_EQ(all.num_classes(), 3);
  fs::remove_all(dir);
}

TEST(Synth, WrittenFilesIndependentOfThreadsAndClassSubset) {
  SynthOptions o;
  o.size = 36;
  o.train = 3;
  o.val = 0;
  o.test = 1;
  o.shortcut_rate = 0.5f;
  fs::path d1 = temp_dir("t1"), d2 = temp_dir("t2"), d3 = temp_dir("t3");
  int saved = num_threads();
  set_num_threads(1);
  data::write_dataset(o, d1.string());
  set_num_threads(2);
  data::write_dataset(o, d2.string());
  SynthOptions sub = o;
  sub.classes = {"PNEUMONIA"};
  sub.shortcut_rate = 0.0f;  // no COVID19 made, so no marker to ask for (refused otherwise)
  data::write_dataset(sub, d3.string());
  set_num_threads(saved);
  EXPECT_EQ(file_bytes(d1 / "manifest.csv"), file_bytes(d2 / "manifest.csv"));
  EXPECT_FALSE(fs::exists(d1 / "val"));
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(d1)) {
    if (!e.is_regular_file()) continue;
    fs::path rel = fs::relative(e.path(), d1);
    EXPECT_EQ(file_bytes(e.path()), file_bytes(d2 / rel)) << rel;
    ++files;
  }
  EXPECT_GE(files, 12 * 3 + 1);
  // A PNEUMONIA image is the same whether or not the other classes are generated (ids differ, pixels not).
  auto rows = read_csv(d3 / "manifest.csv");
  ASSERT_EQ(rows.size(), 5u);
  image::Image a = image::load_image((d3 / rows[1][0]).string());
  SynthSample s = data::render_sample(o, "PNEUMONIA", data::sample_seed(o.seed, "train", "PNEUMONIA", 0));
  for (int64_t p = 0; p < s.image.numel(); ++p) ASSERT_NEAR(a.pixels[p], s.image[p], 0.5 / 255 + 1e-6);
  for (auto& d : {d1, d2, d3}) fs::remove_all(d);
}

TEST(Synth, CommandLine) {
  fs::path dir = temp_dir("cli");
  std::string cmd = std::string(CXR_BINARY) + " synth --out " + dir.string() +
                    " --count 1 --size 32 --classes NORMAL,COVID19 --shortcut-rate 1 --seed 5 > " +
                    (dir.string() + ".log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << file_bytes(dir.string() + ".log");
  auto rows = read_csv(dir / "manifest.csv");
  EXPECT_EQ(rows.size(), 7u);  // header + 2 classes x 3 splits
  std::string log = file_bytes(dir.string() + ".log");
  EXPECT_NE(log.find("6 images"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(dir / "test" / "COVID19"));
  EXPECT_FALSE(fs::exists(dir / "test" / "PNEUMONIA"));
  std::string bad = std::string(CXR_BINARY) + " synth --out " + dir.string() + " --size 8 > /dev/null 2>&1";
  int rc = std::system(bad.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << rc;
  fs::remove_all(dir);
  fs::remove(dir.string() + ".log");
}
