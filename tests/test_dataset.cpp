// data/dataset: class folders in the three public layouts, CSV manifests, class order, splits by patient.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/rng.h"
#include "data/dataset.h"
#include "error_of.h"
#include "image/image.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::image;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path root;
  TempDir() {
    static int counter = 0;
    root = fs::temp_directory_path() / str("cxr_test_dataset_", getpid(), "_", counter++);
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  // A tiny real PNG (4 x 3 gray) at root/rel, creating folders.
  std::string png(const std::string& rel) {
    fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    save_png(p.string(), Tensor::full({1, 3, 4}, 0.5f));
    return p.string();
  }
  std::string text(const std::string& rel, const std::string& content) {
    fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string operator/(const std::string& rel) const { return (root / rel).string(); }
};

std::map<std::string, int64_t> counts_by_name(const Dataset& ds) {
  std::map<std::string, int64_t> m;
  auto c = ds.class_counts();
  for (int i = 0; i < ds.num_classes(); ++i) m[ds.class_names[i]] = c[i];
  return m;
}

std::set<std::string> filenames(const Dataset& ds) {
  std::set<std::string> s;
  for (const auto& x : ds.samples) s.insert(fs::path(x.path).filename().string());
  return s;
}

}  // namespace

// Kaggle "Chest X-ray (Covid-19 & Pneumonia)": Data/{train,test}/{COVID19,NORMAL,PNEUMONIA}.
TEST(DatasetFolder, KaggleSplitLayout) {
  TempDir t;
  t.png("Data/train/PNEUMONIA/p1.png");
  t.png("Data/train/PNEUMONIA/p2.JPG.png");
  t.png("Data/train/COVID19/c1.png");
  t.png("Data/train/NORMAL/n1.jpeg");  // a PNG named .jpeg: listing goes by extension, decoding by bytes
  t.png("Data/test/NORMAL/n2.PNG");
  t.png("Data/test/COVID19/c2.jpg");
  Dataset all = open_folder(t / "Data");
  EXPECT_EQ(all.class_names, (std::vector<std::string>{"COVID19", "NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(all.size(), 6);
  EXPECT_TRUE(has_splits(all));
  Dataset test = select_split(all, "test");
  EXPECT_EQ(filenames(test), (std::set<std::string>{"n2.PNG", "c2.jpg"}));
  EXPECT_EQ(test.class_names, all.class_names);  // the same label indices on every split
  for (const auto& s : test.samples) EXPECT_EQ(test.class_names[s.label], fs::path(s.path).parent_path().filename().string());

  // Pointing at Data/train gives the classes directly, and the split from the folder's name.
  Dataset train = open_folder(t / "Data/train");
  EXPECT_EQ(train.size(), 4);
  EXPECT_EQ(counts_by_name(train), (std::map<std::string, int64_t>{{"COVID19", 1}, {"NORMAL", 1}, {"PNEUMONIA", 2}}));
  for (const auto& s : train.samples) EXPECT_EQ(s.split, "train");
  EXPECT_NE(error_of([&] { select_split(train, "val"); }).find("train"), std::string::npos);
}

// Kermany's pediatric set: chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}; patient ids from the names.
TEST(DatasetFolder, PediatricLayoutAndPatientIds) {
  TempDir t;
  t.png("chest_xray/train/PNEUMONIA/person1_bacteria_1.jpeg");
  t.png("chest_xray/train/PNEUMONIA/person1_virus_7.jpeg");
  t.png("chest_xray/train/PNEUMONIA/person22_bacteria_90.jpeg");
  t.png("chest_xray/train/NORMAL/IM-0115-0001.jpeg");
  t.png("chest_xray/train/NORMAL/NORMAL2-IM-1427-0001.jpeg");
  t.png("chest_xray/val/NORMAL/IM-0200-0001.jpeg");
  t.png("chest_xray/test/PNEUMONIA/person3_virus_4.jpeg");
  t.text("chest_xray/train/NORMAL/.DS_Store", "junk");
  Dataset train = open_folder(t / "chest_xray/train");
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  std::map<std::string, std::string> pid;
  for (const auto& s : train.samples) pid[fs::path(s.path).filename().string()] = s.patient_id;
  EXPECT_EQ(pid["person1_bacteria_1.jpeg"], "person1");
  EXPECT_EQ(pid["person1_virus_7.jpeg"], "person1");
  EXPECT_EQ(pid["person22_bacteria_90.jpeg"], "person22");
  EXPECT_EQ(pid["IM-0115-0001.jpeg"], "IM-0115");
  EXPECT_EQ(pid["NORMAL2-IM-1427-0001.jpeg"], "NORMAL2-IM-1427");
  Dataset all = open_folder(t / "chest_xray/");  // trailing slash
  EXPECT_EQ(all.size(), 7);
  EXPECT_EQ(select_split(all, "validation").size(), 1);
}

// COVID-19 Radiography Database: CLASS/images/*.png beside CLASS/masks/*.png, plus loose metadata files.
TEST(DatasetFolder, RadiographyLayoutSkipsMasks) {
  TempDir t;
  for (const char* c : {"COVID", "Normal", "Viral Pneumonia"}) {
    for (int i = 1; i <= 3; ++i) {
      t.png(str("R/", c, "/images/", c, "-", i, ".png"));
      t.png(str("R/", c, "/masks/", c, "-", i, ".png"));
    }
  }
  t.text("R/COVID.metadata.xlsx", "not a folder");
  t.text("R/README.md.txt", "readme");
  t.png("R/Normal/images/Normal-1_mask.png");
  t.png("R/Normal/Masks/extra.png");  // any case
  Dataset ds = open_folder(t / "R");
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"COVID", "Normal", "Viral Pneumonia"}));
  EXPECT_EQ(ds.size(), 9);
  for (const auto& s : ds.samples) EXPECT_EQ(s.path.find("masks"), std::string::npos) << s.path;
  for (const auto& s : ds.samples) EXPECT_EQ(s.path.find("Masks"), std::string::npos) << s.path;
  EXPECT_EQ(counts_by_name(ds)["Normal"], 3);
}

