// A file's bytes, memory-mapped read-only (or held in a buffer), kept alive by a shared owner that the
// views into it share.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace wb {

struct Bytes {
    std::shared_ptr<const void> owner;  // the mapping or the buffer
    const std::byte* data = nullptr;
    std::size_t size = 0;
};

// Throws LoadError ("PATH: cannot open WHAT: reason") for a missing, unreadable or non-regular file.
// An empty file maps to size 0.
Bytes map_file(const std::string& path, const std::string& what);
Bytes hold_bytes(std::vector<std::byte> bytes);

}  // namespace wb
