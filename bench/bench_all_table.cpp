#include "bench/bench_all_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace wb::bench_all {

namespace {

double decode_of(const std::vector<Row>& rows, const std::string& label, int threads) {
    for (const Row& r : rows) {
        if (r.label == label && r.threads == threads && r.record.status == "ok") return r.record.decode_tok_s.median;
    }
    return 0;
}

// The fastest decode of the named peer's runs in this weight type at this thread count (0: none).
double peer_decode_of(const std::vector<Row>& rows, const std::string& peer, const std::optional<std::string>& type, int threads) {
    double best = 0;
    for (const Row& r : rows) {
        const Record& p = r.record;
        if (p.peer && p.peer->name == peer && type && p.weight_type == type && r.threads == threads && p.status == "ok") {
            best = std::max(best, p.decode_tok_s.median);
        }
    }
    return best;
}

// "median ± sd", or "—" for a rate the program does not report.
std::string rate(const Summary& s) {
    if (!std::isfinite(s.median)) return "—";
    char buf[64];
    std::snprintf(buf, sizeof buf, std::isfinite(s.stddev) ? "%.1f ± %.1f" : "%.1f", s.median, s.stddev);
    return buf;
}

}  // namespace

void print_table(const std::string& model, const std::vector<Row>& rows, const std::vector<Peer>& peers) {
    auto ratio = [](double a, double b) -> std::string {
        if (!(a > 0) || !(b > 0)) return "—";
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2fx", a / b);
        return buf;
    };
    std::vector<std::string> peer_names;  // one "vs" column each, like for like in weight type
    for (const Peer& p : peers) {
        if (std::find(peer_names.begin(), peer_names.end(), p.name) == peer_names.end()) peer_names.push_back(p.name);
    }
    std::printf("\n### %s\n\n", model.c_str());
    std::printf("| variant | threads | prefill tok/s | decode tok/s | TTFT ms | vs C runfast/omp | vs Python | vs naive |");
    for (const std::string& n : peer_names) std::printf(" vs %s |", n.c_str());
    std::printf(" status |\n|");
    for (std::size_t i = 0; i < 9 + peer_names.size(); i++) std::printf(" --- |");
    std::printf("\n");
    const double python = decode_of(rows, "python", 1);
    for (const Row& r : rows) {
        const Record& rec = r.record;
        const double c = r.threads == 1 ? decode_of(rows, "c-runfast", 1) : decode_of(rows, "c-runomp", r.threads);
        const double naive = decode_of(rows, "naive", r.threads);
        const double dec = rec.status == "ok" ? rec.decode_tok_s.median : 0.0;
        std::string status = rec.status;
        if (rec.agreement) status += " (agreement " + std::to_string(static_cast<int>(*rec.agreement * 100 + 0.5)) + "%)";
        if (rec.error) status += ": " + *rec.error;
        char ttft[32] = "—";
        if (std::isfinite(rec.ttft_ms.median)) std::snprintf(ttft, sizeof ttft, "%.1f", rec.ttft_ms.median);
        std::printf("| %s | %d | %s | %s | %s | %s | %s | %s |", r.label.c_str(), r.threads, rate(rec.prefill_tok_s).c_str(),
                    rate(rec.decode_tok_s).c_str(), ttft, ratio(dec, c).c_str(), ratio(dec, python).c_str(),
                    ratio(dec, naive).c_str());
        for (const std::string& n : peer_names) {
            std::printf(" %s |", ratio(dec, peer_decode_of(rows, n, rec.weight_type, r.threads)).c_str());
        }
        std::printf(" %s |\n", status.c_str());
    }
    std::fflush(stdout);
}

}  // namespace wb::bench_all
