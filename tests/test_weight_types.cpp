// The weight-type table against the formats' definitions: blocks are packed here by plain code written from
// the GGUF block layouts (not by the table), their floats computed element by element, and compared.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/exec_context.h"
#include "kernels/kernel.h"
#include "kernels/matmul/f32.h"
#include "model/stack_rows.h"
#include "test_util.h"
#include "types/weight_types.h"

namespace wb {
namespace {

using Bytes = std::vector<std::uint8_t>;

// IEEE half from its fields, in double: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024.
double half_value(std::uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 31) return m == 0 ? sign * std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    if (e == 0) return sign * std::ldexp(m, -24);
    return sign * std::ldexp(1024 + m, e - 25);
}

bool is_half_nan(std::uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0; }
bool is_bf16_nan(std::uint16_t h) { return (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0; }

float bits_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

std::vector<float> rows_of(const WeightView& w, std::int64_t row0, std::int64_t rows) {
    std::vector<float> out(static_cast<std::size_t>(rows * w.n), -12345.0f);
    traits(w.dtype).dequantize_rows(w, row0, rows, out.data());
    return out;
}

// Checks that h is x rounded to nearest even among its format's values (decode gives a value; neighbours by +-1).
template <typename Decode>
void expect_nearest_even(float x, std::uint16_t h, Decode value, const char* what) {
    const double got = value(h);
    ASSERT_TRUE(std::isfinite(got)) << what << " of " << x;
    const double err = std::fabs(got - x);
    for (const int step : {-1, 1}) {
        const double alt = value(static_cast<std::uint16_t>(h + step));
        if (!std::isfinite(alt)) continue;  // past Inf, or a wrap from zero into the NaNs
        const double alt_err = std::fabs(alt - x);
        EXPECT_LE(err, alt_err) << what << " of " << x << " is not the nearest";
        if (err == alt_err) {
            EXPECT_EQ(h & 1, 0) << what << " tie of " << x << " is not to even";
        }
    }
}

// ---- fp16 and bf16

TEST(WeightTypes, HalfToFloatMatchesTheDefinitionForEveryBitPattern) {
    for (std::uint32_t i = 0; i < 65536; i++) {
        const auto h = static_cast<std::uint16_t>(i);
        const float f = fp16_to_f32(h);
        if (is_half_nan(h)) {
            EXPECT_TRUE(std::isnan(f)) << h;
            EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
            EXPECT_TRUE(is_half_nan(f32_to_fp16(f))) << h;
            continue;
        }
        EXPECT_EQ(static_cast<double>(f), half_value(h)) << h;
        EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;  // -0 stays -0
        EXPECT_EQ(f32_to_fp16(f), h) << "round trip of " << h;
    }
}

TEST(WeightTypes, FloatToHalfRoundsToNearestEven) {
    struct Case {
        float x;
        std::uint16_t h;
    };
    const float tiny = std::ldexp(1.0f, -24);  // the smallest half subnormal
    const Case cases[] = {
        {1.0f, 0x3C00},
        {-2.0f, 0xC000},
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {65504.0f, 0x7BFF},                        // largest finite
        {65519.99f, 0x7BFF},                       // below the midpoint to 65536
        {65520.0f, 0x7C00},                        // the midpoint ties to even: Inf
        {1e10f, 0x7C00},
        {-1e10f, 0xFC00},
        {std::numeric_limits<float>::infinity(), 0x7C00},
        {-std::numeric_limits<float>::infinity(), 0xFC00},
        {1.0f + std::ldexp(1.0f, -11), 0x3C00},   // tie, even stays
        {1.0f + 3 * std::ldexp(1.0f, -11), 0x3C02},  // tie, odd rounds up
        {1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20), 0x3C01},  // just past the tie
        {std::ldexp(1.0f, -14), 0x0400},           // smallest normal
        {tiny, 0x0001},
        {tiny / 2, 0x0000},                        // tie between 0 and the smallest subnormal: 0
        {std::nextafter(tiny / 2, 1.0f), 0x0001},
        {3 * tiny / 2, 0x0002},                    // 1.5 units: even is 2
        {5 * tiny / 2, 0x0002},                    // 2.5 units: even is 2
        {1023.5f * tiny, 0x0400},                  // largest subnormal's tie rounds up into the normals
        {-1022.5f * tiny, 0x83FE},
        {bits_float(0x00000001), 0x0000},          // fp32 subnormal
        {std::ldexp(1.0f, -30), 0x0000},
        {0.1f, 0x2E66},
        {-1234.5678f, 0xE4D3},
    };
    for (const Case& c : cases) EXPECT_EQ(f32_to_fp16(c.x), c.h) << c.x;
    const std::uint16_t nan = f32_to_fp16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_TRUE(is_half_nan(nan));
    EXPECT_TRUE(is_half_nan(f32_to_fp16(bits_float(0x7F800001))));  // a signalling NaN whose payload is all low bits
    EXPECT_TRUE(is_half_nan(f32_to_fp16(bits_float(0xFF800001))));
    EXPECT_NE(f32_to_fp16(bits_float(0xFF800001)) & 0x8000, 0);

    std::mt19937 rng(7);
    std::uniform_int_distribution<int> exponent(-26, 16);
    std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
    for (int i = 0; i < 20000; i++) {
        float x = std::ldexp(mantissa(rng), exponent(rng));
        if (i % 2) x = -x;
        if (std::fabs(x) >= 65520.0f) continue;
        expect_nearest_even(x, f32_to_fp16(x), half_value, "fp16");
    }
}

TEST(WeightTypes, Bfloat16RoundsToNearestEvenAndKeepsSpecials) {
    for (std::uint32_t i = 0; i < 65536; i++) {
        const auto h = static_cast<std::uint16_t>(i);
        const float f = bf16_to_f32(h);
        std::uint32_t u;
        std::memcpy(&u, &f, 4);
        EXPECT_EQ(u, i << 16);
        if (!is_bf16_nan(h)) {
            EXPECT_EQ(f32_to_bf16(f), h);
        }
    }
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie, even stays
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie, odd rounds up
    EXPECT_EQ(f32_to_bf16(bits_float(0x3F808001)), 0x3F81);           // just past the tie
    EXPECT_EQ(f32_to_bf16(bits_float(0x7F7FFFFF)), 0x7F80);           // largest fp32 rounds to Inf
    EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
    EXPECT_EQ(f32_to_bf16(bits_float(0x00018000)), 0x0002);           // subnormal tie, odd rounds up
    EXPECT_TRUE(is_bf16_nan(f32_to_bf16(bits_float(0x7F800001))));   // payload only in the dropped bits
    EXPECT_TRUE(is_bf16_nan(f32_to_bf16(bits_float(0xFFFFFFFF))));
    auto value = [](std::uint16_t h) { return static_cast<double>(bits_float(static_cast<std::uint32_t>(h) << 16)); };
    std::mt19937 rng(8);
    std::uniform_int_distribution<std::uint32_t> bits(0, 0x7F7F0000);
    for (int i = 0; i < 20000; i++) {
        const float x = bits_float(bits(rng) | (i % 2 ? 0x80000000u : 0u));
        expect_nearest_even(x, f32_to_bf16(x), value, "bf16");
    }
}

// ---- hand-built blocks

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v & 0xFF);
    b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}

