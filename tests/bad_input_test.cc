// The bad-input matrix of docs/reliability.md: every kind of broken or hostile file and value
// the commands meet, each with the exit code and message it gives. Each row makes its input,
// runs the command, and checks exit 2, the message, that the message names the input, and that
// nothing was written. `PARE_PRINT_MATRIX=1` prints the rows as the document's table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "calibration/npy.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::OnnxBuilder;
using test::run_pare;

std::string testdata(const std::string& f) { return test::testdata_dir() + "/" + f; }
// A past fuzz finding kept as a regression input (tests/fuzz/regressions/TARGET/NAME).
std::string fuzz_regression(const std::string& target, const std::string& name) {
  return test::read_file(std::string(PARE_SOURCE_DIR) + "/tests/fuzz/regressions/" + target + "/" + name);
}

std::string garbage(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A one-node model around `op` on x [1,2,4,4] with the given constant inputs and attributes.
std::string one_op(const test::TempDir& dir, const std::string& name, const std::string& op,
                   const std::vector<onnx::TensorProto>& constants, const std::vector<onnx::AttributeProto>& attrs,
                   int64_t opset = 17) {
  OnnxBuilder b(opset);
  b.input("x", {1, 2, 4, 4});
  std::vector<std::string> inputs = {"x"};
  for (const onnx::TensorProto& t : constants) {
    b.initializer(t);
    inputs.push_back(t.name());
  }
  b.node(op, inputs, {"y"}, attrs, "hostile_node");
  b.output("y");
  const std::string path = dir.file(name + ".onnx");
  b.save(path);
  return path;
}

struct Row {
  std::string id;       // the row's name in docs/reliability.md
  std::string input;    // what the input is
  std::string command;  // "convert", "run", ...
  // Makes the input in `dir`, returns the command's arguments; `named` is set to what the
  // message must name (the file, usually).
  std::function<std::vector<std::string>(const test::TempDir& dir, const std::string& out, std::string* named)> make;
  std::string message;  // a substring the message must contain
};

std::vector<Row> rows() {
  const std::string cnn = testdata("models/fmnist_cnn.onnx");
  const std::string cnn_pare = testdata("pare/fmnist_cnn.pare");
  const std::string images = testdata("data/fmnist_test_2000.npy");
  auto convert = [](const std::string& model, const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"convert", model, "-o", out + "/m.pare"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto file_with = [](const test::TempDir& dir, const std::string& name, const std::string& bytes) {
    test::write_file(dir.file(name), bytes);
    return dir.file(name);
  };
  auto i64 = [](const std::string& n, std::vector<int64_t> dims, std::vector<int64_t> v) {
    return test::tensor<int64_t>(n, dims, v);
  };
  auto f32 = [](const std::string& n, std::vector<int64_t> dims, std::vector<float> v) {
    return test::tensor<float>(n, dims, v);
  };
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<Row> r;

  // --- ONNX files, pare convert.
  r.push_back({"onnx-missing", "an ONNX path that does not exist", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = d.file("none.onnx");
                 return convert(*n, o);
               }, "No such file"});
  r.push_back({"onnx-empty", "an empty .onnx", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "empty.onnx", "");
                 return convert(*n, o);
               }, "is empty, not an ONNX model"});
  r.push_back({"onnx-garbage", "4 KiB of random bytes named .onnx", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "garbage.onnx", garbage(4096, 1));
                 return convert(*n, o);
               }, "is not an ONNX model"});
  r.push_back({"onnx-truncated", "the CNN cut in half", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 const std::string all = test::read_file(cnn);
                 *n = file_with(d, "half.onnx", all.substr(0, all.size() / 2));
                 return convert(*n, o);
               }, "truncated"});
  r.push_back({"onnx-bitflip", "the CNN with one byte of a node's input name changed", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 std::string all = test::read_file(cnn);
                 // "/Sub_output_0" as a node input becomes "/Sub_output_1", which nothing produces.
                 const size_t at = all.find("/Sub_output_0", all.find("/Sub_output_0") + 1);
                 all[at + 12] = '1';
                 *n = file_with(d, "flipped.onnx", all);
                 return convert(*n, o);
               }, "is not defined"});
  r.push_back({"onnx-huge-dim", "an input dim of 2^40 (a 4 TiB tensor)", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1, int64_t{1} << 40});
                 b.node("Relu", {"x"}, {"y"});
                 b.output("y");
                 *n = d.file("huge.onnx");
                 b.save(*n);
                 return convert(*n, o);
               }, "needs 4398046511104 bytes"});
  r.push_back({"onnx-empty-initializer-huge-dims", "an empty initializer of shape [0,2^40,2^40] (its strides overflow)",
               "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1});
                 b.initializer(f32("wide", {0, int64_t{1} << 40, int64_t{1} << 40}, {}));
                 b.node("Transpose", {"wide"}, {"y"});
                 b.output("y");
                 *n = d.file("wide.onnx");
                 b.save(*n);
                 return convert(*n, o);
               }, "initializer 'wide' has an impossible size"});
  r.push_back({"onnx-negative-dim", "an input dim of -5", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1, -5});
                 b.node("Relu", {"x"}, {"y"});
                 b.output("y");
                 *n = d.file("negative.onnx");
                 b.save(*n);
                 return convert(*n, o);
               }, "unknown dim"});
  r.push_back({"onnx-conv-zero-stride", "Conv strides [0,0]", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "stride0", "Conv", {f32("w", {2, 2, 3, 3}, std::vector<float>(36, 0.1f))},
                             {test::attr_ints("strides", {0, 0})});
                 return convert(*n, o);
               }, "stride"});
  r.push_back({"onnx-conv-kernel-too-big", "Conv kernel 9x9 over a 4x4 input, no padding", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "bigkernel", "Conv", {f32("w", {2, 2, 9, 9}, std::vector<float>(324, 0.1f))}, {});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-resize-inf-scale", "Resize scales [1,1,inf,inf]", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1, 2, 4, 4});
                 b.initializer(f32("scales", {4}, {1, 1, inf, inf}));
                 b.node("Resize", {"x", "", "scales"}, {"y"}, {}, "hostile_node");
                 b.output("y");
                 *n = d.file("resize.onnx");
                 b.save(*n);
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-extra-input", "a Gelu given a second input", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "gelu2", "Gelu", {f32("w", {1}, {1.f})}, {});
                 return convert(*n, o);
               }, "Gelu 'hostile_node': takes 1 inputs, the node has 2"});
  r.push_back({"onnx-int8-scale-unencodable", "a Conv weight of 1e13 before a Clip to [0, 6]", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1, 1, 28, 28});
                 std::vector<float> w(4 * 9, 0.25f);
                 w[0] = 1e13f;
                 b.initializer(f32("w", {4, 1, 3, 3}, w));
                 b.initializer(f32("lo", {}, {0.f}));
                 b.initializer(f32("hi", {}, {6.f}));
                 b.node("Conv", {"x", "w"}, {"a"}, {test::attr_ints("pads", {1, 1, 1, 1})}, "hostile_node");
                 b.node("Clip", {"a", "lo", "hi"}, {"y"});
                 b.output("y");
                 *n = d.file("huge_weight.onnx");
                 b.save(*n);
                 return std::vector<std::string>{"compress", *n, "-o", o + "/m.pare", "--calib",
                                                 testdata("data/fmnist_calib_500.npy")};
               }, "layer 'hostile_node' (Conv) cannot run in int8"});
  r.push_back({"onnx-reshape-two-minus-one", "Reshape to [-1,-1]", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "reshape", "Reshape", {i64("shape", {2}, {-1, -1})}, {});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-pad-huge", "Pad pads of 2^62", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 const int64_t big = int64_t{1} << 62;
                 *n = one_op(d, "pad", "Pad", {i64("pads", {8}, {0, 0, big, big, 0, 0, big, big})}, {});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-slice-zero-step", "Slice with step 0", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "slice", "Slice",
                             {i64("starts", {1}, {0}), i64("ends", {1}, {4}), i64("axes", {1}, {2}),
                              i64("steps", {1}, {0})},
                             {});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-expand-huge", "Expand to [2^31,2^31,4,4]", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 const int64_t big = int64_t{1} << 31;
                 *n = one_op(d, "expand", "Expand", {i64("shape", {4}, {big, big, 4, 4})}, {});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-gather-out-of-range", "Gather with a constant index 100 on an axis of 2", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "gather", "Gather", {i64("idx", {1}, {100})}, {test::attr_i("axis", 1)});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-concat-axis", "Concat axis 7 on 4-D tensors", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "concat", "Concat", {f32("c", {1, 2, 4, 4}, std::vector<float>(32, 1.f))},
                             {test::attr_i("axis", 7)});
                 return convert(*n, o);
               }, "hostile_node"});
  r.push_back({"onnx-unknown-op", "an op no runtime has (FooBar)", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "foobar", "FooBar", {}, {});
                 return convert(*n, o);
               }, "FooBar"});
  r.push_back({"onnx-opset-too-new", "default-domain opset 99", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = one_op(d, "opset99", "Relu", {}, {}, 99);
                 return convert(*n, o);
               }, "99"});
  r.push_back({"onnx-cycle", "two nodes reading each other's outputs", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1, 4});
                 b.node("Add", {"x", "b"}, {"a"});
                 b.node("Relu", {"a"}, {"b"});
                 b.output("b");
                 *n = d.file("cycle.onnx");
                 b.save(*n);
                 return convert(*n, o);
               }, "cycle"});
  r.push_back({"onnx-initializer-short", "an initializer of dims [4,4] holding 3 floats", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {4, 4});
                 onnx::TensorProto w = f32("w", {3}, {1, 2, 3});
                 w.set_dims(0, 4);
                 w.add_dims(4);
                 b.initializer(w);
                 b.node("Add", {"x", "w"}, {"y"});
                 b.output("y");
                 *n = d.file("short.onnx");
                 b.save(*n);
                 return convert(*n, o);
               }, "'w'"});
  r.push_back({"onnx-external-data-missing", "weights in an external file that is missing", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {4});
                 b.initializer(f32("w", {4}, {1, 2, 3, 4}));
                 b.node("Add", {"x", "w"}, {"y"});
                 b.output("y");
                 *n = d.file("ext.onnx");
                 b.save_with_external_data(*n, "weights.bin");
                 std::remove(d.file("weights.bin").c_str());
                 return convert(*n, o);
               }, "weights.bin"});

  // --- TorchScript files.
  r.push_back({"pt-empty", "an empty .pt", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "empty.pt", "");
                 return convert(*n, o, {"--input-shape", "x:1x1x28x28"});
               }, "empty"});
  r.push_back({"pt-garbage", "random bytes named .pt", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "garbage.pt", garbage(4096, 2));
                 return convert(*n, o, {"--input-shape", "x:1x1x28x28"});
               }, "zip"});
  r.push_back({"pt-not-torchscript", "a zip that is not TorchScript (an .npz renamed .pt)", "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "arrays.pt", test::read_file(testdata("data/bert_tiny_calib_128.npz")));
                 return convert(*n, o, {"--input-shape", "x:1x1x28x28"});
               }, "arrays.pt"});

  r.push_back({"pt-libtorch-crash", "a damaged TorchScript file that crashes LibTorch's loader (a fuzz find)",
               "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "damaged.pt", fuzz_regression("torchscript", "libtorch_unpickler_segv.pt"));
                 return convert(*n, o, {"--input-shape", "x:1x1x4x4"});
               }, "LibTorch crashed (Segmentation fault)"});

  r.push_back({"pt-hostile-groups",
               "a scripted convolution with 2^40 groups on zeros sized from the input (LibTorch's kernel divides by zero)",
               "convert",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "groups.pt", fuzz_regression("torchscript", "import_folds_conv_with_huge_groups.pt"));
                 return convert(*n, o, {"--input-shape", "x:1x1x2x2"});
               }, "with group 1099511627776"});

  // --- .pare files, pare run / verify.
  auto run = [=](const std::string& model, const std::string& out) {
    return std::vector<std::string>{"run", model, "--input", images, "-o", out + "/y.npy"};
  };
  r.push_back({"pare-missing", "a .pare path that does not exist", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = d.file("none.pare");
                 return run(*n, o);
               }, "No such file"});
  r.push_back({"pare-empty", "an empty .pare", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "empty.pare", "");
                 return run(*n, o);
               }, "not a .pare file (0 bytes, truncated or empty)"});
  r.push_back({"pare-garbage", "random bytes named .pare", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "garbage.pare", garbage(4096, 3));
                 return run(*n, o);
               }, "not a .pare file"});
  r.push_back({"pare-truncated", "the CNN's .pare cut in half", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 const std::string all = test::read_file(cnn_pare);
                 *n = file_with(d, "half.pare", all.substr(0, all.size() / 2));
                 return run(*n, o);
               }, "truncated"});
  r.push_back({"pare-table-bitflip", "a byte of the model table changed (an op name)", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 std::string all = test::read_file(cnn_pare);
                 for (size_t at; (at = all.find("Gemm")) != std::string::npos;) all[at] = 'H';
                 *n = file_with(d, "op.pare", all);
                 return run(*n, o);
               }, "op 'Hemm'"});
  r.push_back({"pare-weight-bitflip", "a weight byte changed (loads and runs; verify refuses it)", "verify",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 std::string all = test::read_file(cnn_pare);
                 all[all.size() - 1000] ^= 0x08;
                 *n = file_with(d, "weight.pare", all);
                 return std::vector<std::string>{"verify", *n};
               }, "content hash mismatch"});
  r.push_back({"pare-split-output-rank", "a .pare whose Split plans an output of another rank (a fuzz find)",
               "export-onnx",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "split.pare", fuzz_regression("pare_model", "split_output_of_another_rank.pare"));
                 return std::vector<std::string>{"export-onnx", *n, "-o", o + "/m.onnx"};
               }, "Split 'Split_0': output 2 'output_3' is planned as float32 []"});
  r.push_back({"pare-teacher-split-output-rank", "the same file as the teacher of a check", "check",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = file_with(d, "split.pare", fuzz_regression("pare_model", "split_output_of_another_rank.pare"));
                 return std::vector<std::string>{"check", cnn_pare, "--teacher", *n, "--data", images};
               }, "Split 'Split_0'"});
  r.push_back({"pare-wrong-sha256", "the right file, another expected SHA-256", "verify",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = cnn_pare;
                 return std::vector<std::string>{"verify", *n, "--sha256", std::string(64, 'a')};
               }, "is not the expected aaaa"});
  r.push_back({"pare-huge-activations", "a valid file whose activations need 64 GiB", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 OnnxBuilder b(17);
                 b.input("x", {1, int64_t{1} << 33});
                 b.node("Relu", {"x"}, {"y"});
                 b.node("Neg", {"y"}, {"z"});
                 b.output("z");
                 b.save(d.file("big.onnx"));
                 *n = d.file("big.pare");
                 if (run_pare({"convert", d.file("big.onnx"), "-o", *n}).exit_code != 0) return std::vector<std::string>{};
                 return run(*n, o);
               }, "the memory limit (--max-memory) is"});

  // --- Data: calibration, inputs, labels.
  auto array_file = [=](const test::TempDir& d, const std::string& name, npy::ElemType type,
                        std::vector<int64_t> shape) {
    npy::Array a;
    a.type = type;
    a.shape = shape;
    int64_t count = 1;
    for (int64_t s : shape) count *= s;
    a.data.assign(static_cast<size_t>(count) * a.elem_size(), 0);
    npy::write_npy(d.file(name), a);
    return d.file(name);
  };
  // An array of `values` (float, int64_t or int32_t) in that dtype.
  auto values_file = [](const test::TempDir& d, const std::string& name, std::vector<int64_t> shape,
                        const auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>);
    npy::Array a;
    a.type = std::is_same_v<T, float> ? npy::ElemType::kFloat32
             : std::is_same_v<T, int64_t> ? npy::ElemType::kInt64 : npy::ElemType::kInt32;
    a.shape = std::move(shape);
    a.data.assign(reinterpret_cast<const uint8_t*>(values.data()),
                  reinterpret_cast<const uint8_t*>(values.data() + values.size()));
    npy::write_npy(d.file(name), a);
    return d.file(name);
  };
  auto compress = [=](const std::string& calib, const std::string& out) {
    return std::vector<std::string>{"compress", cnn, "-o", out + "/m.pare", "--calib", calib};
  };
  r.push_back({"calib-missing", "a calibration file that does not exist", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = d.file("none.npy");
                 return compress(*n, o);
               }, "none.npy"});
  r.push_back({"calib-wrong-shape", "calibration images [5,3,28,28] for a [1,1,28,28] input", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = array_file(d, "rgb.npy", npy::ElemType::kFloat32, {5, 3, 28, 28});
                 return compress(*n, o);
               }, "[5,3,28,28]"});
  r.push_back({"calib-wrong-dtype", "calibration data of int64 labels", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = testdata("data/fmnist_test_2000_labels.npy");
                 return compress(*n, o);
               }, "int64"});
  r.push_back({"calib-empty-folder", "an image folder with no images", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = d.path();
                 return compress(*n, o);
               }, "no .png, .jpg or .jpeg image"});
  r.push_back({"calib-corrupt-image", "an image folder holding a damaged PNG", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 test::write_file(d.file("bad.png"), std::string("\x89PNG\r\n\x1a\n", 8) + garbage(200, 4));
                 *n = d.file("bad.png");
                 return compress(d.path(), o);
               }, "bad.png"});
  r.push_back({"calib-truncated-npy", "a calibration .npy cut short", "compress",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 const std::string all = test::read_file(testdata("data/fmnist_calib_500.npy"));
                 *n = file_with(d, "short.npy", all.substr(0, 4000));
                 return compress(*n, o);
               }, "short.npy"});
  r.push_back({"input-wrong-shape", "run input [3,5]", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = array_file(d, "x.npy", npy::ElemType::kFloat32, {3, 5});
                 return std::vector<std::string>{"run", cnn_pare, "--input", *n, "-o", o + "/y.npy"};
               }, "[3,5]"});
  r.push_back({"input-npz-unknown-member", "run inputs .npz with a member the model lacks", "run",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 npy::Array a;
                 a.shape = {1, 1, 28, 28};
                 a.data.assign(784 * 4, 0);
                 npy::Array b = a;
                 *n = d.file("x.npz");
                 npy::write_npz(*n, {{"image", a}, {"other", b}});
                 return std::vector<std::string>{"run", cnn_pare, "--input", *n, "-o", o + "/y.npy"};
               }, "other"});
  r.push_back({"check-data-wrong-shape", "check data [4,10] for a [1,1,28,28] input", "check",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = array_file(d, "d.npy", npy::ElemType::kFloat32, {4, 10});
                 return std::vector<std::string>{"check", cnn_pare, "--teacher", cnn, "--data", *n};
               }, "[4,10]"});
  r.push_back({"eval-data-nan", "eval data whose third row holds a NaN", "eval",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 std::vector<float> v(4 * 784, 0.5f);
                 v[2 * 784 + 100] = std::nanf("");
                 *n = values_file(d, "x.npy", {4, 1, 28, 28}, v);
                 const std::string labels = array_file(d, "labels.npy", npy::ElemType::kInt64, {4});
                 return std::vector<std::string>{"eval", cnn_pare, "--data", *n, "--labels", labels};
               }, "row 2 holds a NaN or infinite value"});
  r.push_back({"labels-out-of-range", "eval labels of 99 for a 10-class model", "eval",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = values_file(d, "labels.npy", {4}, std::vector<int64_t>{3, 99, 1, 0});
                 const std::string x = array_file(d, "x.npy", npy::ElemType::kFloat32, {4, 1, 28, 28});
                 return std::vector<std::string>{"eval", cnn_pare, "--data", x, "--labels", *n};
               }, "row 1 has label 99, not one of the model's 10 classes (0 to 9)"});
  r.push_back({"check-labels-negative", "check labels of -1 under a top-1 budget", "check",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = values_file(d, "labels.npy", {2}, std::vector<int32_t>{-1, 4});
                 const std::string x = array_file(d, "x.npy", npy::ElemType::kFloat32, {2, 1, 28, 28});
                 return std::vector<std::string>{"check", cnn_pare, "--teacher", cnn, "--data", x, "--labels", *n,
                                                 "--max-top1-drop", "1"};
               }, "row 0 has label -1, not one of the model's 10 classes (0 to 9)"});
  r.push_back({"check-data-overflows", "check data near the float limit, on which the teacher overflows", "check",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = values_file(d, "x.npy", {2, 1, 28, 28}, std::vector<float>(2 * 784, 3e38f));
                 return std::vector<std::string>{"check", cnn_pare, "--teacher", cnn, "--data", *n};
               }, "row 0: the teacher's output holds a NaN or infinite value"});
  r.push_back({"eval-data-overflows", "eval data near the float limit, on which the model overflows", "eval",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = values_file(d, "x.npy", {2, 1, 28, 28}, std::vector<float>(2 * 784, 3e38f));
                 const std::string labels = values_file(d, "labels.npy", {2}, std::vector<int64_t>{1, 2});
                 return std::vector<std::string>{"eval", cnn_pare, "--data", *n, "--labels", labels};
               }, "row 0: the output"});
  r.push_back({"labels-wrong-length", "eval labels for 3 rows, data of 100", "eval",
               [=](const test::TempDir& d, const std::string& o, std::string* n) {
                 *n = array_file(d, "labels.npy", npy::ElemType::kInt64, {3});
                 const std::string x = array_file(d, "x.npy", npy::ElemType::kFloat32, {100, 1, 28, 28});
                 return std::vector<std::string>{"eval", cnn_pare, "--data", x, "--labels", *n};
               }, "labels.npy"});
  return r;
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const std::string prefix = "pare: error: ";
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

