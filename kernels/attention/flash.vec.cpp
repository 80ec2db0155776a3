// Flash attention: one pass over the KV cache in tiles of keys with an online softmax (running max
// and running sum per row, the accumulated values rescaled when the max grows), so no score vector
// longer than a tile exists. A block is a run of query rows of one span (one sequence) times the heads
// of one kv head group; all its rows use a tile of keys and values while it is packed in L1, so batched prefill reads the
// cache once per block instead of once per row and head.
//
// Scores of a block with at least a batch of rows run across rows (queries transposed once per block,
// each key broadcast), so the softmax needs no horizontal reductions; smaller blocks (decode) score
// one row at a time with simd_head's dot products.
//
// A cache stored as f16, bf16 or q8_0 is read tile by tile into the packed fp32 tile, so every block packs then;
// decode instead reads f16 and q8_0 in place and converts each batch in registers as it loads it (AVX2, AVX-512).
//
// Decode (every span one query row) runs the blocks of all kv heads of a span together, tile after tile, so a tile's
// cache rows are read whole and once while each head takes its slice of them from L2; a long span is cut into runs
// of keys on different threads whose partial softmaxes are merged after (flash-decoding).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention/kv_rows.h"
#include "kernels/attention/simd_head.h"
#include "kernels/exec_context.h"
#include "kernels/kernel.h"

namespace wb::WB_ISA_NS::attention {
namespace {

using simd_head::Batch;
using simd_head::kLanes;
using simd_head::round_up_to_lanes;

constexpr int kTileBytes = 16 * 1024;  // a packed tile of keys and values fits in L1 with room to spare
constexpr int kUnpackedTileKeys = 256;  // a block of few rows reads the cache in place, in long tiles
constexpr int kDecodeTileBytes = 32 * 1024;  // a decode tile's keys and values of one kv head as fp32 (64 keys of 64)
constexpr int kMinPieceKeys = 256;     // a decode piece's fewest keys: shorter runs cost more to merge than they save
constexpr int kPiecesPerThread = 2;    // decode pieces a thread takes, so spans of unequal length still balance
constexpr int kBlockRows = 64;         // target rows (query rows x heads of the group) per block
constexpr int kBlocksPerThread = 4;    // enough blocks that each thread's equal piece holds its share of the causal triangle
constexpr int kRowsPerPass = 4;        // rows whose weighted sums share each load of values
constexpr int kKeysPerPass = 8;        // keys whose scores share each load of transposed queries
// The most rows score_rows takes a pass, against kLanes / kGroupRows keys: one fold of kLanes dot products.
constexpr int kGroupRows = kLanes / 4;
constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
// The levels whose vectors convert f16 (F16C) and sign-extend int8 as they load: decode reads those caches in place.
#if defined(__AVX512F__) || defined(__AVX2__)
constexpr bool kConvertsInPlace = true;
#else
constexpr bool kConvertsInPlace = false;
#endif

struct Blocking {
    int queries_per_block;  // consecutive query rows of one span in a block
    int max_rows;   // rows of a full block: queries_per_block x heads per kv head
    int tile_size;  // keys per tile, a multiple of kLanes
    bool converts;  // the cache is not f32: tiles are converted as they are packed, or in registers when in_place
    bool decode;    // every span is one query row: a span's kv heads run together (run_decode)
    bool in_place;  // decode reading an f16 or q8_0 cache in place, each batch converted as it is loaded
    // An f32 cache's tiles are copied out only for blocks of more rows than one pass of weighted sums takes:
    // fewer rows would spend as long copying a tile as using it (decode of 1-4 heads per kv head).
    bool packed() const { return !in_place && (converts || max_rows > kRowsPerPass); }

    int blocks_per_kv_head(const AttentionSpan& s) const { return (s.rows + queries_per_block - 1) / queries_per_block; }
};

Blocking choose_blocking(const AttentionArgs& a, int threads) {
    const int group = a.n_heads / a.n_kv_heads;
    int longest = 1;
    for (const AttentionSpan& s : a.spans) longest = std::max(longest, s.rows);
    int queries = std::clamp(kBlockRows / group, 1, longest);
    auto blocks = [&] {
        int n = 0;
        for (const AttentionSpan& s : a.spans) n += (s.rows + queries - 1) / queries * a.n_kv_heads;
        return n;
    };
    while (queries > 1 && blocks() < kBlocksPerThread * threads) queries = (queries + 1) / 2;
    const int rows = queries * group;
    const int packed_keys = kTileBytes / (2 * static_cast<int>(sizeof(float)) * a.head_size) / kLanes * kLanes;
    const bool slices = kConvertsInPlace && a.head_size % kLanes == 0 &&
                        (a.kv_type == DType::f16 || (a.kv_type == DType::q8_0 && a.head_size % 32 == 0));
    Blocking b{queries, rows, kUnpackedTileKeys, a.kv_type != DType::f32, longest == 1, longest == 1 && slices};
    // Blocks of many rows reuse a packed tile from L1; few rows (decode) pack only to convert, in long tiles that
    // spread each tile's softmax update over more keys.
    if (b.max_rows > kRowsPerPass) b.tile_size = std::clamp(packed_keys, kLanes, 128);
    // Decode runs every kv head over a tile before the next: its rows of all heads stay in L2 that long.
    if (b.decode) b.tile_size = std::clamp(kDecodeTileBytes / (2 * static_cast<int>(sizeof(float)) * a.head_size) / kLanes * kLanes, kLanes, kUnpackedTileKeys);
    return b;
}

// Where each array of a block lives in its scratch, in floats; every array starts 64-byte aligned. The work arrays
// serve one tile at a time and blocks run one after another share them; the state (the online softmax so far) is
// the block's own from its first tile to its last.
struct ScratchLayout {
    std::size_t weights, k_packed, v_packed, work;                        // from the work's start
    std::size_t queries_t, acc, row_max, row_sum, keep, row_last, state;  // from the state's start

