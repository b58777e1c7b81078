// write_dot: a recorded graph as Graphviz text (micrograd's draw_dot), to look at what backward will walk and
// what it keeps alive. Render with `dot -Tsvg graph.dot -o graph.svg` (Debian package graphviz).
//
//   Variable loss = cross_entropy(model(x), labels);
//   std::ofstream f("step.dot");
//   DotNames names;                          // optional labels: parameter names, "x", "loss"
//   for (auto& [name, p] : model.named_parameters()) names[p->node()] = name;
//   write_dot(loss, f, names);               // before loss.backward(): afterwards the graph is released
//
// One node per graph node, in backward's topological order (inputs first), ids n0, n1, ...:
//   recorded op   ellipse   "<op>\n<shape>\nkeeps <bytes>" (+ "\n(<bytes> shared)" when some of it is an
//                           input's or the output's own data; Node::saved_bytes / saved_shared_bytes)
//   released op   ellipse, dashed   "<op>\n<shape>\nreleased"   (its backward has run: closure and links gone)
//   parameter     box, filled blue   "<name or leaf>\n<shape>\nrequires_grad"   (a leaf that requires a gradient)
//   other leaf    box, dashed grey   "<name or leaf>\n<shape>\nno grad"   (an input, a frozen weight, a value
//                           computed without recording: all of those have no history)
// and one edge per input -> consumer (an input used twice, as in mul(a, a), gives two edges). A name from
// `names` replaces the op on its first line (for an op: "<name>: <op>").
#pragma once
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"

namespace cxr {

using DotNames = std::unordered_map<const Node*, std::string>;

void write_dot(const Variable& root, std::ostream& os, const DotNames& names = {});
// Several roots in one picture (a graph and a second one that shares nodes with it, e.g. guided backprop's).
void write_dot(const std::vector<Variable>& roots, std::ostream& os, const DotNames& names = {});

// 100 B, 1.5 KiB, 256 KiB, 12.0 MiB: the byte counts of the labels.
std::string format_bytes(size_t bytes);

}  // namespace cxr