TEST(DatasetFolder, NestedHiddenNonImagesAndLinks) {
  TempDir t;
  t.png("D/A/deep/er/still/a1.png");
  t.png("D/A/a2.Jpeg");
  t.png("D/A/.hidden.png");
  t.png("D/A/.cache/a3.png");
  t.text("D/A/notes.txt", "x");
  t.text("D/A/scan.dcm", "x");
  t.text("D/A/png", "no extension");
  t.png("D/B/b1.png");
  t.png("D/.trash/t1.png");  // a hidden folder is not a class
  t.png("elsewhere/e1.png");
  fs::create_directory_symlink(t.root / "D/A", t.root / "D/A/deep/loop");  // a loop back up
  fs::create_directory_symlink(t.root / "elsewhere", t.root / "D/B/linked");
  Dataset ds = open_folder(t / "D");
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(filenames(ds), (std::set<std::string>{"a1.png", "a2.Jpeg", "b1.png", "e1.png"}));
  EXPECT_EQ(ds.size(), 4);  // the loop does not list A's files twice
  for (const auto& s : ds.samples) EXPECT_EQ(s.split, "");
  // Sorted, filesystem-independent order within a class.
  EXPECT_LT(ds.samples[0].path, ds.samples[1].path);
}

TEST(DatasetFolder, ClassNamesGivenOrSorted) {
  TempDir t;
  t.png("D/zeta/1.png");
  t.png("D/Alpha/1.png");
  t.png("D/beta/1.png");
  t.png("D/beta/2.png");
  Dataset sorted = open_folder(t / "D");
  // Keras sorts plain byte order: upper case first.
  EXPECT_EQ(sorted.class_names, (std::vector<std::string>{"Alpha", "beta", "zeta"}));
  Dataset given = open_folder(t / "D", {{"zeta", "beta", "Alpha", "extra"}});
  EXPECT_EQ(given.class_names, (std::vector<std::string>{"zeta", "beta", "Alpha", "extra"}));
  // (Not {1, 1, 1, 0}: GCC 12.2 with -march=native miscompiles that constant, see /work/notes.)
  EXPECT_EQ(given.class_counts(), (std::vector<int64_t>{1, 2, 1, 0}));
  for (const auto& s : given.samples) EXPECT_EQ(given.class_names[s.label], fs::path(s.path).parent_path().filename().string());
  std::string err = error_of([&] { open_folder(t / "D", {{"zeta", "beta"}}); });
  EXPECT_NE(err.find("Alpha"), std::string::npos) << err;
  EXPECT_NE(error_of([&] { open_folder(t / "nope"); }).find("nope"), std::string::npos);
  t.text("E/readme.txt", "x");
  EXPECT_NE(error_of([&] { open_folder(t / "E"); }).find("no class folders"), std::string::npos);
}