    ScratchLayout(const Blocking& b, int head_size) {
        const std::size_t rows = static_cast<std::size_t>(round_up_to_lanes(b.max_rows));
        const std::size_t tile = static_cast<std::size_t>(b.tile_size);
        const std::size_t hs = static_cast<std::size_t>(head_size);
        std::size_t at = 0;
        auto take = [&at](std::size_t n) {
            const std::size_t offset = at;
            at += (n + 15) / 16 * 16;
            return offset;
        };
        const std::size_t packed = b.packed() ? tile * hs : 0;
        weights = take(rows * tile);  // [rows x tile] or, scored across rows, [tile x rows]
        k_packed = take(packed);      // [tile x hs]
        v_packed = take(packed);      // [tile x hs]
        work = at;
        at = 0;
        queries_t = take(hs * rows);  // [hs x rows] scaled queries, transposed
        acc = take(rows * hs);        // [rows x hs] sum of p_t * v_t, relative to the row max
        row_max = take(rows);         // largest score so far
        row_sum = take(rows);         // sum of exp(score - row max) so far
        keep = take(rows);            // this tile's rescaling of acc and row_sum
        row_last = take(rows);        // last key a row sees, as a float
        state = at;
    }
};

// dst[t * head_size ..] = elements first .. first+head_size-1 of cache row t (rows row_bytes apart, stored as
// type) as fp32, for keys t in [0, n), zeros up to key n_padded: cache rows map a tile onto few L1 sets; packed,
// the tile is contiguous.
void pack_tile(DType type, const std::byte* rows, std::size_t row_bytes, int first, int n, int n_padded,
               int head_size, float* dst) {
    // A head's slice of each row is a line or two, rows apart: too scattered for the hardware prefetcher alone.
    const std::size_t slice = static_cast<std::size_t>(wb::row_bytes(type, first - first % traits(type).block));
    kv::read_rows(type, rows, row_bytes, first, head_size, n, slice, simd_head::kAheadKeys, dst);
    std::fill(dst + n * head_size, dst + n_padded * head_size, 0.0f);
}

// scores[t * rows + r] = k_t . q_r for kKeysPerPass keys from `first_key` and RowBatches batches of rows
// from `first_row`, q_r read from queries_t[i * rows + r] (transposed): each query load feeds eight keys.
template <int RowBatches>
void score_keys(const float* keys, int head_size, const float* queries_t, int rows, int first_row,
                int first_key, float* scores) {
    Batch acc[kKeysPerPass][RowBatches];
    for (auto& per_key : acc) {
        for (Batch& x : per_key) x = Batch(0.0f);
    }
    const float* k = keys + first_key * head_size;
    for (int i = 0; i < head_size; i++) {
        Batch q[RowBatches];
        for (int b = 0; b < RowBatches; b++) q[b] = Batch::load_aligned(queries_t + i * rows + first_row + b * kLanes);
        for (int t = 0; t < kKeysPerPass; t++) {
            const Batch key(k[t * head_size + i]);
            for (int b = 0; b < RowBatches; b++) acc[t][b] = vec::fmadd(key, q[b], acc[t][b]);
        }
    }
    for (int t = 0; t < kKeysPerPass; t++) {
        for (int b = 0; b < RowBatches; b++) {
            acc[t][b].store_aligned(scores + (first_key + t) * rows + first_row + b * kLanes);
        }
    }
}

// A head's slice of a cache row read as fp32 batches in registers: load(slice, b) is elements b*kLanes .. of the
// slice, converted from the cache's type. A decode tile reads f16 and q8_0 slices this way in place, with no
// converted copy; a packed tile (and an f32 cache) is F32Slice.
struct F32Slice {
    static Batch load(const std::byte* slice, int b) {
        return Batch::load_unaligned(reinterpret_cast<const float*>(slice) + b * kLanes);
    }
};

#if defined(__AVX512F__) || defined(__AVX2__)
struct F16Slice {
    static Batch load(const std::byte* slice, int b) {
#if defined(__AVX512F__)
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(slice + b * kLanes * 2)));
#else
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(slice + b * kLanes * 2)));
#endif
    }
};