// Every scale below has few significant bits, so each product in a format's formula is exact in fp32 and the
// expected values (computed in double) need no rounding: the comparison is exact whatever the evaluation order.
constexpr std::uint16_t kD = 0x2E60;     // 0.099609375
constexpr std::uint16_t kM = 0xBD00;     // -1.25
constexpr std::uint16_t kDmin = 0x2400;  // 0.015625

void expect_block(DType t, const Bytes& block, const std::vector<double>& want) {
    const WeightView w{block.data(), nullptr, 1, static_cast<int>(want.size()), t};
    const std::vector<float> got = rows_of(w, 0, 1);
    for (std::size_t i = 0; i < want.size(); i++) {
        EXPECT_EQ(static_cast<double>(got[i]), want[i]) << traits(t).name << " weight " << i;
    }
}

TEST(WeightTypes, PlainFloatRowsDecode) {
    const float values[] = {1.0f, -0.0f, 3.5f, -65504.0f};
    Bytes f32(16), f16(8), bf16(8);
    std::memcpy(f32.data(), values, 16);
    const std::uint16_t halves[] = {0x3C00, 0x8000, 0x4300, 0xFBFF};
    const std::uint16_t bhalves[] = {0x3F80, 0x8000, 0x4060, 0xC77F};  // bf16 -65280: nearest to -65504
    for (int i = 0; i < 4; i++) {
        put16(f16, 2 * i, halves[i]);
        put16(bf16, 2 * i, bhalves[i]);
    }
    expect_block(DType::f32, f32, {1.0, -0.0, 3.5, -65504.0});
    expect_block(DType::f16, f16, {1.0, -0.0, 3.5, -65504.0});
    expect_block(DType::bf16, bf16, {1.0, -0.0, 3.5, -65280.0});
}

