#include "harness/timing.h"

#include <cstdio>

namespace wb {

std::string format_timing_line(const GenerationTiming& t) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "timing: prefill_tokens=%d prefill_tok_s=%.3f decode_tokens=%d decode_tok_s=%.3f ttft_ms=%.3f",
                  t.prefill_tokens, t.prefill_tok_s(), t.decode_tokens, t.decode_tok_s(), t.ttft_seconds * 1e3);
    return buf;
}

std::optional<ParsedTiming> parse_timing_line(const std::string& text) {
    const std::size_t at = text.rfind("timing: ");
    if (at == std::string::npos) return std::nullopt;
    ParsedTiming p{};
    if (std::sscanf(text.c_str() + at, "timing: prefill_tokens=%d prefill_tok_s=%lf decode_tokens=%d decode_tok_s=%lf ttft_ms=%lf",
                    &p.prefill_tokens, &p.prefill_tok_s, &p.decode_tokens, &p.decode_tok_s, &p.ttft_ms) != 5) {
        return std::nullopt;
    }
    return p;
}

}  // namespace wb