// The slice starts at a block (head sizes a multiple of 32): blocks of an fp16 scale and 32 int8 codes.
struct Q8Slice {
    static constexpr int kBatchesPerBlock = 32 / kLanes;
    static Batch load(const std::byte* slice, int b) {
        const std::byte* block = slice + b / kBatchesPerBlock * 34;
        const auto* codes = reinterpret_cast<const __m128i*>(block + 2 + b % kBatchesPerBlock * kLanes);
#if defined(__AVX512F__)
        const Batch c = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(codes)));
#else
        const Batch c = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(codes)));
#endif
        return Batch(kv::half(block)) * c;
    }
};
#endif

// Asks for the slice of the row `ahead` rows on (slice_bytes from slice): rows read in place lie a cache row apart,
// pages apart for long rows, too scattered for the hardware prefetcher.
inline void prefetch_slice(const std::byte* slice, std::size_t row_bytes, int ahead, int slice_bytes) {
    const std::byte* p = slice + static_cast<std::size_t>(ahead) * row_bytes;
    for (int i = 0; i < slice_bytes; i += 64) __builtin_prefetch(p + i);
    __builtin_prefetch(p + slice_bytes - 1);
}

// out[r * out_stride + t] = scale * (q_r . k_t) for Rows rows and keys t in [0, n_keys) (key t's slice at
// keys + t * row_bytes), head_size a multiple of kLanes: each batch of a key is loaded once for all the rows (the
// query heads sharing a kv head), and the kLanes dot products of a pass (Rows rows x kLanes / Rows keys) fold
// into one batch. Batches is head_size / kLanes where the loop over a head is unrolled (so the accumulators stay
// in registers), 0 for any other size. slice_bytes > 0: the keys are in the cache, prefetched kAheadKeys on.
template <int Batches, int Rows, class Slice>
void score_rows(const float* const* q, const std::byte* keys, std::size_t row_bytes, int n_keys, int head_size,
                float scale, int slice_bytes, float* out, int out_stride) {
    constexpr int kKeys = kLanes / Rows;
    const int head_batches = Batches > 0 ? Batches : head_size / kLanes;
    alignas(64) float lanes[kLanes];
    int t = 0;
    for (; t + kKeys <= n_keys; t += kKeys) {
        if (slice_bytes > 0) {
#pragma GCC unroll 16
            for (int j = 0; j < kKeys; j++) prefetch_slice(keys + (t + j) * row_bytes, row_bytes, simd_head::kAheadKeys, slice_bytes);
        }
        Batch acc[kLanes];  // acc[bit_reverse(r * kKeys + j)]: row r, key t + j, so the fold lands it in that lane
#pragma GCC unroll 16
        for (Batch& x : acc) x = Batch(0.0f);
#pragma GCC unroll 8
        for (int b = 0; b < head_batches; b++) {
            Batch k[kKeys];
#pragma GCC unroll 16
            for (int j = 0; j < kKeys; j++) k[j] = Slice::load(keys + (t + j) * row_bytes, b);
#pragma GCC unroll 16
            for (int r = 0; r < Rows; r++) {
                const Batch qr = Batch::load_unaligned(q[r] + b * kLanes);
#pragma GCC unroll 16
                for (int j = 0; j < kKeys; j++) {
                    Batch& x = acc[simd_head::bit_reverse(r * kKeys + j)];
                    x = vec::fmadd(qr, k[j], x);
                }
            }
        }
        (simd_head::sum_each_bit_reversed(acc) * scale).store_aligned(lanes);
        for (int r = 0; r < Rows; r++) {
            for (int j = 0; j < kKeys; j++) out[r * out_stride + t + j] = lanes[r * kKeys + j];
        }
    }
    for (; t < n_keys; t++) {
        Batch acc[Rows];
        for (Batch& x : acc) x = Batch(0.0f);
        for (int b = 0; b < head_batches; b++) {
            const Batch k = Slice::load(keys + t * row_bytes, b);
            for (int r = 0; r < Rows; r++) acc[r] = vec::fmadd(Batch::load_unaligned(q[r] + b * kLanes), k, acc[r]);
        }
        for (int r = 0; r < Rows; r++) out[r * out_stride + t] = scale * xsimd::hadd(acc[r]);
    }
}

