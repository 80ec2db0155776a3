// The layer-by-layer tracer: runs a reference variant and a candidate on the same tokens, observes every
// operation of both (model/observer.h) and measures, per layer and stage, how far the candidate strays.
// By default each candidate op is then given the reference's output, so every op is fed the reference's
// inputs and an error is measured where it is made instead of compounding downstream.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/observer.h"
#include "variants/variants.h"

namespace wb {

struct TraceOptions {
    int steps = 16;              // positions to run, prompt included (the prompt is always run whole)
    int threads = 1;
    bool force = true;           // feed the candidate the reference's outputs (errors measured where they are made)
    std::string dump_dir;        // when set: every tensor of both runs as .npy, DIR/<variant>/, with index.json
};

// One (layer, stage) over every forward call of the run.
struct StageError {
    Stage stage;
    int layer;                   // -1: after the last layer (final norm, logits)
    double max_abs = 0;          // max |candidate - reference|
    double max_rel = 0;          // max_abs over max |reference| of the same tensor, worst over the calls
    double min_cosine = 1;       // worst cosine similarity of a call's tensors
    // Matmul stages: max over outputs of |candidate - reference| / sum_j |w_ij x_j| (the reference's input x and
    // the checkpoint's weights), what a matmul kernel's tolerance bounds; -1 where it was not measured.
    double max_vs_bound = -1;
    double tolerance = 0;        // of the kernel that produced the stage; 0 for the forward pass's own code
    const char* kernel = "";     // that kernel's name, or "forward pass"
    // The error the tolerance judges: the bound's for matmuls, max_rel for everything else.
    double judged() const { return max_vs_bound >= 0 ? max_vs_bound : max_rel; }
    bool over() const { return judged() > tolerance; }
};

struct FirstExcess {
    Stage stage;
    int layer, pos0, pos1;       // the call's positions
    double rel, tolerance;
    const char* kernel;
};

struct TraceResult {
    std::vector<int> tokens;     // prompt then the reference's greedy tokens
    std::vector<StageError> stages;  // in the forward pass's order
    std::optional<FirstExcess> first;  // the first op, in running order, beyond its tolerance
};

// Throws std::invalid_argument for an unavailable variant, std::out_of_range for a prompt past the context.
TraceResult trace(const Checkpoint& ck, const std::vector<int>& prompt, const Kernels& candidate, const Kernels& reference,
                  const TraceOptions& o);

// Writes values[rows x cols] as a float32 .npy file.
void write_npy(const std::string& path, const float* values, int rows, int cols);

// "L03.attn_out.pos0-53" ("out." instead of "L..." after the last layer).
std::string tensor_name(Stage s, int layer, int pos0, int pos1);

}  // namespace wb
