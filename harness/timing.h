// The timing of one generation and its one-line text form (see SCHEMA.md), shared by every program.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace wb {

struct GenerationTiming {
    int prefill_tokens = 0;
    double prefill_seconds = 0;
    int decode_tokens = 0;
    double decode_seconds = 0;
    double ttft_seconds = 0;

    double prefill_tok_s() const { return prefill_seconds > 0 ? prefill_tokens / prefill_seconds : 0.0; }
    double decode_tok_s() const { return decode_seconds > 0 ? decode_tokens / decode_seconds : 0.0; }
};

// "timing: prefill_tokens=P prefill_tok_s=X decode_tokens=N decode_tok_s=Y ttft_ms=Z"
std::string format_timing_line(const GenerationTiming& t);

struct ParsedTiming {
    int prefill_tokens;
    double prefill_tok_s;
    int decode_tokens;
    double decode_tok_s;
    double ttft_ms;
};
// The last timing line in text, if any.
std::optional<ParsedTiming> parse_timing_line(const std::string& text);

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace wb