template <int Rows, class Slice>
void score_rows(const float* const* q, const std::byte* keys, std::size_t row_bytes, int n_keys, int head_size,
                float scale, int slice_bytes, float* out, int out_stride) {
    switch (head_size / kLanes) {
    case 2: score_rows<2, Rows, Slice>(q, keys, row_bytes, n_keys, head_size, scale, slice_bytes, out, out_stride); return;
    case 3: score_rows<3, Rows, Slice>(q, keys, row_bytes, n_keys, head_size, scale, slice_bytes, out, out_stride); return;
    case 4: score_rows<4, Rows, Slice>(q, keys, row_bytes, n_keys, head_size, scale, slice_bytes, out, out_stride); return;
    case 8: score_rows<8, Rows, Slice>(q, keys, row_bytes, n_keys, head_size, scale, slice_bytes, out, out_stride); return;
    default: score_rows<0, Rows, Slice>(q, keys, row_bytes, n_keys, head_size, scale, slice_bytes, out, out_stride); return;
    }
}

// The rows of a group score_rows takes a pass: the most (up to kGroupRows) that divide the group, so every pass is
// whole; one row a pass scores kLanes keys.
constexpr int score_rows_per_pass(int group) {
    int rows = kGroupRows;
    while (group % rows != 0) rows /= 2;
    return rows;
}

// For Rows rows r: acc_r[first*kLanes .. (first+Width)*kLanes) <- keep[r] * acc_r + sum_t p(r, t) * v_t over t in
// [0, n), v_t converted in registers from its slice at v + t * row_bytes (prefetched kAheadKeys on).
template <int Rows, int Width, class Slice>
void accumulate_slice_panel(simd_head::Weights p, const float* keep, const std::byte* v, std::size_t row_bytes, int n,
                            int first, int slice_bytes, float* acc, int acc_stride) {
    Batch sum[Rows][Width];
    for (int r = 0; r < Rows; r++) {
        for (int b = 0; b < Width; b++) sum[r][b] = Batch::load_unaligned(acc + r * acc_stride + (first + b) * kLanes) * keep[r];
    }
    for (int t = 0; t < n; t++) {
        const std::byte* row = v + t * row_bytes;
        if (first == 0) prefetch_slice(row, row_bytes, simd_head::kAheadKeys, slice_bytes);
        Batch vt[Width];
        for (int b = 0; b < Width; b++) vt[b] = Slice::load(row, first + b);
        for (int r = 0; r < Rows; r++) {
            const Batch pr(p(r, t));
            for (int b = 0; b < Width; b++) sum[r][b] = vec::fmadd(pr, vt[b], sum[r][b]);
        }
    }
    for (int r = 0; r < Rows; r++) {
        for (int b = 0; b < Width; b++) sum[r][b].store_unaligned(acc + r * acc_stride + (first + b) * kLanes);
    }
}

// accumulate_slice_panel over the whole head (a multiple of kLanes), four batches a pass over the keys.
template <int Rows, class Slice>
void accumulate_slices(simd_head::Weights p, const float* keep, const std::byte* v, std::size_t row_bytes, int n,
                       int head_size, int slice_bytes, float* acc) {
    const int batches = head_size / kLanes;
    int b = 0;
    for (; b + 4 <= batches; b += 4) accumulate_slice_panel<Rows, 4, Slice>(p, keep, v, row_bytes, n, b, slice_bytes, acc, head_size);
    switch (batches - b) {
    case 3: accumulate_slice_panel<Rows, 3, Slice>(p, keep, v, row_bytes, n, b, slice_bytes, acc, head_size); break;
    case 2: accumulate_slice_panel<Rows, 2, Slice>(p, keep, v, row_bytes, n, b, slice_bytes, acc, head_size); break;
    case 1: accumulate_slice_panel<Rows, 1, Slice>(p, keep, v, row_bytes, n, b, slice_bytes, acc, head_size); break;
    default: break;
    }
}

// acc_r <- keep[r] * acc_r + sum_t p(r, t) * v_t for `count` (1 .. kRowsPerPass) rows, over the first n keys.
void accumulate_rows(simd_head::Weights p, const float* keep, const float* v, long stride, int n, int head_size,
                     int count, float* acc) {
    switch (count) {
    case 4: simd_head::accumulate_values<4>(p, keep, v, stride, n, head_size, acc, head_size); break;
    case 3: simd_head::accumulate_values<3>(p, keep, v, stride, n, head_size, acc, head_size); break;
    case 2: simd_head::accumulate_values<2>(p, keep, v, stride, n, head_size, acc, head_size); break;
    default: simd_head::accumulate_values<1>(p, keep, v, stride, n, head_size, acc, head_size); break;
    }
}