TEST(DatasetManifest, ParsesQuotedFieldsAndResolvesPaths) {
  TempDir t;
  std::string csv =
      "\xEF\xBB\xBF" "file,label,split,source,patient_id,extra\r\n"
      "img/a.png,NORMAL,train,nih,p1,x\r\n"
      "\"img/b, with comma.png\",COVID19,val,\"say \"\"hi\"\"\",p2,\"multi\nline\"\r\n"
      "\r\n"
      "/abs/c.png,PNEUMONIA,Validation,,,\r\n";
  std::string path = t.text("sub/manifest.csv", csv);
  Dataset ds = open_manifest(path);
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"COVID19", "NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(ds.samples[0].path, (t.root / "sub/img/a.png").string());
  EXPECT_EQ(ds.samples[1].path, (t.root / "sub/img/b, with comma.png").string());
  EXPECT_EQ(ds.samples[2].path, "/abs/c.png");
  EXPECT_EQ(ds.samples[1].source, "say \"hi\"");
  EXPECT_EQ(ds.samples[1].split, "val");
  EXPECT_EQ(ds.samples[2].split, "val");
  EXPECT_EQ(ds.samples[0].patient_id, "p1");
  EXPECT_EQ(ds.samples[2].patient_id, "");
  EXPECT_EQ(ds.class_names[ds.samples[0].label], "NORMAL");
  // open_dataset on the folder reads the manifest.
  EXPECT_EQ(open_dataset(t / "sub").size(), 3);
}

TEST(DatasetManifest, SynthColumnsAndMasks) {
  TempDir t;
  std::string path = t.text("m.csv",
                            "file,label,split,source,patient_id,lung_mask,lesion_mask,shortcut\n"
                            "train/COVID19/0.png,COVID19,train,synth,s0,masks/lung/0.png,masks/lesion/0.png,1\n"
                            "train/NORMAL/1.png,NORMAL,train,synth,s1,masks/lung/1.png,,0\n");
  Dataset ds = open_manifest(path);
  EXPECT_EQ(ds.samples[0].lung_mask, (t.root / "masks/lung/0.png").string());
  EXPECT_EQ(ds.samples[0].lesion_mask, (t.root / "masks/lesion/0.png").string());
  EXPECT_EQ(ds.samples[1].lesion_mask, "");
}

