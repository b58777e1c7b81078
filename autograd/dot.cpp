#include "autograd/dot.h"

#include <cstdio>
#include <cstring>
#include <unordered_set>

namespace cxr {

std::string format_bytes(size_t bytes) {
  char buf[32];
  if (bytes < 1024) std::snprintf(buf, sizeof buf, "%zu B", bytes);
  else if (bytes < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  std::string s = buf;
  const size_t dot0 = s.find(".0 ");  // 256.0 KiB -> 256 KiB
  if (dot0 != std::string::npos) s.erase(dot0, 2);
  return s;
}

namespace {

std::string quoted(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') o += "\\n";
    else o += c;
  }
  return o + "\"";
}

// An op whose closure backward() has already run and dropped (its op name stays, its inputs are gone).
bool released(const Node& n) { return !n.backward && std::strcmp(n.op, "leaf") != 0; }

std::string label(const Node& n, const DotNames& names) {
  const auto it = names.find(&n);
  const bool op = n.backward || released(n);
  std::string first = op ? n.op : "leaf";
  if (it != names.end()) first = op ? it->second + ": " + n.op : it->second;
  std::string l = first + "\n" + to_string(n.data.shape()) + "\n";
  if (!op) return l + (n.requires_grad ? "requires_grad" : "no grad");
  if (!n.backward) return l + "released";
  l += "keeps " + format_bytes(n.saved_bytes);
  if (n.saved_shared_bytes > 0) l += "\n(" + format_bytes(n.saved_shared_bytes) + " shared)";
  return l;
}

}  // namespace

void write_dot(const std::vector<Variable>& roots, std::ostream& os, const DotNames& names) {
  // Inputs before consumers, as backward's depth-first search orders them (autograd/variable.cpp), but over
  // every input: a value that requires no gradient is drawn too (it is held, and it is what x or a frozen
  // weight looks like).
  std::vector<const Node*> order;
  std::unordered_map<const Node*, size_t> id;
  for (const Variable& root : roots) {
    if (!root.defined() || id.count(root.node())) continue;
    std::vector<std::pair<const Node*, size_t>> stack{{root.node(), 0}};
    id[root.node()] = 0;  // visited; numbered when finished
    while (!stack.empty()) {
      const Node* n = stack.back().first;
      const size_t i = stack.back().second;
      if (i < n->inputs.size()) {
        ++stack.back().second;
        const Node* child = n->inputs[i].node();
        if (child && id.emplace(child, 0).second) stack.push_back({child, 0});
      } else {
        id[n] = order.size();
        order.push_back(n);
        stack.pop_back();
      }
    }
  }
  os << "digraph cxr {\n"
        "  node [fontname=\"Helvetica\", fontsize=10];\n"
        "  edge [color=\"#555555\"];\n";
  for (size_t k = 0; k < order.size(); ++k) {
    const Node& n = *order[k];
    os << "  n" << k << " [label=" << quoted(label(n, names));
    if (n.backward) os << ", shape=ellipse";
    else if (released(n)) os << ", shape=ellipse, style=dashed";
    else if (n.requires_grad) os << ", shape=box, style=filled, fillcolor=\"#cfe2ff\"";
    else os << ", shape=box, style=dashed, color=\"#888888\"";
    os << "];\n";
  }
  for (size_t k = 0; k < order.size(); ++k)
    for (const Variable& in : order[k]->inputs)
      if (in.defined()) os << "  n" << id.at(in.node()) << " -> n" << k << ";\n";
  os << "}\n";
}

void write_dot(const Variable& root, std::ostream& os, const DotNames& names) {
  write_dot(std::vector<Variable>{root}, os, names);
}

}  // namespace cxr
