// Writes the fuzzers' seed corpora, made by cxr's own writers (and libpng / libjpeg for the variants cxr does
// not write): `fuzz_make_seeds OUT` fills OUT/<target>/ with small valid files, a few bytes to a few kB each.
// scripts/fuzz.sh runs it once per corpus folder; nothing here is committed.
#include <png.h>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../jpeg_writer.h"
#include "core/atomic_file.h"
#include "explain/npy.h"
#include "explain/xai_report.h"
#include "image/png.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "train/config.h"
#include "train/history.h"
#include "train/run_files.h"

namespace fs = std::filesystem;
using namespace cxr;

namespace {

std::string out_dir;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(fs::path(out_dir) / target);
  std::ofstream((fs::path(out_dir) / target / name).string(), std::ios::binary) << bytes;
}

Tensor ramp(Shape s) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i % 17) / 16.0f;
  return t;
}

// libpng writer for what encode_png does not write: palettes, 1/2/4/16-bit, tRNS, Adam7.
std::string png_custom(int w, int h, int depth, int color, bool interlace, bool trns) {
  std::string out;
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(p);
  png_set_write_fn(
      p, &out, [](png_structp pp, png_bytep b, size_t n) {
        static_cast<std::string*>(png_get_io_ptr(pp))->append(reinterpret_cast<char*>(b), n);
      },
      nullptr);
  png_set_IHDR(p, info, w, h, depth, color, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(p, info, pal, 4);
  png_byte alpha[4] = {0, 128, 255, 255};
  png_color_16 gray_key{};
  if (trns) png_set_tRNS(p, info, alpha, color == PNG_COLOR_TYPE_PALETTE ? 4 : 0, &gray_key);
  png_write_info(p, info);
  const int channels = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                       : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  const size_t rowbytes = (static_cast<size_t>(w) * channels * depth + 7) / 8;
  std::vector<png_byte> row(rowbytes);
  const int passes = interlace ? png_set_interlace_handling(p) : 1;
  for (int pass = 0; pass < passes; ++pass)
    for (int y = 0; y < h; ++y) {
      for (size_t i = 0; i < rowbytes; ++i)  // palette indices stay below the 4 entries
        row[i] = static_cast<png_byte>((i * 37 + y * 11) & (depth < 8 ? 0x55 : color == PNG_COLOR_TYPE_PALETTE ? 3 : 0xff));
      png_write_row(p, row.data());
    }
  png_write_end(p, info);
  png_destroy_write_struct(&p, &info);
  return out;
}

std::string exif_app1(int orientation) {
  std::string t = "II";
  auto u16 = [&](int v) { t += static_cast<char>(v & 0xff); t += static_cast<char>((v >> 8) & 0xff); };
  auto u32 = [&](uint32_t v) { u16(v & 0xffff); u16(v >> 16); };
  u16(42); u32(8); u16(1);
  u16(0x0112); u16(3); u32(1); u16(orientation); u16(0);
  u32(0);
  return std::string("Exif\0\0", 6) + t;
}

std::string jpeg(int w, int h, int comps, J_COLOR_SPACE space, bool progressive, const std::string& app1) {
  std::vector<uint8_t> pix(static_cast<size_t>(w) * h * comps);
  for (size_t y = 0; y < static_cast<size_t>(h); ++y)
    for (size_t i = 0; i < static_cast<size_t>(w) * comps; ++i)
      pix[y * w * comps + i] = static_cast<uint8_t>((i * 13 + y * 7) & 0xff);
  return cxr_test::make_jpeg(w, h, comps, space, pix, 75, progressive, app1);
}

std::string bytes_str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// A safetensors file from a header written by hand (dtypes cxr does not write) and its data.
std::string safetensors_raw(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

ModelConfig tiny_vgg() {  // the model of fuzz_checkpoint.cpp
  ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = true;
  c.width = 1.0f / 32;
  c.in_channels = 1;
  c.input_size = 32;
  c.head = "gap";
  c.num_classes = 3;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  // --- images
  std::vector<std::pair<std::string, std::string>> pngs = {
      {"gray8.png", image::detail::encode_png(ramp({1, 8, 8}), "seed")},
      {"ga8.png", image::detail::encode_png(ramp({2, 3, 5}), "seed")},
      {"rgb8.png", image::detail::encode_png(ramp({3, 5, 3}), "seed")},
      {"rgba8.png", image::detail::encode_png(ramp({4, 4, 4}), "seed")},
      {"pal_trns.png", png_custom(7, 5, 2, PNG_COLOR_TYPE_PALETTE, false, true)},
      {"pal_adam7.png", png_custom(9, 9, 8, PNG_COLOR_TYPE_PALETTE, true, false)},
      {"gray1.png", png_custom(13, 3, 1, PNG_COLOR_TYPE_GRAY, false, false)},
      {"gray16_trns.png", png_custom(4, 4, 16, PNG_COLOR_TYPE_GRAY, false, true)},
      {"rgb16_adam7.png", png_custom(6, 6, 16, PNG_COLOR_TYPE_RGB, true, false)},
  };
  std::vector<std::pair<std::string, std::string>> jpegs = {
      {"gray.jpg", jpeg(16, 16, 1, JCS_GRAYSCALE, false, "")},
      {"rgb_exif6.jpg", jpeg(16, 8, 3, JCS_RGB, false, exif_app1(6))},
      {"rgb_prog_exif3.jpg", jpeg(8, 16, 3, JCS_RGB, true, exif_app1(3))},
      {"cmyk.jpg", jpeg(8, 8, 4, JCS_CMYK, false, "")},
  };
  for (auto& [n, b] : pngs) put("png", n, b), put("image", n, b);
  for (auto& [n, b] : jpegs) put("jpeg", n, b), put("image", n, b);
  put("jpeg", "exif8.bin", exif_app1(8));
  put("image", "text.bin", "not an image\n");

  // --- safetensors
  std::vector<io::NamedTensor> ts(3);
  ts[0].name = "a";
  ts[0].value = ramp({2, 3});
  ts[1].name = "n";
  ts[1].dtype = io::DType::I64;
  ts[1].value = Tensor::empty({});
  ts[1].ints = {7};
  ts[2].name = "b.weight";
  ts[2].value = ramp({4});
  put("safetensors", "f32_i64_meta.safetensors", bytes_str(io::encode_safetensors(ts, {{"format", "pt"}})));
  put("safetensors", "empty.safetensors", bytes_str(io::encode_safetensors({})));
  put("safetensors", "dtypes.safetensors",
      safetensors_raw(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                      R"("g":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},)"
                      R"("u":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},)"
                      R"("t":{"dtype":"BOOL","shape":[2,2],"data_offsets":[12,16]},)"
                      R"("d":{"dtype":"F64","shape":[],"data_offsets":[16,24]},)"
                      R"("__metadata__":{"k":"v"}})",
                      std::string("\x00\x3c\x00\xc0\x80\x3f\x00\x40\x01\x02\x03\xff\x00\x01\x01\x00", 16) +
                          std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8)));

  // --- checkpoints of the fuzzed model, with and without cxr metadata
  {
    auto model = make_model(tiny_vgg());
    io::CheckpointMeta meta;
    meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
    meta.mean = {0.5f};
    meta.std = {0.25f};
    meta.epoch = 3;
    meta.metrics = {{"val_accuracy", 0.5}};
    const std::string tmp = (fs::path(out_dir) / "seed.tmp.safetensors").string();
    io::save_checkpoint(tmp, *model, meta);
    put("checkpoint", "tiny_vgg11_bn.safetensors", cxr::read_file(tmp));
    std::vector<io::NamedTensor> plain;
    for (auto& [name, v] : model->named_parameters()) plain.push_back({name, v->data().clone(), io::DType::F32, {}});
    for (auto& [name, t] : model->named_buffers()) plain.push_back({name, t->clone(), io::DType::F32, {}});
    put("checkpoint", "no_meta.safetensors", bytes_str(io::encode_safetensors(plain)));
    fs::remove(tmp);
  }

  // --- manifests
  put("manifest", "basic.csv", "file,label,split,source,patient_id\na.png,NORMAL,train,x,p1\nb.png,COVID19,val,y,p2\n");
  put("manifest", "quoted.csv",
      "\xEF\xBB\xBF\"file\",\"label\",lung_mask,lesion_mask\r\n\"a,b.png\",\"PNE\"\"U\",m/l.png,m/x.png\r\n"
      "/abs/c.jpg,NORMAL,,\r\n");
  put("manifest", "multiline.csv", "label,file,extra\nNORMAL,\"line\nbreak.png\",1\n\nCOVID19,d.jpeg,2");

  // --- run folder files: the first byte picks the file (fuzz_run_folder.cpp)
  TrainConfig cfg;
  cfg.data = "data/manifest.csv";
  cfg.exclude_sources = {"nih"};
  put("run_folder", "config.json", std::string(1, '\0') + nlohmann::json(cfg).dump(2));
  RunState st;
  st.epochs_done = 3;
  st.best_epoch = 2;
  st.best_val_loss = 0.25;
  put("run_folder", "state.json", std::string(1, '\1') + to_json(st).dump(2));
  put("run_folder", "history.csv",
      std::string(1, '\2') + "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n1,1.05,0.4,0.98,0.5,0.001,12.5\n"
                             "2,0.8,0.6,0.7,0.65,0.0005,11\n");
  put("run_folder", "eval.json",
      std::string(1, '\3') +
          R"({"count":4,"accuracy":0.75,"macro_f1":0.7,"loss":0.5,"confusion":[[2,0],[1,1]],)"
          R"("classes":[{"name":"A","precision":0.6,"recall":1,"f1":0.75,"roc_auc":0.9,"support":2,)"
          R"("roc":{"fpr":[0,0.5,1],"tpr":[0,1,1]}},{"name":"B","support":2}],)"
          R"("per_source":{"x":{"correct":3,"total":4,"confusion":[[2,0],[1,1]]}}})");
  {  // every kind of row to_json writes, a few hundred bytes each (the harness reads up to 8 kB)
    std::vector<XaiImageRow> rows(3);
    rows[0].index = 0;
    rows[0].path = "a.png";
    rows[0].source = "synth-marker";
    rows[0].label = rows[0].target = rows[0].predicted = 0;
    rows[0].probability = 0.75f;
    FaithfulnessRow f;
    f.deletion = {0.75f, 0.25f, 0.0f};
    f.insertion = {0.1f, 0.5f, 0.75f};
    f.deletion_auc = 0.3125;
    f.insertion_auc = 0.46;
    rows[0].faithfulness = f;
    rows[0].lesion.available = rows[0].lung.available = true;
    rows[0].lesion.pointing = {true, true, 3, 4, 1.5};
    rows[0].lesion.energy = 0.4;
    rows[0].lung.energy = NAN;
    rows[0].shortcut = {0.6, 0.7, 0.65, true, true, true};
    rows[1].index = 1;
    rows[1].path = "b.png";
    rows[1].label = 1;
    rows[1].degenerate = true;
    rows[1].degenerate_reason = "constant map";
    rows[2].index = 2;
    rows[2].path = "c.png";
    rows[2].error = "c.png: cannot decode";
    XaiReport r = make_report(rows, {"A", "B"}, {});
    r.model = "vgg11";
    r.layers = {"features.14"};
    r.layer = "features.14 (relu4_2)";
    r.input_size = 32;
    r.shortcut_band = 10;
    SanityResult sr;
    sr.steps = {{"classifier.0", 1, {0.5, NAN}, {0.5, 0.25}, 0.5, 0.375}};
    sr.units = sr.half = 1;
    sr.verdict = "PASS";
    r.sanity = sr;
    put("run_folder", "xai.json", std::string(1, '\4') + to_json(r).dump());
  }

  // --- .npy
  put("npy", "2d.npy", encode_npy(ramp({2, 3})));
  put("npy", "scalar.npy", encode_npy(ramp({})));
  put("npy", "4d.npy", encode_npy(ramp({1, 2, 1, 3})));
  return 0;
}