// One block of a span: kv head block / blocks_per_kv_head and queries_per_block of the span's query rows from
// (block % blocks_per_kv_head) * queries_per_block; its row r is query r / group, head r % group of the group.
// It attends to the keys from key_begin up to key_end (or the last its rows see), tile by tile.
class Block {
public:
    Block(const AttentionArgs& a, const Blocking& b, const AttentionSpan& span, int block, float* work, float* state,
          int key_begin = 0, int key_end = std::numeric_limits<int>::max())
        : a_(a),
          span_(span),
          k_cache_(a.stored_keys(span)),
          v_cache_(a.stored_values(span)),
          row_bytes_(a.row_bytes()),
          group_(a.n_heads / a.n_kv_heads),
          kv_head_(block / b.blocks_per_kv_head(span)),
          first_query_(block % b.blocks_per_kv_head(span) * b.queries_per_block),
          rows_(std::min(b.queries_per_block, span.rows - first_query_) * group_),
          rows_padded_(round_up_to_lanes(rows_)),
          hs_(a.head_size),
          stride_(static_cast<long>(a.n_kv_heads) * a.head_size),
          tile_size_(b.tile_size),
          last_key_(span.pos + first_query_ + (rows_ - 1) / group_),
          key_begin_(key_begin),
          key_end_(std::min(key_end, last_key_ + 1)),
          across_rows_(b.packed() && rows_ >= kLanes),  // scoring across rows reads a packed tile
          pack_(b.packed()),
          in_place_(b.in_place) {
        const ScratchLayout l(b, hs_);
        weights_ = work + l.weights;
        k_packed_ = work + l.k_packed;
        v_packed_ = work + l.v_packed;
        queries_t_ = state + l.queries_t;
        acc_ = state + l.acc;
        row_max_ = state + l.row_max;
        row_sum_ = state + l.row_sum;
        keep_ = state + l.keep;
        row_last_ = state + l.row_last;
    }

    void run() {
        start();
        for (int t0 = key_begin_; t0 < key_end_; t0 += tile_size_) tile(t0);
        finish();
    }

    void start() {
        std::fill(acc_, acc_ + rows_ * hs_, 0.0f);
        std::fill(row_max_, row_max_ + rows_padded_, kMinusInfinity);
        std::fill(row_sum_, row_sum_ + rows_padded_, 0.0f);
        if (!across_rows_) return;
        // Padding rows (zero queries) see every key, so their scores stay finite.
        for (int r = 0; r < rows_padded_; r++) row_last_[r] = static_cast<float>(r < rows_ ? span_.pos + query(r) : last_key_);
        const float scale = simd_head::score_scale(hs_);
        std::fill(queries_t_, queries_t_ + hs_ * rows_padded_, 0.0f);
        // Row r's query is contiguous with the other heads of its group: rows in steps of a group.
        for (int r = 0; r < rows_; r += group_) {
            const float* heads = q(r);
            for (int j = 0; j < group_; j++) {
                for (int i = 0; i < hs_; i++) queries_t_[i * rows_padded_ + r + j] = scale * heads[j * hs_ + i];
            }
        }
    }

    // The keys from t0 (up to a tile of them, none past key_end): scores, the online softmax update, weighted sums.
    void tile(int t0) {
        const int in_cache = std::min(tile_size_, key_end_ - t0);
        if (in_place_) {
            tile_in_place(t0, in_cache);
            return;
        }
        const std::byte* k_rows = k_cache_ + t0 * row_bytes_;
        const std::byte* v_rows = v_cache_ + t0 * row_bytes_;
        // Unpacked, the cache is f32 and read in place.
        const float* k_tile = reinterpret_cast<const float*>(k_rows) + kv_head_ * hs_;
        const float* v_tile = reinterpret_cast<const float*>(v_rows) + kv_head_ * hs_;
        long tile_stride = stride_;
        if (pack_) {
            const int padded = std::min(tile_size_, (in_cache + kKeysPerPass - 1) / kKeysPerPass * kKeysPerPass);
            pack_tile(a_.kv_type, k_rows, row_bytes_, kv_head_ * hs_, in_cache, padded, hs_, k_packed_);
            pack_tile(a_.kv_type, v_rows, row_bytes_, kv_head_ * hs_, in_cache, in_cache, hs_, v_packed_);
            k_tile = k_packed_;
            v_tile = v_packed_;
            tile_stride = hs_;
        }
        // Rows whose query pos + i comes before t0 see none of this tile.
        const int first_row = std::max(0, t0 - span_.pos - first_query_) * group_;
        if (across_rows_) {
            score_across_rows(k_tile, t0, in_cache);
        } else {
            score_by_row(k_tile, tile_stride, t0, in_cache, first_row);
        }
        const simd_head::Weights p = across_rows_ ? simd_head::Weights{weights_, 1, rows_padded_}
                                                  : simd_head::Weights{weights_, tile_size_, 1};
        // A pass's last row sees the most keys; the others have zero weights there.
        for (int r = first_row; r < rows_; r += kRowsPerPass) {
            const int count = std::min(kRowsPerPass, rows_ - r);
            accumulate_rows(p.from_row(r), keep_ + r, v_tile, tile_stride, visible(r + count - 1, t0, in_cache), hs_,
                            count, acc_ + r * hs_);
        }
    }

