// bench_all's models: each loaded once for every implementation (a checkpoint, its tokenizer, a file the baselines
// can read) and the story prompt of a given length.
#pragma once

#include <string>

#include "cli/args.h"
#include "model/checkpoint.h"
#include "model/tokenizers/tokenizer.h"

namespace wb::bench_all {

// A model as every implementation sees it: the checkpoint, its tokenizer, a file for the baselines.
struct Model {
    cli::ModelSpec spec;
    Checkpoint checkpoint;
    std::string tokenizer_path;
    std::string file;  // the checkpoint on disk (a temporary for synthetic models)
    bool temporary_file = false;
};

// The checkpoint of `spec`; a synthetic one is also written to a temporary llama2.c file when `need_file`, and
// takes a context of `context` positions when that is longer than its shape's.
Model load(const cli::ModelSpec& spec, bool need_file, int context = 0);

// The longest run of story words whose encoding (BOS included) has at most `tokens` tokens.
std::string prompt_text(const Tokenizer& tok, int tokens);

}  // namespace wb::bench_all