TEST(WeightTypes, Q8_0BlockIsScaleThenSignedBytes) {
    Bytes b(34);
    put16(b, 0, kD);
    std::vector<double> want(32);
    for (int j = 0; j < 32; j++) {
        const int q = j == 31 ? 127 : j * 8 - 128;  // -128 .. 120, and 127
        b[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
        want[j] = q * half_value(kD);
    }
    expect_block(DType::q8_0, b, want);
}

// Values 0 .. 2^bits - 1 in no pattern, so a weight read from the wrong place shows.
std::vector<int> scrambled(int count, int bits, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<int> q(static_cast<std::size_t>(count));
    for (int& v : q) v = static_cast<int>(rng() % (1u << bits));
    return q;
}

// Weights 0..15 in the low nibbles of the 16 bytes, 16..31 in the high nibbles.
void put_nibbles(Bytes& b, std::size_t at, const int* q) {
    for (int j = 0; j < 16; j++) b[at + j] = static_cast<std::uint8_t>((q[j] & 15) | (q[j + 16] & 15) << 4);
}

TEST(WeightTypes, Q4_0AndQ4_1Blocks) {
    const std::vector<int> qv = scrambled(32, 4, 1);
    const int* q = qv.data();
    Bytes b0(18), b1(20);
    put16(b0, 0, kD);
    put_nibbles(b0, 2, q);
    put16(b1, 0, kD);
    put16(b1, 2, kM);
    put_nibbles(b1, 4, q);
    std::vector<double> want0(32), want1(32);
    for (int j = 0; j < 32; j++) {
        want0[j] = (q[j] - 8) * half_value(kD);
        want1[j] = q[j] * half_value(kD) + half_value(kM);
    }
    expect_block(DType::q4_0, b0, want0);
    expect_block(DType::q4_1, b1, want1);
}

TEST(WeightTypes, Q5_0AndQ5_1BlocksTakeTheFifthBitFromQh) {
    const std::vector<int> qv = scrambled(32, 5, 2);
    const int* q = qv.data();
    std::uint32_t qh = 0;
    for (int j = 0; j < 32; j++) qh |= static_cast<std::uint32_t>(q[j] >> 4) << j;
    Bytes b0(22), b1(24);
    put16(b0, 0, kD);
    for (int i = 0; i < 4; i++) b0[2 + i] = static_cast<std::uint8_t>(qh >> (8 * i));
    put_nibbles(b0, 6, q);
    put16(b1, 0, kD);
    put16(b1, 2, kM);
    for (int i = 0; i < 4; i++) b1[4 + i] = static_cast<std::uint8_t>(qh >> (8 * i));
    put_nibbles(b1, 8, q);
    std::vector<double> want0(32), want1(32);
    for (int j = 0; j < 32; j++) {
        want0[j] = (q[j] - 16) * half_value(kD);
        want1[j] = q[j] * half_value(kD) + half_value(kM);
    }
    expect_block(DType::q5_0, b0, want0);
    expect_block(DType::q5_1, b1, want1);
}

// The 12 bytes of eight 6-bit scales and mins of Q4_K/Q5_K: bytes 0-3 hold scales 0-3 in their low six bits,
// bytes 4-7 mins 0-3; bytes 8-11 hold scale 4+i (low nibble) and min 4+i (high nibble), whose top two bits
// sit in the top bits of byte i (scale) and byte 4+i (min).
void put_scales_mins(Bytes& b, std::size_t at, const int* sc, const int* mn) {
    for (int i = 0; i < 4; i++) {
        b[at + i] = static_cast<std::uint8_t>(sc[i] | (sc[4 + i] >> 4) << 6);
        b[at + 4 + i] = static_cast<std::uint8_t>(mn[i] | (mn[4 + i] >> 4) << 6);
        b[at + 8 + i] = static_cast<std::uint8_t>((sc[4 + i] & 15) | (mn[4 + i] & 15) << 4);
    }
}

constexpr int kScales[8] = {1, 63, 17, 42, 5, 60, 33, 48};
constexpr int kMins[8] = {0, 63, 2, 48, 31, 7, 59, 16};

TEST(WeightTypes, Q4_KSuperBlock) {
    Bytes b(144);
    put16(b, 0, kD);
    put16(b, 2, kDmin);
    put_scales_mins(b, 4, kScales, kMins);
    // Four 32-byte groups of quants: group g holds sub-block 2g in its low nibbles, 2g+1 in its high nibbles.
    const std::vector<int> q = scrambled(256, 4, 3);
    for (int g = 0; g < 4; g++) {
        for (int l = 0; l < 32; l++) b[16 + 32 * g + l] = static_cast<std::uint8_t>(q[64 * g + l] | q[64 * g + 32 + l] << 4);
    }
    std::vector<double> want(256);
    for (int i = 0; i < 256; i++) {
        want[i] = half_value(kD) * kScales[i / 32] * q[i] - half_value(kDmin) * kMins[i / 32];
    }
    expect_block(DType::q4_K, b, want);
}

TEST(WeightTypes, Q5_KSuperBlock) {
    Bytes b(176);
    put16(b, 0, kD);
    put16(b, 2, kDmin);
    put_scales_mins(b, 4, kScales, kMins);
    // qh[32] at 16: bit s of byte l is the fifth bit of weight 32 s + l; then the nibbles as in Q4_K, at 48.
    const std::vector<int> q = scrambled(256, 5, 4);
    for (int i = 0; i < 256; i++) b[16 + i % 32] |= static_cast<std::uint8_t>((q[i] >> 4) << (i / 32));
    for (int g = 0; g < 4; g++) {
        for (int l = 0; l < 32; l++) {
            b[48 + 32 * g + l] = static_cast<std::uint8_t>((q[64 * g + l] & 15) | (q[64 * g + 32 + l] & 15) << 4);
        }
    }
    std::vector<double> want(256);
    for (int i = 0; i < 256; i++) {
        want[i] = half_value(kD) * kScales[i / 32] * q[i] - half_value(kDmin) * kMins[i / 32];
    }
    expect_block(DType::q5_K, b, want);
}

TEST(WeightTypes, Q6_KSuperBlock) {
    const int scales[16] = {1, -3, 7, -12, 33, -64, 127, -128, 5, 9, -1, 2, 90, -45, 16, -7};
    const std::uint16_t d = 0x2E40;  // 0.0947265625
    const std::vector<int> q = scrambled(256, 6, 5);
    Bytes b(210);
    // Per half of 128 weights (ql from 64 h, qh from 128 + 32 h): for l < 32, ql[l] holds the low four bits of
    // weights l (low nibble) and l + 64 (high), ql[l + 32] those of l + 32 and l + 96; qh[l] holds the top two
    // bits of l, l + 32, l + 64, l + 96 at shifts 0, 2, 4, 6.
    for (int h = 0; h < 2; h++) {
        const int* x = q.data() + 128 * h;
        for (int l = 0; l < 32; l++) {
            b[64 * h + l] = static_cast<std::uint8_t>((x[l] & 15) | (x[l + 64] & 15) << 4);
            b[64 * h + l + 32] = static_cast<std::uint8_t>((x[l + 32] & 15) | (x[l + 96] & 15) << 4);
            b[128 + 32 * h + l] = static_cast<std::uint8_t>(x[l] >> 4 | (x[l + 32] >> 4) << 2 | (x[l + 64] >> 4) << 4 |
                                                           (x[l + 96] >> 4) << 6);
        }
    }
    for (int s = 0; s < 16; s++) b[192 + s] = static_cast<std::uint8_t>(static_cast<std::int8_t>(scales[s]));
    put16(b, 208, d);
    std::vector<double> want(256);
    for (int i = 0; i < 256; i++) want[i] = half_value(d) * scales[i / 16] * (q[i] - 32);
    expect_block(DType::q6_K, b, want);
}

TEST(WeightTypes, Q8V2GroupsRunAlongTheFlattenedMatrixWithUnalignedScales) {
    const int rows = 4, cols = 12, group = 8, count = rows * cols;  // groups straddle rows
    Bytes file(1 + count + count / group * 4);
    std::vector<int> q(count);
    std::vector<float> scale(count / group);
    for (int e = 0; e < count; e++) {
        q[e] = (e * 29) % 255 - 127;
        file[1 + e] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q[e]));
    }
    for (int g = 0; g < count / group; g++) {
        scale[g] = 0.5f + 0.25f * g;
        std::memcpy(file.data() + 1 + count + 4 * g, &scale[g], 4);  // at an odd address
    }
    const WeightView w{file.data() + 1, reinterpret_cast<const float*>(file.data() + 1 + count), rows, cols, DType::q8_v2,
                       group};
    const std::vector<float> all = rows_of(w, 0, rows);
    for (int e = 0; e < count; e++) EXPECT_EQ(all[e], static_cast<float>(q[e]) * scale[e / group]) << e;
    const std::vector<float> row3 = rows_of(w, 3, 1);
    for (int j = 0; j < cols; j++) EXPECT_EQ(row3[j], static_cast<float>(q[36 + j]) * scale[(36 + j) / group]) << j;
}

