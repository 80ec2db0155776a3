// The peer kinds as data rows, a --peer argument read into peers, each peer's command line for a job, and a job
// measured into a record. Their outputs are read in peer_parsers.cpp, their model files written in peer_models.cpp.
#include "harness/peers.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace wb {

namespace {

constexpr DType kLlamaCppTypes[] = {DType::f32, DType::q8_0, DType::q4_0};
constexpr const char* kLlamaBenchArguments[] = {"-m", "{model}", "-p", "{prompt_tokens}", "-n", "{gen_tokens}",
                                                "-r", "{repetitions}", "-t", "{threads}", "-o", "{output}"};
// Mainline writes JSON lines; forks such as ik_llama.cpp only a JSON array.
constexpr const char* kLlamaBenchOutputs[] = {"jsonl", "json"};

// llama-bench at depth, flash attention on (the workbench's flash kernel is its counterpart) and the cache typed:
// mainline's -d runs its pp and tg tests after {depth} tokens; ik_llama.cpp's -gp D,N times N generated tokens
// after a D-token prompt (no prefill at depth), with its run-time repacking on, as its own benchmarks run it.
constexpr const char* kLlamaBenchDepthArguments[] = {
    "-m", "{model}", "-p", "{prompt_tokens}", "-n", "{gen_tokens}", "-d", "{depth}", "-fa", "1", "-ctk", "{kv_type}",
    "-ctv", "{kv_type}", "-r", "{repetitions}", "-t", "{threads}", "-o", "{output}"};
constexpr const char* kLlamaBenchGpArguments[] = {
    "-m", "{model}", "-p", "0", "-n", "0", "-gp", "{depth},{gen_tokens}", "-fa", "1", "-rtr", "1", "-ctk", "{kv_type}",
    "-ctv", "{kv_type}", "-r", "{repetitions}", "-t", "{threads}", "-o", "{output}"};
constexpr DepthForm kLlamaBenchDepthForms[] = {{"--n-depth", kLlamaBenchDepthArguments, true},
                                               {"-gp", kLlamaBenchGpArguments, false}};

constexpr DType kLlama2cTypes[] = {DType::f32};
constexpr const char* kLlama2cArguments[] = {"{model}", "-z", "{tokenizer}", "-t", "0", "-n", "{steps}", "-i", "{prompt}"};

const PeerKind kPeerKinds[] = {
    {"llama.cpp", PeerFormat::gguf, kLlamaCppTypes, kLlamaBenchArguments, nullptr, nullptr, true, false,
     kLlamaBenchOutputs, parse_llama_bench, "a llama-bench binary (llama.cpp or a fork with its output)",
     kLlamaBenchDepthForms},
    {"llama2.c", PeerFormat::llama2c_v0, kLlama2cTypes, kLlama2cArguments, "OMP_NUM_THREADS", "GOMP_parallel", false,
     true, {}, parse_llama2c, "llama2.c run binaries, comma-separated (run, runfast, runomp builds)"},
};

}  // namespace

const char* format_name(PeerFormat f) { return f == PeerFormat::gguf ? "GGUF" : "llama2.c v0"; }

const PeerKind* find_peer_kind(std::string_view name) {
    for (const PeerKind& k : kPeerKinds) {
        if (name == k.name) return &k;
    }
    return nullptr;
}

std::string peer_kind_names() {
    std::string names;
    for (const PeerKind& k : kPeerKinds) names += (names.empty() ? "" : ", ") + std::string(k.name);
    return names;
}

std::string Peer::label() const {
    return kind->several_binaries ? name + " " + std::filesystem::path(binary).filename().string() : name;
}

std::vector<Peer> parse_peer_argument(std::string_view argument) {
    const std::string arg(argument);
    const std::size_t eq = arg.find('=');
    if (eq == std::string::npos) {
        throw std::invalid_argument("--peer expects KIND=PATH (kinds: " + peer_kind_names() + "), got '" + arg + "'");
    }
    const std::string left = arg.substr(0, eq), path = arg.substr(eq + 1);
    const std::size_t colon = left.find(':');
    const std::string kind_name = left.substr(0, colon), name = colon == std::string::npos ? kind_name : left.substr(colon + 1);
    const PeerKind* kind = find_peer_kind(kind_name);
    if (!kind) throw std::invalid_argument("--peer: unknown kind '" + kind_name + "' (known: " + peer_kind_names() + ")");
    if (name.empty()) throw std::invalid_argument("--peer " + arg + ": empty NAME in KIND:NAME=PATH");
    if (path.empty()) throw std::invalid_argument("--peer " + arg + ": PATH is missing (" + kind->help + ")");
    std::vector<std::string> binaries;
    if (kind->several_binaries) {
        std::istringstream in(path);
        for (std::string item; std::getline(in, item, ',');) binaries.push_back(item);
        if (path.back() == ',') binaries.emplace_back();
    } else {
        binaries.push_back(path);
    }
    std::vector<Peer> peers;
    for (const std::string& b : binaries) {
        if (b.empty()) throw std::invalid_argument("--peer " + arg + ": empty item in the list of binaries");
        if (!std::filesystem::is_regular_file(b) || access(b.c_str(), X_OK) != 0) {
            throw std::invalid_argument("--peer " + kind_name + "=" + b + ": no such executable file (" + kind->help + ")");
        }
        peers.push_back({kind, name, b});
    }
    return peers;
}

