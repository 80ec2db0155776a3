// bench_all's table of one model on stdout: every variant, baseline and peer run, with their ratios.
#pragma once

#include <string>
#include <vector>

#include "harness/peers.h"
#include "harness/record.h"

namespace wb::bench_all {

struct Row {
    std::string label;
    int threads;
    Record record;
};

// One Markdown table: a line per row, with its decode against C (runfast at 1 thread, runomp above), pure Python,
// naive and each peer in the same weight type at the same thread count.
void print_table(const std::string& model, const std::vector<Row>& rows, const std::vector<Peer>& peers);

}  // namespace wb::bench_all