// ---- the table

TEST(WeightTypes, TableRowsMatchGgufIdsBlocksAndNames) {
    struct Row {
        DType t;
        const char* name;
        int gguf_id, block, bytes;
    };
    // From GGUF's ggml_type list and the block structs' sizes.
    const Row spec[] = {
        {DType::f32, "F32", 0, 1, 4},        {DType::f16, "F16", 1, 1, 2},         {DType::bf16, "BF16", 30, 1, 2},
        {DType::q8_0, "Q8_0", 8, 32, 34},    {DType::q4_0, "Q4_0", 2, 32, 18},     {DType::q4_1, "Q4_1", 3, 32, 20},
        {DType::q5_0, "Q5_0", 6, 32, 22},    {DType::q5_1, "Q5_1", 7, 32, 24},     {DType::q4_K, "Q4_K", 12, 256, 144},
        {DType::q5_K, "Q5_K", 13, 256, 176}, {DType::q6_K, "Q6_K", 14, 256, 210},
    };
    EXPECT_EQ(weight_types().size(), std::size(spec) + 1);  // and q8_v2
    for (const Row& r : spec) {
        const TypeTraits& t = traits(r.t);
        EXPECT_EQ(t.type, r.t);
        EXPECT_STREQ(t.name, r.name);
        EXPECT_EQ(t.gguf_id, r.gguf_id) << r.name;
        EXPECT_EQ(t.block, r.block) << r.name;
        EXPECT_EQ(t.block_bytes, r.bytes) << r.name;
        EXPECT_EQ(find_gguf_type(r.gguf_id), &t) << r.name;
        EXPECT_EQ(find_type(r.name), &t) << r.name;
        EXPECT_NE(t.dequantize_rows, nullptr) << r.name;
        EXPECT_EQ(row_bytes(r.t, 4096), static_cast<std::uint64_t>(4096 / r.block * r.bytes)) << r.name;
    }
    EXPECT_EQ(traits(DType::q8_v2).gguf_id, -1);
    EXPECT_EQ(find_type("q4_k"), &traits(DType::q4_K));
    EXPECT_EQ(find_type("bF16"), &traits(DType::bf16));
    EXPECT_EQ(find_type("q8_0"), &traits(DType::q8_0));
    EXPECT_EQ(find_type(""), nullptr);
    EXPECT_EQ(find_type("Q4_K_M"), nullptr);  // a file's mix, not a type
    EXPECT_EQ(find_type("IQ2_XXS"), nullptr);
    for (const int id : {-1, 4, 5, 9, 10, 11, 15, 16, 19, 29, 31, 1000}) EXPECT_EQ(find_gguf_type(id), nullptr) << id;
    EXPECT_EQ(row_bytes(DType::q6_K, 11008), 43u * 210u);
    EXPECT_EQ(gguf_type_name(12), "Q4_K");
    EXPECT_EQ(gguf_type_name(16), "IQ2_XXS");
    EXPECT_EQ(gguf_type_name(35), "TQ2_0");
    EXPECT_EQ(gguf_type_name(39), "type 39");
    EXPECT_EQ(gguf_type_name(-1), "type -1");
}

