// autograd/dot.h: write_dot's text for small hand-built graphs (every node, edge and label written here from
// the ops' definitions), and Node::saved_bytes against what core/allocator.h's live-bytes counter measures.
#include <gtest/gtest.h>

#include <sstream>

#include "autograd/dot.h"
#include "autograd/ops.h"
#include "core/allocator.h"
#include "layers/linear.h"
#include "layers/loss.h"

using namespace cxr;

namespace {

std::string dot_of(const Variable& v, const DotNames& names = {}) {
  std::ostringstream os;
  write_dot(v, os, names);
  return os.str();
}

const char* kHeader =
    "digraph cxr {\n"
    "  node [fontname=\"Helvetica\", fontsize=10];\n"
    "  edge [color=\"#555555\"];\n";

}  // namespace

TEST(Dot, SumOfAWeightTimesAnInput) {
  // s = sum(a * x), a a weight [2], x an input [2]. Backward's order: a, x, then mul, then sum. mul keeps
  // both operands, 8 bytes each, allocated as 64 (the allocator's minimum), and both are its inputs' own
  // data; sum keeps only a shape.
  Variable a(Tensor::from({1, 2}, {2}), true), x(Tensor::from({3, 4}, {2}));
  Variable s = sum(mul(a, x));
  const std::string want = std::string(kHeader) +
      "  n0 [label=\"a\\n[2]\\nrequires_grad\", shape=box, style=filled, fillcolor=\"#cfe2ff\"];\n"
      "  n1 [label=\"x\\n[2]\\nno grad\", shape=box, style=dashed, color=\"#888888\"];\n"
      "  n2 [label=\"mul\\n[2]\\nkeeps 128 B\\n(128 B shared)\", shape=ellipse];\n"
      "  n3 [label=\"loss: sum\\n[]\\nkeeps 0 B\", shape=ellipse];\n"
      "  n0 -> n2;\n"
      "  n1 -> n2;\n"
      "  n2 -> n3;\n"
      "}\n";
  EXPECT_EQ(dot_of(s, {{a.node(), "a"}, {x.node(), "x"}, {s.node(), "loss"}}), want);
}

TEST(Dot, ASharedInputIsOneNodeWithTwoEdgesAndItsBufferCountsOnce) {
  // y = a * a: one leaf, two edges into mul, and the one buffer mul captured twice is kept once.
  Variable a(Tensor::from({1, 2, 3}, {3}), true);
  Variable y = mul(a, a);
  EXPECT_EQ(y.node()->saved_bytes, 64u);
  const std::string want = std::string(kHeader) +
      "  n0 [label=\"leaf\\n[3]\\nrequires_grad\", shape=box, style=filled, fillcolor=\"#cfe2ff\"];\n"
      "  n1 [label=\"mul\\n[3]\\nkeeps 64 B\\n(64 B shared)\", shape=ellipse];\n"
      "  n0 -> n1;\n"
      "  n0 -> n1;\n"
      "}\n";
  EXPECT_EQ(dot_of(y), want);
}

TEST(Dot, ReleasedAndCutGraphsShowNothingKept) {
  Variable a(Tensor::from({1, 2}, {2}), true);
  Variable m = mul(a, a);
  Variable s = sum(m);
  s.backward();  // releases every closure: nothing is kept, no edge is left
  EXPECT_EQ(m.node()->saved_bytes, 0u);
  EXPECT_EQ(dot_of(s),
            std::string(kHeader) + "  n0 [label=\"sum\\n[]\\nreleased\", shape=ellipse, style=dashed];\n}\n");
  Variable c = scale(a, 2);
  Variable t = sum(mul(c, c));
  c.set_requires_grad(true);  // the cut Grad-CAM makes: c becomes a leaf, a disappears from the picture
  const std::string d = dot_of(t);
  EXPECT_NE(d.find("n0 [label=\"leaf\\n[2]\\nrequires_grad\""), std::string::npos) << d;
  EXPECT_EQ(d.find("scale"), std::string::npos) << d;
}

TEST(Dot, FormatBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(262144), "256 KiB");
  EXPECT_EQ(format_bytes(size_t{3} << 20), "3 MiB");
}

TEST(Dot, SavedBytesAreWhatTheLiveBytesCounterMeasures) {
  // cross_entropy over logits [N, K] = [300, 10]: log_softmax keeps its output lp (12 000 bytes, the graph
  // value itself: shared); the loss node keeps dlp [300, 10], a buffer of its own. What the closure owns
  // must be exactly what the allocator counts on top of the values.
  const int64_t N = 300, K = 10;
  const size_t block = (static_cast<size_t>(N * K) * sizeof(float) + 63) / 64 * 64;  // 12 032
  Variable logits(Tensor::full({N, K}, 0.5f), true);
  std::vector<int> labels(static_cast<size_t>(N), 3);
  Variable lp = log_softmax(logits);
  EXPECT_EQ(lp.node()->saved_bytes, block);
  EXPECT_EQ(lp.node()->saved_shared_bytes, block);

  // The loss through the same two ops, from lp's logits: measured around the call, then read from the node.
  const size_t before = storage_use().live_bytes;
  Variable loss = cross_entropy(logits, labels);
  const size_t grew = storage_use().live_bytes - before;
  const Node& ce = *loss.node();
  const Node& inner = *ce.inputs.at(0).node();  // the call's own log_softmax
  // Live now, above `before`: loss's value (64), its log_softmax's value, and what closures own.
  const size_t values = 64 + block;
  const size_t owned = (ce.saved_bytes - ce.saved_shared_bytes) + (inner.saved_bytes - inner.saved_shared_bytes);
  EXPECT_EQ(grew, values + owned);
  EXPECT_EQ(ce.saved_bytes, block);
  EXPECT_EQ(ce.saved_shared_bytes, 0u);

  // linear keeps x for dW and W for dx: both are its inputs' data, so they add nothing to the live bytes.
  Variable x(Tensor::full({4, 32}, 1.0f), true), W(Tensor::full({8, 32}, 0.1f), true);
  const size_t before_lin = storage_use().live_bytes;
  Variable y = linear(x, W, Variable());
  EXPECT_EQ(storage_use().live_bytes - before_lin, 4u * 8 * sizeof(float)) << "only y's value is new";
  EXPECT_EQ(y.node()->saved_bytes, 4u * 32 * 4 + 8u * 32 * 4);
  EXPECT_EQ(y.node()->saved_shared_bytes, y.node()->saved_bytes);
}
