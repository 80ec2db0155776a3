#include "harness/peers.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "harness/json.h"
#include "model/formats/gguf_model.h"
#include "model/formats/llama2c.h"
#include "model/memory_guard.h"

namespace wb {

namespace {

constexpr DType kLlamaCppTypes[] = {DType::f32, DType::q8_0, DType::q4_0};
constexpr const char* kLlamaBenchArguments[] = {"-m", "{model}", "-p", "{prompt_tokens}", "-n", "{gen_tokens}",
                                                "-r", "{repetitions}", "-t", "{threads}", "-o", "{output}"};
// Mainline writes JSON lines; forks such as ik_llama.cpp only a JSON array.
constexpr const char* kLlamaBenchOutputs[] = {"jsonl", "json"};

constexpr DType kLlama2cTypes[] = {DType::f32};
constexpr const char* kLlama2cArguments[] = {"{model}", "-z", "{tokenizer}", "-t", "0", "-n", "{steps}", "-i", "{prompt}"};

const PeerKind kPeerKinds[] = {
    {"llama.cpp", PeerFormat::gguf, kLlamaCppTypes, kLlamaBenchArguments, nullptr, nullptr, true, false,
     kLlamaBenchOutputs, parse_llama_bench, "a llama-bench binary (llama.cpp or a fork with its output)"},
    {"llama2.c", PeerFormat::llama2c_v0, kLlama2cTypes, kLlama2cArguments, "OMP_NUM_THREADS", "GOMP_parallel", false,
     true, {}, parse_llama2c, "llama2.c run binaries, comma-separated (run, runfast, runomp builds)"},
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

std::string trim(std::string_view s) {
    const std::size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string_view::npos) return "";
    const std::size_t b = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(a, b - a + 1));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A whole decimal or floating-point number; nullopt for anything else.
std::optional<double> number(std::string_view text) {
    const std::string s = trim(text);
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

bool positive(double v) { return std::isfinite(v) && v > 0; }

// ---- llama-bench -----------------------------------------------------------------------------

// One test line of llama-bench's output, whatever form it came in.
struct BenchTest {
    double n_prompt = 0, n_gen = 0;
    std::vector<double> samples;  // tok/s of each repetition (json, jsonl)
    double avg = NAN, stddev = NAN;  // what csv and md carry instead
    std::string build_commit, backend;
};

// Backends a fork names by flags instead of a "backends" string.
constexpr const char* kBackendFlags[] = {"cuda", "vulkan", "metal", "sycl", "kompute", "gpu_blas", "blas"};

std::optional<BenchTest> test_of(const JsonValue& o) {
    const JsonValue *p = o.find("n_prompt"), *g = o.find("n_gen"), *avg = o.find("avg_ts");
    if (!p || !g || p->type != JsonValue::Type::number || g->type != JsonValue::Type::number) return std::nullopt;
    BenchTest t;
    t.n_prompt = p->number;
    t.n_gen = g->number;
    if (const JsonValue* s = o.find("samples_ts"); s && s->type == JsonValue::Type::array) {
        for (const JsonValue& v : s->array) {
            if (v.type != JsonValue::Type::number) return std::nullopt;
            t.samples.push_back(v.number);
        }
    }
    if (avg && avg->type == JsonValue::Type::number) t.avg = avg->number;
    if (const JsonValue* sd = o.find("stddev_ts"); sd && sd->type == JsonValue::Type::number) t.stddev = sd->number;
    if (const JsonValue* b = o.find("build_commit"); b && b->type == JsonValue::Type::string) t.build_commit = b->string;
    if (const JsonValue* b = o.find("backends"); b && b->type == JsonValue::Type::string) {
        t.backend = b->string;
    } else {
        for (const char* flag : kBackendFlags) {
            const JsonValue* f = o.find(flag);
            if (f && f->type == JsonValue::Type::boolean && f->boolean) t.backend += (t.backend.empty() ? "" : ",") + std::string(flag);
        }
        if (t.backend.empty()) t.backend = "CPU";
    }
    return t;
}

// JSON lines (one object a line) or one JSON array; lines that are not objects (a truncated last line) are skipped.
std::vector<BenchTest> json_tests(const std::string& out) {
    std::vector<BenchTest> tests;
    if (trim(out).front() == '[') {
        const std::optional<JsonValue> all = parse_json(out);
        if (!all || all->type != JsonValue::Type::array) return tests;
        for (const JsonValue& o : all->array) {
            if (auto t = test_of(o)) tests.push_back(*t);
        }
        return tests;
    }
    for (const std::string& line : lines_of(out)) {
        const std::optional<JsonValue> o = parse_json(line);
        if (!o) continue;
        if (auto t = test_of(*o)) tests.push_back(*t);
    }
    return tests;
}

// One CSV line (RFC 4180 quoting); nullopt for an unterminated quote.
std::optional<std::vector<std::string>> csv_fields(const std::string& line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); i++) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', i++;
            else if (c == '"') quoted = false;
            else fields.back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else {
            fields.back() += c;
        }
    }
    if (quoted) return std::nullopt;
    return fields;
}