// A view of `rows` rows of random bytes (n weights per row) and the bytes behind it.
struct RandomView {
    Bytes bytes;
    Bytes scales;  // q8_v2
    WeightView w;
};

RandomView random_view(DType t, int rows, int n, unsigned seed) {
    RandomView r;
    std::mt19937 rng(seed);
    const TypeTraits& tt = traits(t);
    r.bytes.resize(static_cast<std::size_t>(rows) * (n / tt.block) * tt.block_bytes);
    for (auto& b : r.bytes) b = static_cast<std::uint8_t>(rng());
    r.w = WeightView{r.bytes.data(), nullptr, rows, n, t};
    if (t == DType::q8_v2) {
        r.w.group_size = 16;
        r.scales.resize(static_cast<std::size_t>(rows) * n / 16 * 4);
        for (std::size_t g = 0; g < r.scales.size() / 4; g++) {
            const float s = 0.01f * static_cast<float>(g + 1);
            std::memcpy(r.scales.data() + 4 * g, &s, 4);
        }
        r.w.scales = reinterpret_cast<const float*>(r.scales.data());
    }
    return r;
}

int some_n(const TypeTraits& t) { return t.block == 1 ? 48 : 2 * t.block; }  // q8_v2 rows: 3 groups of 16

bool same_bits(const float* a, const float* b, std::size_t count) { return std::memcmp(a, b, count * sizeof(float)) == 0; }