TEST(DatasetManifest, ErrorsNameTheManifestAndLine) {
  TempDir t;
  std::string no_label = t.text("a.csv", "file,split\nx.png,train\n");
  std::string err = error_of([&] { open_manifest(no_label); });
  EXPECT_NE(err.find(no_label), std::string::npos) << err;
  EXPECT_NE(err.find("label"), std::string::npos) << err;

  std::string short_row = t.text("b.csv", "file,label,split\na.png,NORMAL,train\nb.png,NORMAL\n");
  err = error_of([&] { open_manifest(short_row); });
  EXPECT_NE(err.find(short_row + ":3"), std::string::npos) << err;

  std::string open_quote = t.text("c.csv", "file,label\n\"a.png,NORMAL\n");
  err = error_of([&] { open_manifest(open_quote); });
  EXPECT_NE(err.find(open_quote + ":2"), std::string::npos) << err;

  // A quoted newline counts: the bad row starts on line 4.
  std::string multi = t.text("d.csv", "file,label,note\na.png,NORMAL,\"two\nlines\"\nb.png,,x\n");
  err = error_of([&] { open_manifest(multi); });
  EXPECT_NE(err.find(multi + ":4"), std::string::npos) << err;

  std::string unknown = t.text("e.csv", "file,label\na.png,NORMAL\nweird.png,FLU\n");
  err = error_of([&] { open_manifest(unknown, {{"NORMAL", "PNEUMONIA"}}); });
  EXPECT_NE(err.find(unknown + ":3"), std::string::npos) << err;
  EXPECT_NE(err.find("weird.png"), std::string::npos) << err;
  EXPECT_NE(err.find("FLU"), std::string::npos) << err;

  EXPECT_NE(error_of([&] { open_manifest(t / "missing.csv"); }).find("missing.csv"), std::string::npos);
}

TEST(DatasetManifest, CsvFieldRoundTrip) {
  std::vector<std::string> fields = {"plain", "with,comma", "with \"quotes\"", "new\nline", ""};
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += csv_field(fields[i]);
  }
  auto rows = parse_csv(line + "\n", "roundtrip");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], fields);
}

TEST(Dataset, WeightsAndSummary) {
  Dataset ds;
  ds.origin = "mem";
  ds.class_names = {"A", "B", "C"};
  int labels[] = {0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2};
  for (int l : labels) ds.samples.push_back({"f", l, "", "", "", "", ""});
  // sklearn 'balanced': 12 / (3 * count) = 2, 1, 2/3.
  auto w = ds.class_weights();
  EXPECT_FLOAT_EQ(w[0], 2.0f);
  EXPECT_FLOAT_EQ(w[1], 1.0f);
  EXPECT_FLOAT_EQ(w[2], 2.0f / 3.0f);
  std::string s = ds.summary();
  EXPECT_NE(s.find("12 images"), std::string::npos) << s;
  EXPECT_NE(s.find("A 2 (16.7%)"), std::string::npos) << s;
  EXPECT_NE(s.find("C 6 (50.0%)"), std::string::npos) << s;
}

// A made-up cohort: 400 patients with 1..4 images each, imbalanced classes, 30 patients under two labels.
static Dataset cohort() {
  Dataset ds;
  ds.origin = "cohort";
  ds.class_names = {"COVID19", "NORMAL", "PNEUMONIA"};
  Rng rng(99);
  for (int p = 0; p < 400; ++p) {
    int label = p < 220 ? 1 : (p < 330 ? 2 : 0);
    int images = 1 + static_cast<int>(rng.below(4));
    for (int i = 0; i < images; ++i) {
      int l = (p % 13 == 0 && i == images - 1) ? (label + 1) % 3 : label;
      ds.samples.push_back({str("p", p, "_", i, ".png"), l, "", "", str("pat", p), "", ""});
    }
  }
  return ds;
}

