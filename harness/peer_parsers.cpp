// The peers' outputs read into rates: llama-bench's four output forms (JSON lines, a JSON array, CSV, Markdown) and
// llama2.c's "achieved tok/s" line, with the first line that says why when a run failed.
#include "harness/peers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "harness/json.h"

namespace wb {

namespace {

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
    double depth = 0;  // tokens in the cache before the test: mainline's n_depth, or an ik_llama.cpp -gp test's prompt
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
    if (const JsonValue* d = o.find("n_depth"); d && d->type == JsonValue::Type::number) t.depth = d->number;
    // ik_llama.cpp's -gp D,N test ("tg64@pp4096") times only the N generated tokens after its D-token prompt.
    if (const JsonValue* name = o.find("test"); name && name->type == JsonValue::Type::string &&
                                                name->string.find("@pp") != std::string::npos) {
        t.depth = t.n_prompt;
        t.n_prompt = 0;
    }
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
            if (f && f->type == JsonValue::Type::boolean && f->boolean) t.backend.append(t.backend.empty() ? "" : ",").append(flag);
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

PeerOutput parse_llama_bench(const std::string& out, const std::string& err, int exit_code, int depth) {
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
        if (t.depth != depth) continue;
        if (t.n_prompt > 0 && t.n_gen == 0) pp = &t;
        if (t.n_gen > 0 && t.n_prompt == 0) tg = &t;
    }
    if (!tg) {
        o.error = "llama-bench output has no readable generation (tg) result" +
                  (depth > 0 ? " at depth " + std::to_string(depth) : std::string()) + ": " + first_error_line(body, err, exit_code);
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

PeerOutput parse_llama2c(const std::string& out, const std::string& err, int exit_code, int depth) {
    PeerOutput o;
    o.prefill_tok_s = not_measured();  // its prompt goes token by token and is counted in achieved tok/s
    if (depth > 0) {
        o.error = "llama2.c measures no decode at a depth";
        return o;
    }
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

}  // namespace wb