TEST(WeightTypes, RowsAreAddressedByRowBytes) {
    for (const TypeTraits& t : weight_types()) {
        const int rows = 5, n = some_n(t);
        const RandomView r = random_view(t.type, rows, n, 11);
        const std::vector<float> all = rows_of(r.w, 0, rows);
        const std::vector<float> row3 = rows_of(r.w, 3, 1), rows12 = rows_of(r.w, 1, 2);
        EXPECT_TRUE(same_bits(row3.data(), all.data() + 3 * n, static_cast<std::size_t>(n))) << t.name;
        EXPECT_TRUE(same_bits(rows12.data(), all.data() + n, 2 * static_cast<std::size_t>(n))) << t.name;
        if (t.type == DType::q8_v2) continue;  // its scales follow the flattened matrix, not the row
        // Row 3 alone, as a one-row view starting 3 rows of (n / block) blocks in.
        WeightView alone = r.w;
        alone.data = r.bytes.data() + 3 * (n / t.block) * t.block_bytes;
        alone.d = 1;
        EXPECT_TRUE(same_bits(rows_of(alone, 0, 1).data(), row3.data(), static_cast<std::size_t>(n))) << t.name;
    }
}

TEST(WeightTypes, PrepareF32IsDequantizeRows) {
    for (const TypeTraits& t : weight_types()) {
        const RandomView r = random_view(t.type, 4, some_n(t), 12);
        ExecContext ctx(1);
        const PackedWeight p = matmul::prepare_f32(r.w, ctx);
        EXPECT_EQ(p.d, r.w.d);
        EXPECT_EQ(p.n, r.w.n);
        const std::vector<float> want = rows_of(r.w, 0, r.w.d);
        EXPECT_TRUE(same_bits(static_cast<const float*>(p.data), want.data(), want.size())) << t.name;
        if (t.type == DType::f32) {
            EXPECT_EQ(p.data, r.w.data);  // a view, no copy
        }
    }
}

// ---- quantisers

