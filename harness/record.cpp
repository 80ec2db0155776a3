#include "harness/record.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <sstream>

#include "harness/json.h"
#include "harness/machine.h"
#include "kernels/matmul/blas.h"

namespace wb {

Summary summarize(std::vector<double> samples) {
    Summary s;
    s.samples = samples;
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    const std::size_t n = samples.size();
    s.median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
    s.min = samples.front();
    s.max = samples.back();
    double mean = 0;
    for (const double v : samples) mean += v / static_cast<double>(n);
    double var = 0;
    for (const double v : samples) var += (v - mean) * (v - mean);
    s.stddev = n > 1 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
    return s;
}

Summary not_measured() {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {{}, nan, nan, nan, nan};
}

static std::string command_output(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen(command.c_str(), "r"), pclose);
    if (!p) return "";
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p.get()) != nullptr) out += buf;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

BuildInfo build_info() {
    const std::string git = std::string("git -C '") + WORKBENCH_SOURCE_DIR + "' ";
    std::string sha = command_output(git + "rev-parse --short HEAD 2>/dev/null");
    if (sha.empty()) sha = "unknown";
    // Result files change during a run; only code makes a build dirty.
    else if (!command_output(git + "status --porcelain --untracked-files=no -- . ':!results' 2>/dev/null").empty()) sha += "-dirty";
    return {sha, std::string("g++ ") + __VERSION__, WORKBENCH_CXX_FLAGS, cpu_model(), host_name(), blas_core()};
}

