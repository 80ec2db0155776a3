// libFuzzer target: the bytes of a llama2.c checkpoint file (v0, v1, or anything with the v1/v2 magic;
// fuzz_gguf covers GGUF). Checkpoint::from_bytes must throw LoadError or return weights that lie inside
// the input: every weight's first and last row is read, so AddressSanitizer faults on any bad bound.
#include <cstdint>
#include <vector>

#include "model/checkpoint.h"
#include "touch.h"

using namespace wb;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto* first = reinterpret_cast<const std::byte*>(data);
    try {
        const Checkpoint ck = Checkpoint::from_bytes(std::vector<std::byte>(first, first + size), "fuzz input");
        volatile float sink = fuzz::touch_all(ck);
        (void)sink;
    } catch (const LoadError&) {
        // Refusing bad bytes is the expected outcome; any other exception escapes and is reported.
    }
    return 0;
}