    // Takes in another block of the same rows over other keys: both softmaxes rescaled to the larger max.
    void absorb(const Block& other) {
        for (int r = 0; r < rows_; r++) {
            const float new_max = std::max(row_max_[r], other.row_max_[r]);
            const float mine = std::exp(row_max_[r] - new_max), theirs = std::exp(other.row_max_[r] - new_max);
            float* acc = acc_ + r * hs_;
            const float* add = other.acc_ + r * hs_;
            for (int i = 0; i < hs_; i++) acc[i] = mine * acc[i] + theirs * add[i];
            row_sum_[r] = mine * row_sum_[r] + theirs * other.row_sum_[r];
            row_max_[r] = new_max;
        }
    }

    void finish() {
        for (int r = 0; r < rows_; r++) {
            float* out = a_.out + (q(r) - a_.q);
            std::copy(acc_ + r * hs_, acc_ + (r + 1) * hs_, out);
            simd_head::scale_in_place(out, hs_, 1.0f / row_sum_[r]);
        }
    }

private:
    void tile_in_place(int t0, int in_cache) {
#if defined(__AVX512F__) || defined(__AVX2__)
        if (a_.kv_type == DType::q8_0) {
            tile_in_place<Q8Slice>(t0, in_cache);
        } else {
            tile_in_place<F16Slice>(t0, in_cache);
        }
#else
        (void)t0, (void)in_cache;  // Blocking chooses in_place only where the levels have the Slice loads
#endif
    }

    // A decode tile read from the cache in place: the scores, the softmax update, the weighted sums in passes of
    // kRowsPerPass rows.
    template <class Slice>
    void tile_in_place(int t0, int in_cache) {
        const std::size_t offset = static_cast<std::size_t>(wb::row_bytes(a_.kv_type, kv_head_ * hs_));
        const std::byte* k = k_cache_ + t0 * row_bytes_ + offset;
        const std::byte* v = v_cache_ + t0 * row_bytes_ + offset;
        const int slice = static_cast<int>(wb::row_bytes(a_.kv_type, hs_));
        score_group<Slice>(k, row_bytes_, in_cache, slice);
        update_softmax(0, t0, in_cache);
        const simd_head::Weights p{weights_, tile_size_, 1};
        for (int r = 0; r < rows_; r += kRowsPerPass) {
            const int n = visible(r, t0, in_cache);
            switch (std::min(kRowsPerPass, rows_ - r)) {
            case 4: accumulate_slices<4, Slice>(p.from_row(r), keep_ + r, v, row_bytes_, n, hs_, slice, acc_ + r * hs_); break;
            case 3: accumulate_slices<3, Slice>(p.from_row(r), keep_ + r, v, row_bytes_, n, hs_, slice, acc_ + r * hs_); break;
            case 2: accumulate_slices<2, Slice>(p.from_row(r), keep_ + r, v, row_bytes_, n, hs_, slice, acc_ + r * hs_); break;
            default: accumulate_slices<1, Slice>(p.from_row(r), keep_ + r, v, row_bytes_, n, hs_, slice, acc_ + r * hs_); break;
            }
        }
    }

    int query(int r) const { return first_query_ + r / group_; }
    const float* q(int r) const {
        const int head = kv_head_ * group_ + r % group_;
        return a_.q + static_cast<long>(span_.first_row + query(r)) * a_.n_heads * hs_ + head * hs_;
    }
    // Keys of the tile from t0 that row r sees: its query pos + i sees keys up to pos + i.
    int visible(int r, int t0, int in_cache) const { return std::min(in_cache, span_.pos + query(r) - t0 + 1); }

    // Dot products (several rows of a kv head's group a pass where the head size allows), then per row the mask and
    // the online softmax update with horizontal max and sum.
    void score_by_row(const float* k_tile, long tile_stride, int t0, int in_cache, int first_row) {
        int grouped = first_row;
        if (hs_ % kLanes == 0) {
            grouped += (rows_ - first_row) / kGroupRows * kGroupRows;
            score_passes<kGroupRows, F32Slice>(reinterpret_cast<const std::byte*>(k_tile), tile_stride * sizeof(float),
                                               in_cache, first_row, grouped,
                                               pack_ ? 0 : hs_ * static_cast<int>(sizeof(float)));
        }
        const float scale = simd_head::score_scale(hs_);
        for (int r = grouped; r < rows_; r++) {
            // Keys past what the row sees but in the cache cost nothing extra in whole batches; they are masked below.
            simd_head::scores(q(r), k_tile, tile_stride, std::min(round_up_to_lanes(visible(r, t0, in_cache)), in_cache),
                              hs_, scale, weights_ + r * tile_size_);
        }
        update_softmax(first_row, t0, in_cache);
    }

