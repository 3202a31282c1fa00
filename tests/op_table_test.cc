// The op table (ir/op_table.h) against what else names the ops: the runtime's registry and
// docs/ops.md. Adding an op to one and not the others fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ir/op_table.h"
#include "runtime/op.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

std::vector<ir::OpKind> all_ops() {
  std::vector<ir::OpKind> ops;
  for (int i = 0; i < static_cast<int>(ir::OpKind::kCount); ++i) ops.push_back(static_cast<ir::OpKind>(i));
  return ops;
}

TEST(OpTable, OneRowPerOpInEnumOrder) {
  for (ir::OpKind op : all_ops()) {
    const ir::OpInfo& info = ir::op_info(op);
    EXPECT_EQ(info.op, op) << ir::op_name(op);
    EXPECT_LE(info.min_inputs, info.max_inputs) << ir::op_name(op);
    EXPECT_LE(info.min_outputs, info.max_outputs) << ir::op_name(op);
    EXPECT_GE(info.min_outputs, 1u) << ir::op_name(op);
    std::set<std::string> names;
    for (const ir::AttrSpec& a : info.attrs)
      EXPECT_TRUE(names.insert(a.name).second) << ir::op_name(op) << " lists attribute " << a.name << " twice";
  }
}

TEST(OpTable, RuntimeRegistryIsSortedUniqueAndMatchesTheTable) {
  const std::vector<std::string> registered = rt::registered_ops();
  EXPECT_TRUE(std::is_sorted(registered.begin(), registered.end()));
  EXPECT_EQ(std::adjacent_find(registered.begin(), registered.end()), registered.end())
      << "an op is registered twice";

  std::vector<std::string> expected;
  for (ir::OpKind op : all_ops())
    if (!ir::op_info(op).has(ir::kFoldedAway)) expected.emplace_back(ir::op_name(op));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(registered, expected);
  for (const std::string& name : expected) EXPECT_NE(rt::find_op(name), nullptr) << name;
}

// The ops named in the first column of the tables of docs/ops.md ("Add, Sub, Mul, Div").
std::set<std::string> documented_ops() {
  std::set<std::string> ops;
  std::istringstream doc(test::read_file(test::source_dir() + "/docs/ops.md"));
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("| ", 0) != 0) continue;
    std::string cell = line.substr(2, line.find(" |", 2) - 2);
    std::istringstream names(cell);
    for (std::string name; std::getline(names, name, ',');) {
      name.erase(0, name.find_first_not_of(' '));
      ops.insert(name.substr(0, name.find(' ')));
    }
  }
  return ops;
}

TEST(OpTable, DocsNameEveryOp) {
  const std::set<std::string> documented = documented_ops();
  for (ir::OpKind op : all_ops()) EXPECT_EQ(documented.count(ir::op_name(op)), 1u) << ir::op_name(op);
}

}  // namespace
}  // namespace pare