std::vector<BenchTest> csv_tests(const std::string& out) {
    std::vector<BenchTest> tests;
    const std::vector<std::string> lines = lines_of(trim(out));
    const auto header = csv_fields(lines.front());
    if (!header) return tests;
    auto column = [&](const char* name) -> std::optional<std::size_t> {
        const auto it = std::find(header->begin(), header->end(), name);
        if (it == header->end()) return std::nullopt;
        return static_cast<std::size_t>(it - header->begin());
    };
    const auto p = column("n_prompt"), g = column("n_gen"), avg = column("avg_ts"), sd = column("stddev_ts"),
               commit = column("build_commit"), backends = column("backends");
    if (!p || !g || !avg) return tests;
    for (std::size_t i = 1; i < lines.size(); i++) {
        const auto f = csv_fields(lines[i]);
        if (!f || f->size() != header->size()) continue;  // truncated
        const auto np = number((*f)[*p]), ng = number((*f)[*g]), a = number((*f)[*avg]);
        if (!np || !ng || !a) continue;
        BenchTest t;
        t.n_prompt = *np;
        t.n_gen = *ng;
        t.avg = *a;
        if (sd) t.stddev = number((*f)[*sd]).value_or(NAN);
        if (commit) t.build_commit = (*f)[*commit];
        t.backend = backends ? (*f)[*backends] : "CPU";
        tests.push_back(t);
    }
    return tests;
}

// Markdown: a table with "test" (pp64, tg128) and "t/s" ("mean ± sd") columns, then "build: COMMIT (NUMBER)".
std::vector<BenchTest> md_tests(const std::string& out) {
    std::vector<BenchTest> tests;
    std::vector<std::string> header;
    std::string commit;
    auto cells = [](const std::string& line) {
        std::vector<std::string> c;
        std::istringstream in(line.substr(1));
        for (std::string cell; std::getline(in, cell, '|');) c.push_back(trim(cell));
        return c;
    };
    for (const std::string& line : lines_of(out)) {
        if (line.rfind("build: ", 0) == 0) commit = trim(line.substr(7, line.find(" (") - 7));
        if (line.empty() || line[0] != '|' || line.find("---") != std::string::npos) continue;
        if (header.empty()) {
            header = cells(line);
            continue;
        }
        const std::vector<std::string> row = cells(line);
        if (row.size() < header.size() || trim(line).back() != '|') continue;  // truncated
        BenchTest t;
        for (std::size_t i = 0; i < header.size(); i++) {
            if (header[i] == "backend") t.backend = row[i];
            if (header[i] == "test") {
                const std::string& name = row[i];
                if (name.find('+') != std::string::npos || name.size() < 3) continue;
                const std::optional<double> n = number(name.substr(2));
                if (n && name.rfind("pp", 0) == 0) t.n_prompt = *n;
                if (n && name.rfind("tg", 0) == 0) t.n_gen = *n;
            }
            if (header[i] == "t/s") {
                const std::size_t pm = row[i].find("±");
                t.avg = number(row[i].substr(0, pm)).value_or(NAN);
                if (pm != std::string::npos) t.stddev = number(row[i].substr(pm + std::string("±").size())).value_or(NAN);
            }
        }
        tests.push_back(t);
    }
    for (BenchTest& t : tests) t.build_commit = commit;
    return tests;
}

