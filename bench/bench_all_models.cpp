#include "bench/bench_all_models.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <vector>

#include "model/synthetic.h"

namespace wb::bench_all {

namespace {

std::string tokenizer_for(int vocab_size) {
    const std::string dir = cli::models_dir();
    const std::string sized = dir + "/tok" + std::to_string(vocab_size) + ".bin";
    return std::filesystem::exists(sized) ? sized : dir + "/tokenizer.bin";
}

}  // namespace

Model load(const cli::ModelSpec& spec, bool need_file, int context) {
    if (spec.path) {
        Checkpoint ck = Checkpoint::open(*spec.path);
        const std::string tok = tokenizer_for(ck.config().vocab_size);
        return {spec, std::move(ck), tok, *spec.path, false};
    }
    Config c = *find_shape(*spec.shape);
    c.seq_len = std::max(c.seq_len, context);
    std::string file;
    if (need_file) {
        file = (std::filesystem::temp_directory_path() / ("wb-" + *spec.shape + "-" + std::to_string(getpid()) + ".bin")).string();
        write_synthetic(c, 1, file);
    }
    return {spec, synthetic_checkpoint(c, 1, *spec.shape), tokenizer_for(c.vocab_size), file, need_file};
}

std::string prompt_text(const Tokenizer& tok, int tokens) {
    static const char* const kWords =
        "Once upon a time there was a little girl named Lily who lived in a small house near the big green "
        "forest with her mother her father and a happy brown dog called Max and every morning she ran outside "
        "to look at the flowers the birds and the tall old trees that whispered stories in the wind";
    std::vector<std::string> words;
    std::stringstream ss(kWords);
    for (std::string w; ss >> w;) words.push_back(w);
    std::string best, text;
    for (int i = 0;; i++) {
        const std::string candidate = text.empty() ? words[i % words.size()] : text + " " + words[i % words.size()];
        if (static_cast<int>(tok.encode(candidate, tok.add_bos()).size()) > tokens) break;
        best = text = candidate;
        if (i > 100000) break;
    }
    return best;
}

}  // namespace wb::bench_all
