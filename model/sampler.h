// Token sampling, bit-compatible with llama2.c's run.c: argmax, multinomial, top-p, xorshift* coins.
#pragma once

#include <cstdint>
#include <vector>

namespace wb {

class Sampler {
public:
    // temperature 0 is greedy; 0 < topp < 1 enables nucleus sampling.
    Sampler(int vocab_size, float temperature, float topp, std::uint64_t seed);

    // May overwrite logits (scaled and softmaxed in place, as run.c does).
    int sample(float* logits);

    float random_f32();  // the next coin in [0, 1)

private:
    struct ProbIndex {
        float prob;
        int index;
    };
    int sample_topp(const float* probs, float coin);

    int vocab_size_;
    float temperature_;
    float topp_;
    std::uint64_t state_;
    std::vector<ProbIndex> candidates_;
};

int argmax(const float* x, int n);
void softmax(float* x, int n);  // in place, max-subtracted, sequential float sum

}  // namespace wb