// A test's rate: the median and spread of its samples, else the mean and standard deviation it printed.
std::optional<Summary> rate_of(const BenchTest& t) {
    if (!t.samples.empty()) {
        if (!std::all_of(t.samples.begin(), t.samples.end(), positive)) return std::nullopt;
        return summarize(t.samples);
    }
    if (!positive(t.avg)) return std::nullopt;
    Summary s = not_measured();
    s.median = t.avg;
    s.stddev = t.stddev;
    return s;
}

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
    };
    PeerCommand c;
    c.argv.push_back(peer.binary);
    for (const char* a : peer.kind->arguments) {
        std::string arg = a;
        for (const auto& [key, value] : values) {
            if (const std::size_t at = arg.find(key); at != std::string::npos) arg.replace(at, std::string_view(key).size(), value);
        }
        c.argv.push_back(arg);
    }
    if (peer.kind->threads_env) c.env.push_back(std::string(peer.kind->threads_env) + "=" + std::to_string(job.threads));
    return c;
}

std::string choose_output(const PeerKind& kind, const std::string& help_text) {
    if (kind.outputs.empty()) return "";
    for (const char* o : kind.outputs) {
        for (std::size_t at = help_text.find(o); at != std::string::npos; at = help_text.find(o, at + 1)) {
            const std::size_t end = at + std::string_view(o).size();
            const auto word_char = [&](std::size_t i) {
                return std::isalnum(static_cast<unsigned char>(help_text[i])) || help_text[i] == '_';
            };
            if ((at == 0 || !word_char(at - 1)) && (end == help_text.size() || !word_char(end))) return o;
        }
    }
    return kind.outputs.back();  // the most widely supported
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

std::string first_error_line(const std::string& out, const std::string& err, int exit_code) {
    static constexpr const char* kErrorWords[] = {"error", "fail", "cannot", "can't", "couldn't", "unable", "invalid", "not found"};
    for (const std::string& line : lines_of(err)) {
        const std::string l = lower(line);
        for (const char* w : kErrorWords) {
            if (l.find(w) != std::string::npos) return trim(line);
        }
    }
    for (const std::string* text : {&err, &out}) {
        for (const std::string& line : lines_of(*text)) {
            if (!trim(line).empty()) return trim(line);
        }
    }
    return "exit status " + std::to_string(exit_code) + ", no output";
}

PeerOutput parse_llama_bench(const std::string& out, const std::string& err, int exit_code) {
    PeerOutput o;
    if (exit_code != 0) {
        o.error = first_error_line(out, err, exit_code);
        return o;
    }
    const std::string body = trim(out);
    if (body.empty()) {
        o.error = "llama-bench printed no results (" + first_error_line(out, err, exit_code) + ")";
        return o;
    }
    std::vector<BenchTest> tests;
    if (body.front() == '[' || body.front() == '{') tests = json_tests(body);
    else if (body.front() == '|') tests = md_tests(body);
    else if (body.rfind("build_commit,", 0) == 0) tests = csv_tests(body);
    const BenchTest *pp = nullptr, *tg = nullptr;
    for (const BenchTest& t : tests) {
        if (t.n_prompt > 0 && t.n_gen == 0) pp = &t;
        if (t.n_gen > 0 && t.n_prompt == 0) tg = &t;
    }
    if (!tg) {
        o.error = "llama-bench output has no readable generation (tg) result: " + first_error_line(body, err, exit_code);
        return o;
    }
    const std::optional<Summary> decode = rate_of(*tg);
    const std::optional<Summary> prefill = pp ? rate_of(*pp) : std::optional<Summary>(not_measured());
    if (!decode || !prefill) {
        o.error = "llama-bench output has a tokens/s figure that is not a positive number";
        return o;
    }
    o.decode_tok_s = *decode;
    o.prefill_tok_s = *prefill;
    o.version = tg->build_commit == "unknown" ? "" : tg->build_commit;
    o.backend = tg->backend;
    return o;
}

PeerOutput parse_llama2c(const std::string& out, const std::string& err, int exit_code) {
    PeerOutput o;
    o.prefill_tok_s = not_measured();  // its prompt goes token by token and is counted in achieved tok/s
    if (exit_code != 0) {
        o.error = first_error_line(out, err, exit_code);
        return o;
    }
    static constexpr std::string_view kKey = "achieved tok/s:";
    for (const std::string* text : {&err, &out}) {
        const std::size_t at = text->rfind(kKey);
        if (at == std::string::npos) continue;
        const std::size_t start = at + kKey.size(), end = text->find('\n', start);
        if (end == std::string::npos) {
            o.error = "llama2.c's 'achieved tok/s' line is cut off";
            return o;
        }
        const std::optional<double> v = number(text->substr(start, end - start));
        if (!v || !positive(*v)) {
            o.error = "llama2.c printed 'achieved tok/s' without a positive number";
            return o;
        }
        o.decode_tok_s = summarize({*v});
        return o;
    }
    o.error = "llama2.c printed no 'achieved tok/s' line: " + first_error_line(out, err, exit_code);
    return o;
}

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
            last = peer.kind->parse(p.out, p.err, p.exit_code);
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

PeerModelWriter peer_model_writer(const Checkpoint& checkpoint, const std::string& tokenizer_path) {
    const auto gguf_options = [&checkpoint, tokenizer_path](DType type) {
        GgufModelOptions o;
        o.type = type;
        o.name = checkpoint.name();
        o.vocab = vocab_metadata(checkpoint.vocab() ? *checkpoint.vocab() : llama2c::read_tokenizer_vocab(tokenizer_path));
        return o;
    };
    PeerModelWriter w;
    w.bytes = [&checkpoint, gguf_options](PeerFormat format, DType type) -> std::uint64_t {
        const Config& c = checkpoint.config();
        if (format == PeerFormat::llama2c_v0) return llama2c::v0_file_bytes(c);
        return gguf_model_writer(c, gguf_options(type), checkpoint.name()).file_bytes();
    };
    w.write = [&checkpoint, gguf_options](PeerFormat format, DType type, const std::string& path) {
        const Config& c = checkpoint.config();
        FileSink file(path);
        if (format == PeerFormat::llama2c_v0) {
            if (type != DType::f32) throw std::logic_error("llama2.c v0 files are fp32");
            llama2c::write_v0(c, checkpoint_rows(checkpoint), file.sink(), path);
        } else {
            write_gguf_model(c, checkpoint_rows(checkpoint), gguf_options(type), file.sink(), path);
        }
        file.close();
    };
    return w;
}

PeerModels::PeerModels(std::string model_name, PeerModelWriter writer)
    : model_name_(std::move(model_name)), writer_(std::move(writer)) {}

PeerModels::~PeerModels() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void PeerModels::provide(PeerFormat format, DType type, const std::string& path) { files_[{format, type}] = path; }

const std::string& PeerModels::file(PeerFormat format, DType type) {
    const std::pair key{format, type};
    if (const auto it = files_.find(key); it != files_.end()) return it->second;
    if (const auto it = failures_.find(key); it != failures_.end()) throw std::runtime_error(it->second);
    std::string path;
    try {
        if (dir_.empty()) {
            const std::filesystem::path d = std::filesystem::temp_directory_path() /
                                            ("wb-peers-" + std::to_string(getpid()) + "-" + model_name_);
            std::filesystem::create_directories(d);
            dir_ = d.string();
        }
        path = (std::filesystem::path(dir_) / (model_name_ + "-" + lower(traits(type).name) +
                                               (format == PeerFormat::gguf ? ".gguf" : ".bin"))).string();
        if (const std::optional<std::uint64_t> free = disk_space_for(path)) {
            require_disk(path, writer_.bytes(format, type), *free);
        }
        writer_.write(format, type, path);
    } catch (const std::exception& e) {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
        failures_[key] = std::string(format_name(format)) + " " + traits(type).name + " model for the peers: " + e.what();
        throw std::runtime_error(failures_[key]);
    }
    return files_[key] = path;
}

}  // namespace wb