    // Rows from..to (a multiple of Rows apart) scored by score_rows in passes of Rows, each row against all in_cache
    // keys of the tile at k (rows row_bytes apart, a slice of slice_bytes prefetched when it is the cache's); keys a
    // row does not see are masked after.
    template <int Rows, class Slice>
    void score_passes(const std::byte* k, std::size_t row_bytes, int in_cache, int from, int to, int slice_bytes) {
        const float scale = simd_head::score_scale(hs_);
        for (int r = from; r < to; r += Rows) {
            const float* q_rows[Rows];
            for (int j = 0; j < Rows; j++) q_rows[j] = q(r + j);
            score_rows<Rows, Slice>(q_rows, k, row_bytes, in_cache, hs_, scale, slice_bytes, weights_ + r * tile_size_,
                                    tile_size_);
        }
    }

    // All rows of a decode block (its group), in passes of the most rows that divide the group.
    template <class Slice>
    void score_group(const std::byte* k, std::size_t row_bytes, int in_cache, int slice_bytes) {
        switch (score_rows_per_pass(group_)) {
        case 4: score_passes<4, Slice>(k, row_bytes, in_cache, 0, rows_, slice_bytes); return;
        case 2: score_passes<2, Slice>(k, row_bytes, in_cache, 0, rows_, slice_bytes); return;
        default: score_passes<1, Slice>(k, row_bytes, in_cache, 0, rows_, slice_bytes); return;
        }
    }

    // Per row from first_row: the scores of keys it does not see masked, then the online softmax update with
    // horizontal max and sum.
    void update_softmax(int first_row, int t0, int in_cache) {
        const int padded = round_up_to_lanes(in_cache);
        for (int r = first_row; r < rows_; r++) {
            const int seen = visible(r, t0, in_cache);
            float* w = weights_ + r * tile_size_;
            std::fill(w + seen, w + padded, kMinusInfinity);
            const float new_max = std::max(row_max_[r], simd_head::max_of(w, padded));
            keep_[r] = std::exp(row_max_[r] - new_max);  // 0 on the first tile: row_max is -inf
            row_sum_[r] = row_sum_[r] * keep_[r] + simd_head::exp_shifted(w, padded, new_max);
            row_max_[r] = new_max;
        }
    }

    // All rows at once, keys x rows: scores from the transposed queries, then the online softmax update
    // with rows in the lanes, so max and sum run down the keys.
    void score_across_rows(const float* k_tile, int t0, int in_cache) {
        for (int t = 0; t < in_cache; t += kKeysPerPass) {
            int r = 0;
            for (; r + 2 * kLanes <= rows_padded_; r += 2 * kLanes) {
                score_keys<2>(k_tile, hs_, queries_t_, rows_padded_, r, t, weights_);
            }
            if (r < rows_padded_) score_keys<1>(k_tile, hs_, queries_t_, rows_padded_, r, t, weights_);
        }
        const Batch minus_infinity(kMinusInfinity);
        for (int r = 0; r < rows_padded_; r += kLanes) {
            const Batch last = Batch::load_aligned(row_last_ + r);
            Batch tile_max = minus_infinity;
            for (int t = 0; t < in_cache; t++) {
                float* s = weights_ + t * rows_padded_ + r;
                const Batch masked =
                    xsimd::select(Batch(static_cast<float>(t0 + t)) > last, minus_infinity, Batch::load_aligned(s));
                masked.store_aligned(s);
                tile_max = xsimd::max(tile_max, masked);
            }
            const Batch old_max = Batch::load_aligned(row_max_ + r);
            const Batch new_max = xsimd::max(old_max, tile_max);
            const Batch keep = xsimd::exp(old_max - new_max);  // 0 on the first tile: old_max is -inf
            Batch sum(0.0f);
            for (int t = 0; t < in_cache; t++) {
                float* s = weights_ + t * rows_padded_ + r;
                const Batch e = xsimd::exp(Batch::load_aligned(s) - new_max);
                e.store_aligned(s);
                sum += e;
            }
            (Batch::load_aligned(row_sum_ + r) * keep + sum).store_aligned(row_sum_ + r);
            new_max.store_aligned(row_max_ + r);
            keep.store_aligned(keep_ + r);
        }
    }

    const AttentionArgs& a_;
    const AttentionSpan& span_;
    const std::byte *k_cache_, *v_cache_;
    const std::size_t row_bytes_;
    const int group_, kv_head_, first_query_, rows_, rows_padded_, hs_;
    const long stride_;
    const int tile_size_, last_key_, key_begin_, key_end_;
    const bool across_rows_, pack_, in_place_;
    float *weights_, *k_packed_, *v_packed_, *queries_t_, *acc_, *row_max_, *row_sum_, *keep_, *row_last_;
};

