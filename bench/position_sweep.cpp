#include "bench/position_sweep.h"

#include <cstdio>
#include <optional>
#include <vector>

#include "bench/bench_all_options.h"
#include "harness/json.h"
#include "harness/profiler.h"
#include "harness/timing.h"
#include "model/synthetic.h"
#include "model/transformer.h"
#include "variants/variants.h"

namespace wb::bench_all {

double position_sweep_work() { return static_cast<double>(find_shape("stories15M")->matmul_params()) * 6 * 7; }

void position_sweep(const SweepRun& s) {
    Config c = *find_shape("stories15M");
    c.seq_len = kSweepContext;
    const Checkpoint ck = synthetic_checkpoint(c, 1, "stories15M-8k");
    const std::string variant = default_variant();
    ExecContext ctx(s.threads);
    Profiler prof;
    Transformer model(ck, resolve_variant(variant), ctx);
    std::vector<int> positions;
    for (int p = 128; p < kSweepContext; p *= 2) positions.push_back(p);
    positions.push_back(kSweepContext - 1);
    JsonWriter j;
    j.begin_object().field("schema", 1).field("kind", "position_profile").field("timestamp", utc_now())
        .field("command", s.command).field("git_sha", s.build.git_sha).field("cpu", s.build.cpu)
        .field("model", "stories15M").field("context", kSweepContext).field("variant", variant)
        .field("threads", s.threads).begin_array("positions");
    for (const int p : positions) j.value(p);
    j.end_array().key("ms").begin_object();
    std::vector<std::vector<double>> ms(static_cast<int>(Op::count));
    constexpr int kSteps = 5;
    s.announce(variant, "stories15M position sweep");
    std::optional<int> crossover;
    for (const int p : positions) {
        s.check_stop();
        const int token = 42;
        model.forward(&token, 1, p - 1);  // warm-up
        ctx.observer = &prof;
        prof.reset();
        for (int i = 0; i < kSteps; i++) model.forward(&token, 1, p);
        ctx.observer = nullptr;
        double matmuls = 0;
        for (int op = 0; op < static_cast<int>(Op::count); op++) {
            ms[op].push_back(prof.seconds(static_cast<Op>(op)) * 1e3 / kSteps);
            const Op o = static_cast<Op>(op);
            if (o == Op::qkv || o == Op::o || o == Op::ffn_up_gate || o == Op::ffn_down || o == Op::classifier) {
                matmuls += ms[op].back();
            }
        }
        if (!crossover && ms[static_cast<int>(Op::attention)].back() > matmuls) crossover = p;
        std::fprintf(stderr, " %d", p);
    }
    for (int op = 0; op < static_cast<int>(Op::count); op++) {
        j.begin_array(op_name(static_cast<Op>(op)));
        for (const double v : ms[op]) j.value(v);
        j.end_array();
    }
    j.end_object().key("attention_overtakes_matmuls_at");
    if (crossover) j.value(*crossover);
    else j.null();
    j.end_object();
    append_line(s.records_path, j.str());
    if (crossover) std::fprintf(stderr, ": attention overtakes the matmuls at position %d\n", *crossover);
    else std::fprintf(stderr, ": attention stays below the matmuls up to position %d\n", kSweepContext - 1);
}

}  // namespace wb::bench_all