// A K-quant's bound (below): codes 0 .. nmax (Q6_K: -32 .. 31 as nmax 32 over one sign's range), sub-block scales
// in scale_levels steps of the super-block's factor.
double k_bound(double amax, int nmax, int scale_levels, bool asymmetric) {
    const double range = asymmetric ? 2 * amax : amax, step = range / (nmax - 0.9);
    return 1.01 * (step / 2 + nmax * step / scale_levels / 2 + (asymmetric ? amax / scale_levels / 2 : 0));
}

// Largest error allowed for weight x of a block whose largest magnitude is amax. The block types get 1e-3 of a step
// more for the fp32 rounding of x / d.
const std::map<DType, std::function<double(double x, double amax)>> kBounds = {
    {DType::f32, [](double, double) { return 0.0; }},
    // Half an ulp: relative for normal halves, 2^-25 among the subnormals.
    {DType::f16, [](double x, double) { return std::max(std::fabs(x) * std::ldexp(1.0, -11), std::ldexp(1.0, -25)); }},
    {DType::bf16, [](double x, double) { return std::fabs(x) * std::ldexp(1.0, -8); }},
    // Half a step of amax/127, plus the scale's own fp16 rounding carried through |q| <= 127.
    {DType::q8_0, [](double, double amax) { return amax / 127 * (0.501 + 127 * std::ldexp(1.0, -11)); }},
    // One step of amax/8 (the weight opposite the extreme one is clamped from +8 to 7), plus the fp16 scale.
    {DType::q4_0, [](double, double amax) { return amax / 8 * (1.001 + 8 * std::ldexp(1.0, -11)); }},
    // K-quants, amax over the super-block: half a step of a range of at most 2 amax over nmax - 0.9 levels (the
    // widest grid searched), the range lost at the top when a 6-bit (Q6_K: 8-bit) sub-block scale rounds down, and
    // half a step of the 6-bit minimum; 1% for the fp16 factors.
    {DType::q4_K, [](double, double amax) { return k_bound(amax, 15, 63, true); }},
    {DType::q5_K, [](double, double amax) { return k_bound(amax, 31, 63, true); }},
    {DType::q6_K, [](double, double amax) { return k_bound(amax, 32, 127, false); }},
};

TEST(WeightTypes, QuantizeThenDequantizeStaysWithinTheTypesBound) {
    std::mt19937 rng(13);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (const TypeTraits& t : weight_types()) {
        if (t.quantize_row == nullptr) continue;
        const auto bound = kBounds.find(t.type);
        ASSERT_NE(bound, kBounds.end()) << t.name << " writes weights but has no error bound in this test";
        const int rows = 3, n = 512;
        std::vector<float> x(static_cast<std::size_t>(rows) * n);
        for (float& v : x) v = normal(rng);
        for (int j = 0; j < 64; j++) x[static_cast<std::size_t>(n) + j] = 0.0f;  // whole zero blocks
        x[2 * static_cast<std::size_t>(n) + 5] = 3.0f;                           // an outlier
        Bytes q(static_cast<std::size_t>(row_bytes(t.type, n)) * rows);
        for (int r = 0; r < rows; r++) t.quantize_row(x.data() + r * n, q.data() + r * row_bytes(t.type, n), n);
        const WeightView w{q.data(), nullptr, rows, n, t.type};
        const std::vector<float> back = rows_of(w, 0, rows);
        const int block = std::max(t.block, 32);
        for (std::size_t b = 0; b < x.size(); b += block) {
            double amax = 0;
            for (int j = 0; j < block; j++) amax = std::max(amax, std::fabs(static_cast<double>(x[b + j])));
            for (int j = 0; j < block; j++) {
                const double want = x[b + j], got = back[b + j];
                EXPECT_LE(std::fabs(got - want), bound->second(want, amax)) << t.name << " weight " << b + j;
                if (amax == 0) {
                    EXPECT_EQ(got, 0.0) << t.name;
                }
            }
        }
    }
}

// Parts quantised in `type` from normal values: rows d_i x n each, the bytes kept alive by `store`.
WeightView quantised_part(DType type, int d, int n, unsigned seed, std::vector<Bytes>& store) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> x(static_cast<std::size_t>(d) * n);
    for (float& v : x) v = normal(rng);
    const std::uint64_t row = row_bytes(type, n);
    store.emplace_back(static_cast<std::size_t>(row) * d);
    for (int r = 0; r < d; r++) traits(type).quantize_row(x.data() + static_cast<std::size_t>(r) * n, store.back().data() + r * row, n);
    return WeightView{store.back().data(), nullptr, d, n, type};
}