TEST(DatasetSplit, ByPatientNeverLeaksAndIsStratified) {
  Dataset ds = cohort();
  auto total = ds.class_counts();
  std::set<std::set<std::string>> distinct_val_sets;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    PatientSplit sp = split_by_patient(ds, 0.2, seed);
    ASSERT_EQ(sp.train.size() + sp.val.size(), ds.size());
    std::set<std::string> tr, va, va_files;
    for (const auto& s : sp.train.samples) tr.insert(s.patient_id);
    for (const auto& s : sp.val.samples) {
      va.insert(s.patient_id);
      va_files.insert(s.path);
    }
    for (const auto& p : va) ASSERT_EQ(tr.count(p), 0u) << "patient " << p << " on both sides, seed " << seed;
    auto vc = sp.val.class_counts();
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(static_cast<double>(vc[c]) / total[c], 0.2, 0.05) << "class " << c << " seed " << seed;
    EXPECT_NEAR(static_cast<double>(sp.val.size()) / ds.size(), 0.2, 0.02);
    distinct_val_sets.insert(va_files);
  }
  EXPECT_GT(distinct_val_sets.size(), 190u);  // the seed matters
  auto a = split_by_patient(ds, 0.2, 7), b = split_by_patient(ds, 0.2, 7);
  ASSERT_EQ(a.val.size(), b.val.size());
  for (int64_t i = 0; i < a.val.size(); ++i) EXPECT_EQ(a.val.samples[i].path, b.val.samples[i].path);
  EXPECT_EQ(split_by_patient(ds, 0.0, 1).val.size(), 0);
  EXPECT_EQ(split_by_patient(ds, 1.0, 1).train.size(), 0);
  EXPECT_THROW(split_by_patient(ds, 1.5, 1), Error);
}

TEST(DatasetSplit, SamplesWithoutPatientIdAreTheirOwnGroup) {
  Dataset ds;
  ds.class_names = {"A", "B"};
  for (int i = 0; i < 100; ++i) ds.samples.push_back({str("f", i), i % 2, "", "", "", "", ""});
  PatientSplit sp = split_by_patient(ds, 0.3, 5);
  EXPECT_EQ(sp.val.size(), 30);
  EXPECT_EQ(sp.val.class_counts(), (std::vector<int64_t>{15, 15}));
}

TEST(DatasetReal, CxrRealManifest) {
  std::string manifest = std::string(CXR_SHARED_DIR) + "/data/cxr-real/manifest.csv";
  if (!fs::exists(manifest)) GTEST_SKIP() << manifest << " is absent";
  Dataset ds = open_dataset(std::string(CXR_SHARED_DIR) + "/data/cxr-real");
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"COVID19", "NORMAL", "PNEUMONIA"}));
  EXPECT_TRUE(has_splits(ds));
  for (int64_t i = 0; i < ds.size(); i += 97) EXPECT_TRUE(fs::exists(ds.samples[i].path)) << ds.samples[i].path;
  std::map<std::string, std::set<int>> labels_of;
  for (const auto& s : ds.samples) {
    EXPECT_FALSE(s.patient_id.empty());
    labels_of[s.patient_id].insert(s.label);
  }
  int two_labels = 0;
  for (const auto& [p, l] : labels_of) two_labels += l.size() > 1;
  // SOURCES.md counts 27 such patients in the full 2851-image set; this manifest holds a subset.
  EXPECT_GT(two_labels, 0);
  std::cout << two_labels << " patients appear under two labels\n";
  Dataset train = select_split(ds, "train"), val = select_split(ds, "val");
  EXPECT_EQ(train.size() + val.size(), ds.size());
  std::cout << ds.summary() << "\n";
  // Re-splitting by patient keeps each of those 27 patients on one side.
  PatientSplit sp = split_by_patient(ds, 0.15, 3);
  std::set<std::string> tr;
  for (const auto& s : sp.train.samples) tr.insert(s.patient_id);
  for (const auto& s : sp.val.samples) ASSERT_EQ(tr.count(s.patient_id), 0u) << s.patient_id;
}

TEST(DatasetSplit, AutoPicksTestThenValThenAll) {
  auto with = [](std::vector<std::string> splits) {
    Dataset ds;
    ds.class_names = {"A"};
    for (auto& s : splits) {
      Sample smp;
      smp.split = s;
      ds.samples.push_back(smp);
    }
    return ds;
  };
  EXPECT_EQ(resolve_split(with({"train", "val", "test"}), "auto"), "test");
  EXPECT_EQ(resolve_split(with({"train", "val"}), "auto"), "val");
  EXPECT_EQ(resolve_split(with({"train", "train"}), "auto"), "all");
  EXPECT_EQ(resolve_split(with({"test", ""}), "auto"), "all");  // not every sample has a split
  EXPECT_EQ(resolve_split(with({"train", "test"}), "val"), "val");  // an explicit split is kept as asked
}