PeerCommand peer_command(const Peer& peer, const PeerJob& job) {
    const std::pair<const char*, std::string> values[] = {
        {"{model}", job.model_file},
        {"{tokenizer}", job.tokenizer_file},
        {"{prompt}", job.prompt},
        {"{prompt_tokens}", std::to_string(job.prompt_tokens)},
        {"{gen_tokens}", std::to_string(job.gen_tokens)},
        {"{steps}", std::to_string(job.prompt_tokens + job.gen_tokens - 1)},
        {"{repetitions}", std::to_string(job.repetitions)},
        {"{threads}", std::to_string(job.threads)},
        {"{output}", job.output},
        {"{depth}", std::to_string(job.depth)},
        {"{kv_type}", job.kv_type},
    };
    PeerCommand c;
    c.argv.push_back(peer.binary);
    for (const char* a : job.depth_form ? job.depth_form->arguments : peer.kind->arguments) {
        std::string arg = a;
        for (const auto& [key, value] : values) {
            if (const std::size_t at = arg.find(key); at != std::string::npos) arg.replace(at, std::string_view(key).size(), value);
        }
        c.argv.push_back(arg);
    }
    if (peer.kind->threads_env) c.env.push_back(std::string(peer.kind->threads_env) + "=" + std::to_string(job.threads));
    return c;
}

namespace {

// Whether `word` appears in text with no letter, digit, '_' or '-' on either side.
bool has_word(const std::string& text, std::string_view word) {
    const auto word_char = [&](std::size_t i) {
        return std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_' || text[i] == '-';
    };
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
        const std::size_t end = at + word.size();
        if ((at == 0 || !word_char(at - 1)) && (end == text.size() || !word_char(end))) return true;
    }
    return false;
}

}  // namespace

std::string choose_output(const PeerKind& kind, const std::string& help_text) {
    if (kind.outputs.empty()) return "";
    for (const char* o : kind.outputs) {
        if (has_word(help_text, o)) return o;
    }
    return kind.outputs.back();  // the most widely supported
}

const DepthForm* choose_depth_form(const PeerKind& kind, const std::string& help_text) {
    for (const DepthForm& f : kind.depth_forms) {
        if (has_word(help_text, f.marker)) return &f;
    }
    return nullptr;
}

bool runs_threads(const Peer& peer, int threads) {
    if (threads == 1 || peer.kind->parallel_marker == nullptr) return true;
    std::ifstream in(peer.binary, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return bytes.find(peer.kind->parallel_marker) != std::string::npos;
}

std::vector<DType> paired_types(const PeerKind& kind, const std::vector<DType>& run_types) {
    std::vector<DType> out;
    for (const DType t : kind.types) {
        if (std::find(run_types.begin(), run_types.end(), t) != run_types.end()) out.push_back(t);
    }
    return out;
}

std::string peer_variant(const Peer& peer, DType type) { return peer.label() + " " + traits(type).name; }

std::string file_sha256(const std::string& path) {
    try {
        const ProcessResult p = run_process({"sha256sum", "--", path}, {}, nullptr);
        const std::string hex = p.out.substr(0, p.out.find(' '));
        if (p.exit_code == 0 && hex.size() == 64) return "sha256:" + hex;
    } catch (const std::exception&) {
    }
    return "unknown";
}

namespace {

void describe(const Peer& peer, DType type, const PeerJob& job, Record& r) {
    r.impl = "peer";
    r.variant = peer_variant(peer, type);
    r.weight_type = traits(type).name;
    r.peer = PeerInfo{peer.kind->name, peer.name, peer.binary, "", ""};
    r.threads = job.threads;
    r.prompt_tokens = job.prompt_tokens;
    r.gen_tokens = job.gen_tokens;
    r.repetitions = job.repetitions;
    r.prefill_tok_s = r.decode_tok_s = r.ttft_ms = not_measured();
}

}  // namespace

void fail_peer(const Peer& peer, DType type, const PeerJob& job, const std::string& why, Record& r) {
    describe(peer, type, job, r);
    r.status = "failed";
    r.error = why;
    r.peer->version = file_sha256(peer.binary);
}

void measure_peer(const Peer& peer, DType type, const PeerJob& job, const RunProgram& run, Record& r) {
    describe(peer, type, job, r);
    const PeerCommand cmd = peer_command(peer, job);
    std::vector<double> prefill, decode;
    PeerOutput last;
    try {
        const int calls = peer.kind->repeats_itself ? 1 : job.repetitions + 1;  // one warm-up call when it does not repeat
        for (int call = 0; call < calls; call++) {
            const ProcessResult p = run(cmd.argv, cmd.env);
            last = peer.kind->parse(p.out, p.err, p.exit_code, job.depth);
            if (!last.error.empty()) {
                r.status = "failed";
                r.error = last.error;
                break;
            }
            r.peak_rss_mb = std::max(r.peak_rss_mb, p.peak_rss_mb);
            if (peer.kind->repeats_itself) {
                r.prefill_tok_s = last.prefill_tok_s;
                r.decode_tok_s = last.decode_tok_s;
            } else if (call > 0) {
                prefill.insert(prefill.end(), last.prefill_tok_s.samples.begin(), last.prefill_tok_s.samples.end());
                decode.insert(decode.end(), last.decode_tok_s.samples.begin(), last.decode_tok_s.samples.end());
            }
        }
    } catch (const std::exception& e) {
        r.status = "failed";
        r.error = e.what();
    }
    if (r.status == "ok" && !peer.kind->repeats_itself) {
        r.decode_tok_s = summarize(decode);
        if (!prefill.empty()) r.prefill_tok_s = summarize(prefill);
    }
    r.peer->version = last.version.empty() ? file_sha256(peer.binary) : last.version;
    r.peer->backend = last.backend;
}

}  // namespace wb
