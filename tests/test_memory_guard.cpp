#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "kernels/registry.h"
#include "model/checkpoint.h"
#include "model/formats/llama2c.h"
#include "model/memory_guard.h"
#include "test_util.h"

namespace wb {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
const Config kLlama7B{4096, 11008, 32, 32, 32, 32000, 4096, false};

const MatmulKernel& naive() { return *find_matmul("matmul.naive"); }

std::string refusal(const std::string& name, const Config& c, const MatmulKernel& k, std::uint64_t available) {
    try {
        require_memory(name, c, k, available);
    } catch (const ResourceError& e) {
        return e.what();
    }
    return "";
}

TEST(MemoryGuard, Llama7BNeedsItsWeightsAndCache) {
    const MemoryNeed need = memory_need(kLlama7B, naive());
    EXPECT_EQ(need.kv_cache, 32ull * 4096 * 4096 * 2 * 4);
    EXPECT_GT(need.weights, 26'900'000'000ull);  // 6.74 G fp32 parameters, mapped, no copy
    EXPECT_LT(need.weights, 27'100'000'000ull);
    EXPECT_LT(need.scratch, need.kv_cache / 10);
    const MemoryNeed q8 = q8_memory_need(kLlama7B);
    EXPECT_LT(q8.weights, need.weights / 3);
    EXPECT_EQ(q8.kv_cache, need.kv_cache);
}

TEST(MemoryGuard, TheKvCacheTakesTheBytesOfItsType) {
    const std::uint64_t rows = 32ull * 4096 * 2;  // layers x positions x (key, value), each row 4096 elements
    EXPECT_EQ(memory_need(kLlama7B, naive(), CacheShape{1, 0, DType::f16}).kv_cache, rows * 4096 * 2);
    EXPECT_EQ(memory_need(kLlama7B, naive(), CacheShape{1, 0, DType::bf16}).kv_cache, rows * 4096 * 2);
    EXPECT_EQ(memory_need(kLlama7B, naive(), CacheShape{1, 0, DType::q8_0}).kv_cache, rows * 4096 / 32 * 34);
    EXPECT_EQ(memory_need(kLlama7B, naive(), CacheShape{3, 1000, DType::q8_0}).kv_cache, 32ull * 3 * 1000 * 2 * 4096 / 32 * 34);
}

TEST(MemoryGuard, ARefusalNamesTheCacheInItsTypeAndTheOthers) {
    std::string why;
    try {
        require_memory("llama-2-7b.bin", kLlama7B, naive(), 23 * kGiB, CacheShape{1, 0, DType::f16});
    } catch (const ResourceError& e) {
        why = e.what();
    }
    EXPECT_NE(why.find("KV cache 2.0 GiB as f16 (as f32 4.0 GiB, bf16 2.0 GiB, q8_0 1.1 GiB)"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

TEST(MemoryGuard, KernelsThatRepackAtLoadNeedTheirCopyToo) {
    const Config c = *find_shape("stories15M");
    const std::uint64_t mapped = memory_need(c, naive()).weights;
    EXPECT_EQ(memory_need(c, *find_matmul("matmul.blas")).weights, mapped);  // a view of the mapping
    const MatmulKernel& tiled = *find_matmul("matmul.tiled");
    EXPECT_GE(memory_need(c, tiled).weights, mapped + c.matmul_params() * 4);
}

TEST(MemoryGuard, RefusesFp32Llama7BOnA24GiBMachineAndPointsToInt8) {
    const std::string why = refusal("llama-2-7b.bin", kLlama7B, naive(), 23 * kGiB);
    EXPECT_NE(why.find("llama-2-7b.bin: needs 29.1 GiB of memory"), std::string::npos) << why;
    EXPECT_NE(why.find("23.0 GiB is available"), std::string::npos) << why;
    EXPECT_NE(why.find("int8 (Q8_0) form would need"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

TEST(MemoryGuard, SaysNothingOfInt8WhenThatWouldNotFitEither) {
    const std::string why = refusal("llama-2-7b.bin", kLlama7B, naive(), 8 * kGiB);
    ASSERT_FALSE(why.empty());
    EXPECT_EQ(why.find("int8"), std::string::npos) << why;
}

TEST(MemoryGuard, AcceptsWhatFits) {
    const Config c = *find_shape("stories260K");
    EXPECT_NO_THROW(require_memory("stories260K", c, naive(), kGiB));
    EXPECT_NE(refusal("stories260K", c, naive(), 1 << 20).find("stories260K: needs 2.1 MiB"), std::string::npos);
}

TEST(MemoryGuard, ReadsAvailableMemoryAndDiskSpace) {
    const std::optional<std::uint64_t> memory = available_memory();
    ASSERT_TRUE(memory.has_value());
    EXPECT_GT(*memory, 0u);
    const std::optional<std::uint64_t> disk = disk_space_for(test::temp_path("new.bin"));
    ASSERT_TRUE(disk.has_value());
    EXPECT_GT(*disk, 0u);
    EXPECT_FALSE(disk_space_for("/nonexistent-dir/x.bin").has_value());
}

TEST(MemoryGuard, RefusesAFileTheDiskCannotHold) {
    EXPECT_NO_THROW(require_disk("out.bin", 100, 100));
    try {
        require_disk("out.bin", 3 * kGiB, kGiB / 2);
        ADD_FAILURE() << "accepted 3 GiB on 0.5 GiB of disk";
    } catch (const ResourceError& e) {
        EXPECT_STREQ(e.what(), "out.bin: needs 3.0 GiB of disk but only 512.0 MiB is free there; not writing it");
    }
}

// A full fp32 Llama-2-7B checkpoint as a sparse file: right size, no blocks, so only its header is real.
std::string sparse_llama7b() {
    const std::string path = test::temp_path("llama-2-7b.bin");
    const std::int32_t header[7] = {4096, 11008, 32, 32, 32, -32000, 4096};  // negative vocab: separate classifier
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, header, sizeof header), static_cast<ssize_t>(sizeof header));
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(llama2c::v0_file_bytes(kLlama7B))), 0);
    ::close(fd);
    return path;
}

TEST(MemoryGuard, GenerateRefusesAModelThatDoesNotFitWithOneLine) {
    const std::optional<std::uint64_t> memory = available_memory();
    if (!memory || *memory >= memory_need(kLlama7B, naive()).total()) {
        GTEST_SKIP() << "this machine could hold a full fp32 Llama-2-7B";
    }
    const test::Output r = test::run("generate", {sparse_llama7b(), "--variant", "naive", "-n", "2"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("llama-2-7b.bin: needs"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
}

}  // namespace
}  // namespace wb