TEST(DatasetSources, ExcludeSourcesKeepsTheOthersInOrder) {
  TempDir t;
  std::string path = t.text("m.csv",
                            "file,label,split,source\n"
                            "a.png,NORMAL,train,nih\n"
                            "b.png,COVID19,train,mhh\n"
                            "c.png,PNEUMONIA,val,nih\n"
                            "d.png,NORMAL,train,\n"
                            "e.png,COVID19,val,ieee\n");
  Dataset ds = open_manifest(path);
  Dataset kept = exclude_sources(ds, {"nih"});
  ASSERT_EQ(kept.size(), 3);
  EXPECT_EQ(fs::path(kept.samples[0].path).filename(), "b.png");
  EXPECT_EQ(fs::path(kept.samples[1].path).filename(), "d.png");  // no source: never excluded by name
  EXPECT_EQ(fs::path(kept.samples[2].path).filename(), "e.png");
  EXPECT_EQ(kept.class_names, ds.class_names);  // classes stay, even one left without samples
  EXPECT_NE(kept.origin.find("without nih"), std::string::npos) << kept.origin;
  EXPECT_EQ(exclude_sources(ds, {"nih", "ieee", "mhh"}).size(), 1);
  EXPECT_EQ(exclude_sources(ds, {}).size(), 5);
  // A name that is no sample's source is a typo to report, not a no-op ...
  std::string err = error_of([&] { exclude_sources(ds, {"nhi"}); });
  EXPECT_NE(err.find("m.csv"), std::string::npos) << err;
  EXPECT_NE(err.find("'nhi'"), std::string::npos) << err;
  EXPECT_NE(err.find("ieee, mhh, nih"), std::string::npos) << err;
  // ... unless the caller allows it (a validation set that happens to lack the source).
  EXPECT_EQ(exclude_sources(ds, {"nhi"}, false).size(), 5);
}

// The inputs of `cxr explain` / `cxr predict`: files as given; a manifest, or a folder whose sub-folders hold
// images, as a dataset (with labels); any other folder as the images in it. Decided by what is there, not by
// trying one and catching its error.
TEST(ExpandImageInputs, FilesDatasetsAndPlainFolders) {
  TempDir t;
  t.png("classes/COVID19/a.png");
  t.png("classes/NORMAL/b.png");
  t.png("plain/x.png");
  t.png("plain/w.jpg");
  t.text("plain/notes.txt", "not an image");
  t.png("empty_classes/COVID19/.hidden.png");  // class folders without images: a plain folder (then no images)
  const std::string scan = t.png("scan.png");
  auto items = expand_image_inputs({scan, t / "classes", t / "plain"});
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].path, scan);
  EXPECT_EQ(items[0].label, "");
  EXPECT_EQ(items[1].label, "COVID19");
  EXPECT_EQ(items[2].label, "NORMAL");
  EXPECT_EQ(fs::path(items[3].path).filename(), "w.jpg");  // sorted
  EXPECT_EQ(fs::path(items[4].path).filename(), "x.png");
  EXPECT_EQ(items[4].label, "");
  // Errors name the input.
  EXPECT_THROW(expand_image_inputs({t / "missing.png"}), Error);
  EXPECT_EQ(expand_image_inputs({t / "missing.png"}, /*missing_ok=*/true).size(), 1u);
  const std::string why = error_of([&] { expand_image_inputs({t / "empty_classes"}); });
  EXPECT_NE(why.find("empty_classes: no images"), std::string::npos) << why;
  // A folder's manifest.csv is read, and a broken one is an error naming it (it used to be passed over
  // silently, and the folder's images listed without their labels).
  t.text("m/manifest.csv", "file,label\n\"unclosed,COVID19\n");
  t.png("m/img.png");
  const std::string bad = error_of([&] { expand_image_inputs({t / "m"}); });
  EXPECT_NE(bad.find("manifest.csv"), std::string::npos) << bad;
}
