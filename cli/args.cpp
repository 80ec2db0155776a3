#include "cli/args.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "model/config.h"
#include "kernels/exec_context.h"
#include "model/formats/llama_layout.h"

namespace wb::cli {

std::string_view Args::value() {
    const std::string_view flag = current();
    if (++at_ >= argc_) throw UsageError(std::string(flag) + " needs a value");
    return argv_[at_];
}

long long parse_int(std::string_view flag, std::string_view text, long long lo, long long hi) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE) {
        throw UsageError(std::string(flag) + " expects a whole number, got '" + s + "'");
    }
    if (v < lo || v > hi) {
        throw UsageError(std::string(flag) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + s);
    }
    return v;
}

double parse_double(std::string_view flag, std::string_view text) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
        throw UsageError(std::string(flag) + " expects a number, got '" + s + "'");
    }
    return v;
}

std::vector<std::string> parse_list(std::string_view flag, std::string_view text) {
    std::vector<std::string> items;
    std::size_t at = 0;
    while (!text.empty()) {
        const std::size_t comma = text.find(',', at);
        const std::string_view item = text.substr(at, comma == std::string_view::npos ? comma : comma - at);
        if (item.empty()) throw UsageError(std::string(flag) + " has an empty item in '" + std::string(text) + "'");
        items.emplace_back(item);
        if (comma == std::string_view::npos) break;
        at = comma + 1;
    }
    if (items.empty()) throw UsageError(std::string(flag) + " needs a comma-separated list");
    return items;
}

std::vector<int> parse_int_list(std::string_view flag, std::string_view text, int lo, int hi) {
    std::vector<int> values;
    for (const std::string& item : parse_list(flag, text)) values.push_back(static_cast<int>(parse_int(flag, item, lo, hi)));
    return values;
}

void isa_argument(std::string_view level) {
    try {
        checked_isa(level);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--isa: ") + e.what());
    }
    setenv("WORKBENCH_ISA", std::string(level).c_str(), 1);
}

std::string isa_help() {
    return "  --isa LEVEL        run kernels at most at this instruction-set level: " + cpu_isa_names() +
           " on this CPU\n                     (default: the best, " + isa_name(best_isa()) + "; WORKBENCH_ISA sets it too)\n";
}

DType kv_type_argument(std::string_view name) {
    try {
        return parse_kv_type(name);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--kv-type: ") + e.what());
    }
}

Kernels variant_argument(std::string_view name) {
    try {
        return resolve_variant(name);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
}

Kernels model_variant(const std::string& named, const WeightFootprint& w, std::string& said) {
    if (!named.empty()) return variant_argument(named);
    const DefaultChoice choice = default_variant_for(stored_types(w));
    said = "variant " + choice.variant + ": " + choice.reason + " (--variant overrides)";
    return resolve_variant(choice.variant);
}

void list_weights(std::FILE* out, const Checkpoint& ck, const Kernels& k) {
    std::vector<std::pair<std::string, WeightView>> matrices;
    for (const TensorSlot& t : llama_tensors(ck.config())) {
        if (!t.is_norm() && t.role != Role::embedding) matrices.emplace_back(t.gguf_name(), slot_view(ck.weights(), t));
    }
    if (ck.config().shared_classifier) matrices.emplace_back("token_embd.weight (classifier)", ck.weights().classifier);
    for (const auto& [name, view] : matrices) {
        const MatmulKernel& m = k.matmul_for(view.dtype);
        const char* how = m.streams == view.dtype ? "" : holds_exactly(m.streams, view.dtype) ? "  repacked exactly" : "  converted";
        std::fprintf(out, "%-32s %-6s %-18s %s%s\n", name.c_str(), traits(view.dtype).name, m.name, traits(m.streams).name, how);
    }
}

ModelSpec model_file_argument(std::string_view path) {
    const std::string file(path);
    if (!std::filesystem::is_regular_file(file)) throw UsageError("--model " + file + ": no such checkpoint file");
    return {std::filesystem::path(file).stem().string(), file, std::nullopt};
}

ModelSpec synthetic_argument(std::string_view shape) {
    if (!find_shape(shape)) throw UsageError("unknown shape '" + std::string(shape) + "' (known: " + shape_names() + ")");
    return {std::string(shape), std::nullopt, std::string(shape)};
}

std::string command_line(int argc, char** argv) {
    std::string command;
    for (int i = 0; i < argc; i++) command.append(i > 0 ? " " : "").append(argv[i]);
    return command;
}

bool bench_option(std::string_view a, Args& args, const RunSelection& into, void (*help)()) {
    if (a == "--help" || a == "-h") {
        help();
        std::exit(0);
    } else if (a == "--isa") {
        isa_argument(args.value());
    } else if (a == "--variants") {
        into.variants = parse_list(a, args.value());
        for (const std::string& v : into.variants) variant_argument(v);
    } else if (a == "--threads") {
        into.threads = parse_int_list(a, args.value(), 1, max_threads());
    } else if (a == "--model") {
        into.models.push_back(model_file_argument(args.value()));
    } else if (a == "--synthetic") {
        into.models.push_back(synthetic_argument(args.value()));
    } else {
        return false;
    }
    return true;
}

void output_directory(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || access(dir.c_str(), W_OK) != 0) throw UsageError("--output " + dir + " is not a writable directory");
}

std::string models_dir() {
    const char* env = std::getenv("WORKBENCH_MODELS");
    return env != nullptr && *env != '\0' ? env : WORKBENCH_MODELS_DIR;
}

int run_main(const char* program, int (*body)(int, char**), int argc, char** argv) {
    try {
        return body(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "%s: %s (see --help)\n", program, e.what());
        return 2;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "%s: out of memory\n", program);
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return 1;
    }
}

}  // namespace wb::cli