TEST(BadInput, EveryRowExits2WithItsMessageAndWritesNothing) {
  const bool print = std::getenv("PARE_PRINT_MATRIX") != nullptr;
  const std::string doc = test::read_file(std::string(PARE_SOURCE_DIR) + "/docs/reliability.md");
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.id);
    test::TempDir dir, out;
    std::string named;
    const std::vector<std::string> args = row.make(dir, out.path(), &named);
    ASSERT_FALSE(args.empty()) << "making the input failed";
    const CommandResult r = run_pare(args);
    std::string shown = one_line(r.err);
    // Temporary paths are shown as their file names.
    for (const std::string& p : {dir.path() + "/", out.path() + "/", test::testdata_dir() + "/"}) {
      for (size_t at; (at = shown.find(p)) != std::string::npos;) shown.erase(at, p.size());
    }
    if (print) std::printf("| `%s` | %s | `%s` | %d | %s |\n", row.id.c_str(), row.input.c_str(), row.command.c_str(),
                           r.exit_code, shown.c_str());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("pare: error: "), std::string::npos) << r.err;
#ifndef PARE_WITH_TORCH
    // Without LibTorch every .pt is refused for that reason.
    const std::string message = row.id.rfind("pt-", 0) == 0 ? "TorchScript" : row.message;
#else
    const std::string message = row.message;
#endif
    EXPECT_NE(r.err.find(message), std::string::npos) << "expected \"" << message << "\" in:\n" << r.err;
    if (!named.empty()) {
      const std::string base = named.substr(named.find_last_of('/') + 1);
      EXPECT_NE(r.err.find(base), std::string::npos) << "the message should name " << base << ":\n" << r.err;
    }
    EXPECT_TRUE(test::list_dir(out.path()).empty()) << "nothing may be written";
    EXPECT_NE(doc.find("| `" + row.id + "` |"), std::string::npos) << "docs/reliability.md has no row " << row.id;
  }
}

}  // namespace
}  // namespace pare
