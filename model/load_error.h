// Bad input in a model or tokenizer file: a one-line message naming the file and what is wrong.
#pragma once

#include <stdexcept>

namespace wb {

struct LoadError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace wb
