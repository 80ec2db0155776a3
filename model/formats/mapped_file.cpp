#include "model/formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "model/load_error.h"

namespace wb {

Bytes map_file(const std::string& path, const std::string& what) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw LoadError(path + ": cannot open " + what + ": " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw LoadError(path + ": not a regular file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        ::close(fd);
        return Bytes{std::make_shared<int>(0), nullptr, 0};
    }
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) throw LoadError(path + ": mmap failed: " + std::strerror(errno));
    std::shared_ptr<const void> owner(map, [size](const void* p) { munmap(const_cast<void*>(p), size); });
    return Bytes{owner, static_cast<const std::byte*>(map), size};
}

Bytes hold_bytes(std::vector<std::byte> bytes) {
    auto owned = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    return Bytes{std::shared_ptr<const void>(owned, owned->data()), owned->data(), owned->size()};
}

}  // namespace wb