// Every block to the end of its keys, the blocks in parallel.
void run_blocks(const AttentionArgs& a, const Blocking& b, ExecContext& ctx) {
    const ScratchLayout layout(b, a.head_size);
    auto blocks = [&](const AttentionSpan& s) { return b.blocks_per_kv_head(s) * a.n_kv_heads; };
    // Blocks are numbered span after span; a piece of them walks the spans from its first block's span on.
    int total = 0;
    long keys = 0;  // keys read by all blocks, each key once per kv head's block
    for (const AttentionSpan& s : a.spans) {
        total += blocks(s);
        keys += static_cast<long>(blocks(s)) * (s.pos + s.rows);
    }
    const double block_bytes = static_cast<double>(keys) / total * 2 * static_cast<double>(a.row_bytes()) / a.n_kv_heads;
    ctx.parallel_for(total, block_bytes, [&](int begin, int end, int slot) {
        float* work = ctx.scratch(layout.work + layout.state, slot);
        std::size_t span = 0;
        int first = 0;  // the first block of a.spans[span]
        for (int block = begin; block < end; block++) {
            while (block >= first + blocks(a.spans[span])) first += blocks(a.spans[span++]);
            Block(a, b, a.spans[span], block - first, work, work + layout.work).run();
        }
    });
}

// Decode: pieces of one span's keys, all its kv heads' blocks in each; the pieces of a span merged at the end.
void run_decode(const AttentionArgs& a, const Blocking& b, ExecContext& ctx) {
    struct Piece {
        int span, key_begin, key_end;
    };
    const ScratchLayout layout(b, a.head_size);
    long keys = 0;
    for (const AttentionSpan& s : a.spans) keys += s.pos + 1;
    const long wanted = ctx.threads() > 1 ? kPiecesPerThread * ctx.threads() : 1;
    const long longest_piece = std::max<long>(kMinPieceKeys, (keys + wanted - 1) / wanted);
    const int piece_keys = static_cast<int>(std::min<long>(std::numeric_limits<int>::max() / 2,
                                                           (longest_piece + b.tile_size - 1) / b.tile_size * b.tile_size));
    std::vector<Piece> pieces;
    std::vector<int> first_piece;  // of each span, and one past the last
    for (int i = 0; i < static_cast<int>(a.spans.size()); i++) {
        first_piece.push_back(static_cast<int>(pieces.size()));
        const int span_keys = a.spans[i].pos + 1;
        for (int t = 0; t < span_keys; t += piece_keys) pieces.push_back({i, t, std::min(span_keys, t + piece_keys)});
    }
    first_piece.push_back(static_cast<int>(pieces.size()));
    auto pieces_of = [&](std::size_t span) { return first_piece[span + 1] - first_piece[span]; };

    const std::size_t piece_state = layout.state * static_cast<std::size_t>(a.n_kv_heads);
    float* states = ctx.shared_scratch(piece_state * pieces.size());
    auto block = [&](int p, int kv_head, float* work) {
        const Piece& piece = pieces[static_cast<std::size_t>(p)];
        return Block(a, b, a.spans[static_cast<std::size_t>(piece.span)], kv_head, work,
                     states + p * piece_state + static_cast<std::size_t>(kv_head) * layout.state, piece.key_begin,
                     piece.key_end);
    };
    const double piece_bytes = static_cast<double>(keys) / static_cast<double>(pieces.size()) * 2 * static_cast<double>(a.row_bytes());
    ctx.parallel_for(static_cast<int>(pieces.size()), piece_bytes, [&](int begin, int end, int slot) {
        float* work = ctx.scratch(layout.work, slot);
        std::vector<Block> heads;
        for (int p = begin; p < end; p++) {
            const Piece& piece = pieces[static_cast<std::size_t>(p)];
            heads.clear();
            for (int h = 0; h < a.n_kv_heads; h++) heads.push_back(block(p, h, work));
            for (Block& h : heads) h.start();
            for (int t0 = piece.key_begin; t0 < piece.key_end; t0 += b.tile_size) {
                for (Block& h : heads) h.tile(t0);
            }
            if (pieces_of(static_cast<std::size_t>(piece.span)) == 1) {
                for (Block& h : heads) h.finish();
            }
        }
    });
    float* work = ctx.scratch(layout.work, 0);
    for (std::size_t i = 0; i < a.spans.size(); i++) {
        if (pieces_of(i) == 1) continue;
        for (int h = 0; h < a.n_kv_heads; h++) {
            Block merged = block(first_piece[i], h, work);
            for (int p = first_piece[i] + 1; p < first_piece[i + 1]; p++) merged.absorb(block(p, h, work));
            merged.finish();
        }
    }
}

void run_flash(const AttentionArgs& a, ExecContext& ctx) {
    const Blocking b = choose_blocking(a, ctx.threads());
    if (b.decode) {
        run_decode(a, b, ctx);
    } else {
        run_blocks(a, b, ctx);
    }
}

}  // namespace

extern const AttentionKernel flash{
    "attention.flash",
    "tiles of keys with an online softmax, a block of query rows x grouped heads per tile; TBB over blocks, "
    "decode split along positions",
    1e-5f, kIsa, run_flash, kKvAll,
};

}  // namespace wb::WB_ISA_NS::attention