TEST(WeightTypes, StackedRowsDequantizeAsThePartsOneAfterAnother) {
    std::vector<Bytes> store;
    const int n = 64;
    auto expect_stacked = [&](std::vector<WeightView> parts, DType want_type) {
        const StackedWeight s = stack_rows(parts);
        EXPECT_EQ(s.view.dtype, want_type);
        std::vector<float> want;
        for (const WeightView& p : parts) {
            const std::vector<float> rows = rows_of(p, 0, p.d);
            want.insert(want.end(), rows.begin(), rows.end());
        }
        ASSERT_EQ(s.view.d * s.view.n, static_cast<int>(want.size()));
        EXPECT_EQ(rows_of(s.view, 0, s.view.d), want);
    };
    // One type: its bytes stacked as they are (Q, K and V of a grouped-query layer: 4, 2 and 2 rows).
    for (DType t : {DType::f32, DType::q8_0, DType::q4_0}) {
        expect_stacked({quantised_part(t, 4, n, 1, store), quantised_part(t, 2, n, 2, store), quantised_part(t, 2, n, 3, store)}, t);
    }
    // Types that differ (a Q4_K_M file's Q6_K value weight among Q4_K ones): fp32 rows.
    expect_stacked({quantised_part(DType::q8_0, 3, n, 4, store), quantised_part(DType::f16, 2, n, 5, store)}, DType::f32);

    // q8_v2: values then scales, each part whole groups; a part that ends inside a group goes to fp32.
    const int group = 32;
    std::vector<float> scales(8);
    for (std::size_t g = 0; g < scales.size(); g++) scales[g] = 0.01f * static_cast<float>(g + 1);
    Bytes values(8 * group);
    for (std::size_t e = 0; e < values.size(); e++) values[e] = static_cast<std::uint8_t>((e * 37) % 256);
    const WeightView a{values.data(), scales.data(), 2, n, DType::q8_v2, group};                          // 4 groups
    const WeightView b{values.data() + 4 * group, scales.data() + 4, 2, n, DType::q8_v2, group};         // 4 groups
    const WeightView c{values.data(), scales.data(), 1, 48, DType::q8_v2, 16};                           // 3 groups
    expect_stacked({a, b}, DType::q8_v2);
    const WeightView ragged{values.data(), scales.data(), 1, n, DType::q8_v2, 48};  // 64 values: 1.33 groups
    expect_stacked({ragged, a}, DType::f32);
    EXPECT_THROW(stack_rows(std::vector<WeightView>{a, c}), std::invalid_argument);  // 64 and 48 columns
    EXPECT_THROW(stack_rows(std::vector<WeightView>{}), std::invalid_argument);
}

TEST(WeightTypes, Q4_0MapsTheExtremeWeightToMinusEight) {
    std::vector<float> x(32);
    for (int j = 0; j < 32; j++) x[j] = 0.01f * static_cast<float>(j - 10);
    x[7] = -0.4f;  // the extreme, negative: d = 0.05
    Bytes q(18);
    traits(DType::q4_0).quantize_row(x.data(), q.data(), 32);
    EXPECT_EQ(q[0] | q[1] << 8, f32_to_fp16(-0.4f / -8.0f));
    EXPECT_EQ(q[2 + 7] & 15, 0);  // -0.4 / 0.05 + 8 = 0
    EXPECT_EQ(q[2 + 10] & 15, 8);  // zero
    EXPECT_EQ(q[2 + 15] >> 4, 12);  // x[31] = 0.21: 4.2 + 8 rounds to 12
    x[7] = 0.4f;  // the extreme, positive: d = -0.05, and -0.1 (x[0]) maps to 2 + 8
    traits(DType::q4_0).quantize_row(x.data(), q.data(), 32);
    EXPECT_EQ(q[0] | q[1] << 8, f32_to_fp16(-0.05f));
    EXPECT_EQ(q[2 + 7] & 15, 0);
    EXPECT_EQ(q[2] & 15, 10);
}

}  // namespace
}  // namespace wb
