// libFuzzer target: the bytes of a GGUF file. The parser must throw LoadError or hand out values and tensors
// that lie inside the input; every metadata value is decoded (nested arrays too), the vocabulary read, the
// llama checkpoint built and every weight's first and last row read. A checkpoint that loads is written
// again as GGUF, which must parse back to the same tensors.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "model/formats/gguf.h"
#include "model/formats/gguf_model.h"
#include "touch.h"

namespace {

using namespace wb;

std::size_t decode(const gguf::Value& v) {
    switch (v.type) {
        case gguf::ValueType::string: return v.as_string().size();
        case gguf::ValueType::array: {
            std::size_t n = 0;
            for (const gguf::Value& e : v.elements()) n += decode(e);
            return n + 1;
        }
        case gguf::ValueType::boolean: return v.as_bool();
        default: return static_cast<std::size_t>(v.as_float() != 0);
    }
}

void rewrite(const Checkpoint& ck) {
    const Config& c = ck.config();
    if (c.matmul_params() > (1u << 20) || ck.vocab() == nullptr) return;  // small models only: the fuzzer stays fast
    GgufModelOptions o;
    o.vocab = vocab_metadata(*ck.vocab());
    std::string bytes;
    write_gguf_model(c, checkpoint_rows(ck), o, [&](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); },
                     "rewritten");
    std::vector<std::byte> copy(bytes.size());
    std::memcpy(copy.data(), bytes.data(), bytes.size());
    const Checkpoint again = Checkpoint::from_bytes(std::move(copy), "rewritten");  // must not throw
    if (again.config().summary() != c.summary() || again.config().rope_freq_factors != c.rope_freq_factors) std::abort();
    if (again.vocab() == nullptr || again.vocab()->tokens != ck.vocab()->tokens) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto* first = reinterpret_cast<const std::byte*>(data);
    try {
        const gguf::GgufFile f = gguf::GgufFile::parse(hold_bytes(std::vector<std::byte>(first, first + size)), "fuzz input");
        volatile std::size_t seen = 0;
        for (const gguf::KeyValue& kv : f.metadata()) seen = seen + decode(kv.value);
        for (const gguf::TensorInfo& t : f.tensors()) {
            if (const std::optional<std::uint64_t> bytes = t.bytes(); bytes && *bytes > 0) {
                const std::byte* p = f.tensor_data(t);
                seen = seen + std::to_integer<std::size_t>(p[0]) + std::to_integer<std::size_t>(p[*bytes - 1]);
            }
        }
        if (gguf::has_vocab(f)) {
            try {
                seen = seen + gguf::read_vocab(f).tokens.size();
            } catch (const LoadError&) {
            }
        }
        const Checkpoint ck = read_gguf(f);
        volatile float sink = fuzz::touch_all(ck);
        (void)sink;
        rewrite(ck);
    } catch (const LoadError&) {
        // Refusing bad bytes is the expected outcome; any other exception escapes and is reported.
    }
    return 0;
}