std::string results_stem(const BuildInfo& build) {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[16];
    std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
    return std::string(date) + "-" + build.host;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static void write_summary(JsonWriter& j, const char* key, const Summary& s) {
    j.key(key).begin_object().begin_array("samples");
    for (const double v : s.samples) j.value(v);
    j.end_array().field("median", s.median).field("stddev", s.stddev).field("min", s.min).field("max", s.max).end_object();
}

static void optional_string(JsonWriter& j, const char* key, const std::optional<std::string>& v) {
    j.key(key);
    if (v) j.value(*v);
    else j.null();
}

std::string to_json(const Record& r) {
    JsonWriter j;
    j.begin_object()
        .field("schema", 1)
        .field("kind", r.kind)
        .field("timestamp", r.timestamp)
        .field("command", r.command)
        .field("git_sha", r.build.git_sha)
        .field("compiler", r.build.compiler)
        .field("flags", r.build.flags)
        .field("cpu", r.build.cpu)
        .field("host", r.build.host)
        .field("blas_core", r.build.blas_core)
        .field("impl", r.impl)
        .field("variant", r.variant);
    optional_string(j, "matmul", r.matmul);
    optional_string(j, "attention", r.attention);
    optional_string(j, "weight_type", r.weight_type);
    optional_string(j, "isa", r.isa);
    j.key("peer");
    if (r.peer) {
        j.begin_object().field("kind", r.peer->kind).field("name", r.peer->name).field("binary", r.peer->binary)
            .field("version", r.peer->version).field("backend", r.peer->backend).end_object();
    } else {
        j.null();
    }
    j.field("threads", r.threads)
        .field("model", r.model)
        .field("model_source", r.model_source)
        .field("model_bytes", r.model_bytes)
        .field("prompt_tokens", r.prompt_tokens)
        .field("gen_tokens", r.gen_tokens)
        .field("repetitions", r.repetitions)
        .field("batch", r.batch)
        .key("round");
    if (r.round) j.value(*r.round);
    else j.null();
    j.key("bytes_per_weight");
    if (r.bytes_per_weight) j.value(*r.bytes_per_weight);
    else j.null();
    optional_string(j, "weights_held", r.weights_held);
    j.key("lossy");
    if (r.lossy) j.value(*r.lossy);
    else j.null();
    optional_string(j, "kv_type", r.kv_type);
    if (r.depth) j.field("depth", *r.depth);
    if (r.kv_bytes_per_position) j.field("kv_bytes_per_position", *r.kv_bytes_per_position);
    if (r.fill_tok_s) j.field("fill_tok_s", *r.fill_tok_s);
    write_summary(j, "prefill_tok_s", r.prefill_tok_s);
    write_summary(j, "decode_tok_s", r.decode_tok_s);
    write_summary(j, "ttft_ms", r.ttft_ms);
    j.field("peak_rss_mb", r.peak_rss_mb).field("status", r.status).key("agreement");
    if (r.agreement) j.value(*r.agreement);
    else j.null();
    optional_string(j, "error", r.error);
    j.key("profile");
    if (r.profile) {
        j.begin_object();
        for (const auto& [op, ms] : *r.profile) j.field(op, ms);
        j.end_object();
    } else {
        j.null();
    }
    j.end_object();
    return j.str();
}

std::string csv_header() {
    return "timestamp,git_sha,impl,variant,matmul,attention,threads,batch,round,model,model_bytes,prompt_tokens,gen_tokens,"
           "repetitions,prefill_tok_s_median,prefill_tok_s_stddev,decode_tok_s_median,decode_tok_s_stddev,"
           "ttft_ms_median,peak_rss_mb,status,agreement,weight_type,peer_version,error,kv_type,depth";
}

std::string to_csv(const Record& r) {
    std::ostringstream o;
    auto quoted = [](const std::string& s) {  // RFC 4180: fields with a comma, quote or line break are quoted
        if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
        std::string q = "\"";
        for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
    };
    // Rates a program does not report are empty cells.
    auto rate = [](double v) {
        std::ostringstream cell;
        if (std::isfinite(v)) cell << v;
        return cell.str();
    };
    o << r.timestamp << ',' << r.build.git_sha << ',' << r.impl << ',' << quoted(r.variant) << ','
      << r.matmul.value_or("") << ',' << r.attention.value_or("") << ',' << r.threads << ',' << r.batch << ','
      << (r.round ? std::to_string(*r.round) : std::string()) << ',' << quoted(r.model) << ','
      << r.model_bytes << ',' << r.prompt_tokens << ',' << r.gen_tokens << ',' << r.repetitions << ','
      << rate(r.prefill_tok_s.median) << ',' << rate(r.prefill_tok_s.stddev) << ',' << rate(r.decode_tok_s.median) << ','
      << rate(r.decode_tok_s.stddev) << ',' << rate(r.ttft_ms.median) << ',' << r.peak_rss_mb << ',' << r.status << ',';
    if (r.agreement) o << *r.agreement;
    o << ',' << r.weight_type.value_or("") << ',' << quoted(r.peer ? r.peer->version : "") << ','
      << quoted(r.error.value_or("")) << ',' << r.kv_type.value_or("") << ','
      << (r.depth ? std::to_string(*r.depth) : std::string());
    return o.str();
}

static std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void append_line(const std::string& path, const std::string& line) {
    write_file_atomically(path, read_all(path) + line + "\n");
}

// A CSV whose header is an older one of ours (columns are only ever added at the end) with today's header and
// empty cells for the added columns in each of its records; a current, empty or foreign file as it is.
static std::string with_current_header(const std::string& csv) {
    const std::string header = csv_header();
    if (csv.empty()) return header + "\n";
    const std::string old_header = csv.substr(0, csv.find('\n'));
    if (old_header == header || header.rfind(old_header + ",", 0) != 0) return csv;
    const long columns = std::count(header.begin(), header.end(), ',') + 1;
    std::string out = header + "\n", record;
    long fields = 1;
    bool quoted = false;
    for (std::size_t i = old_header.size() + 1; i < csv.size(); i++) {
        const char c = csv[i];
        if (c == '"') quoted = !quoted;
        if (c == '\n' && !quoted) {  // a record ends: pad it to the header's columns
            out += record + std::string(static_cast<std::size_t>(std::max(0L, columns - fields)), ',') + "\n";
            record.clear();
            fields = 1;
            continue;
        }
        fields += c == ',' && !quoted;
        record += c;
    }
    return out + record;
}

void append_record(const Record& r, const std::string& dir, const std::string& stem) {
    const std::filesystem::path base = std::filesystem::path(dir) / stem;
    const std::string jsonl = base.string() + ".jsonl", csv = base.string() + ".csv";
    append_line(jsonl, to_json(r));
    write_file_atomically(csv, with_current_header(read_all(csv)) + to_csv(r) + "\n");
}

}  // namespace wb
