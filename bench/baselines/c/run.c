/*
 * Baseline Llama-2 inference in one C99 file, following the algorithm of
 * Karpathy's llama2.c (run.c): float32 weights mmap'd from a llama2.c
 * checkpoint, plain loops, one token per forward call.
 *
 * Usage: run checkpoint.bin [-t temperature] [-p topp] [-s seed] [-n steps]
 *                           [-i prompt] [-z tokenizer]
 *
 * Build (see ../CMakeLists.txt for the three official flavours):
 *   cc -O3 -ffp-contract=off -std=c99 -o run run.c -lm
 *   cc -Ofast -march=native -fopenmp -std=c99 -o runomp run.c -lm
 *
 * The last line on stderr is the timing line described in harness/SCHEMA.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------------------ */
/* errors                                                                    */

static void die(const char *fmt, const char *arg) {
    fputs("error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory%s", "");
    return p;
}

/* ------------------------------------------------------------------------ */
/* model                                                                     */

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} Config;

typedef struct {
    const float *tok_emb;   /* vocab x dim */
    const float *rms_att;   /* layers x dim */
    const float *rms_ffn;   /* layers x dim */
    const float *wq;        /* layers x dim x dim */
    const float *wk;        /* layers x kv_dim x dim */
    const float *wv;        /* layers x kv_dim x dim */
    const float *wo;        /* layers x dim x dim */
    const float *w1;        /* layers x hidden x dim */
    const float *w2;        /* layers x dim x hidden */
    const float *w3;        /* layers x hidden x dim */
    const float *rms_final; /* dim */
    const float *wcls;      /* vocab x dim */
} Weights;

typedef struct {
    float *x, *xb, *xb2, *hb, *hb2, *q, *att, *logits;
    float *key_cache, *value_cache; /* layers x seq_len x kv_dim */
} State;

typedef struct {
    Config c;
    Weights w;
    State s;
    int kv_dim, head_size;
    void *map;
    size_t map_size;
} Model;

#define V1_MAGIC 0x616b3432u
#define V1_HEADER_BYTES 256

static int32_t read_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void load_model(Model *m, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("cannot open checkpoint %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) die("cannot stat checkpoint %s", path);
    size_t size = (size_t)st.st_size;
    if (size < 28) die("checkpoint %s is too small to hold a header", path);
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) die("cannot mmap checkpoint %s", path);
    const unsigned char *bytes = (const unsigned char *)map;

    uint32_t magic;
    memcpy(&magic, bytes, 4);
    int v1 = magic == V1_MAGIC;
    int shared = 1;
    size_t header;
    Config *c = &m->c;
    if (v1) {
        if (size < V1_HEADER_BYTES) die("checkpoint %s is truncated (v1 header)", path);
        int version = read_i32(bytes + 4);
        if (version != 1) die("checkpoint %s: only export versions 0 (legacy) and 1 (fp32) are supported", path);
    }
    const unsigned char *h = bytes + (v1 ? 8 : 0); /* the seven config ints */
    c->dim = read_i32(h + 0);
    c->hidden_dim = read_i32(h + 4);
    c->n_layers = read_i32(h + 8);
    c->n_heads = read_i32(h + 12);
    c->n_kv_heads = read_i32(h + 16);
    c->vocab_size = read_i32(h + 20);
    c->seq_len = read_i32(h + 24);
    if (v1) {
        shared = bytes[36] != 0;
        header = V1_HEADER_BYTES;
    } else {
        shared = c->vocab_size > 0;
        if (c->vocab_size < 0) c->vocab_size = -c->vocab_size;
        header = 28;
    }
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->vocab_size <= 0 || c->seq_len <= 0 ||
        c->dim % c->n_heads != 0 || c->n_heads % c->n_kv_heads != 0 ||
        (c->dim / c->n_heads) % 2 != 0 || c->dim > (1 << 20) || c->hidden_dim > (1 << 22) ||
        c->n_layers > 4096 || c->vocab_size > (1 << 24) || c->seq_len > (1 << 24))
        die("checkpoint %s has an invalid header (not a llama2.c checkpoint?)", path);

    m->head_size = c->dim / c->n_heads;
    m->kv_dim = c->dim * c->n_kv_heads / c->n_heads;
    uint64_t L = (uint64_t)c->n_layers, D = (uint64_t)c->dim, H = (uint64_t)c->hidden_dim;
    uint64_t V = (uint64_t)c->vocab_size, KV = (uint64_t)m->kv_dim;
    uint64_t freq = v1 ? 0 : 2 * ((uint64_t)c->seq_len * (uint64_t)m->head_size / 2);
    uint64_t floats = V * D + 2 * L * D + L * D * D * 2 + L * D * KV * 2 + L * H * D * 3 + D + freq +
                      (shared ? 0 : V * D);
    uint64_t expect = header + floats * 4;
    if ((uint64_t)size != expect) {
        fprintf(stderr, "error: checkpoint %s has %llu bytes but its header implies %llu (truncated or wrong format)\n",
                path, (unsigned long long)size, (unsigned long long)expect);
        exit(1);
    }

    const float *p = (const float *)(bytes + header);
    Weights *w = &m->w;
    if (v1) {
        w->rms_att = p; p += L * D;
        w->rms_ffn = p; p += L * D;
        w->rms_final = p; p += D;
        w->tok_emb = p; p += V * D;
        w->wq = p; p += L * D * D;
        w->wk = p; p += L * KV * D;
        w->wv = p; p += L * KV * D;
        w->wo = p; p += L * D * D;
        w->w1 = p; p += L * H * D;
        w->w2 = p; p += L * D * H;
        w->w3 = p; p += L * H * D;
        w->wcls = shared ? w->tok_emb : p;
    } else {
        w->tok_emb = p; p += V * D;
        w->rms_att = p; p += L * D;
        w->wq = p; p += L * D * D;
        w->wk = p; p += L * KV * D;
        w->wv = p; p += L * KV * D;
        w->wo = p; p += L * D * D;
        w->rms_ffn = p; p += L * D;
        w->w1 = p; p += L * H * D;
        w->w2 = p; p += L * D * H;
        w->w3 = p; p += L * H * D;
        w->rms_final = p; p += D;
        p += freq; /* precomputed RoPE tables, unused */
        w->wcls = shared ? w->tok_emb : p;
    }
    m->map = map;
    m->map_size = size;

    State *s = &m->s;
    s->x = xcalloc(D, sizeof(float));
    s->xb = xcalloc(D, sizeof(float));
    s->xb2 = xcalloc(D, sizeof(float));
    s->hb = xcalloc(H, sizeof(float));
    s->hb2 = xcalloc(H, sizeof(float));
    s->q = xcalloc(D, sizeof(float));
    s->att = xcalloc((size_t)c->n_heads * (size_t)c->seq_len, sizeof(float));
    s->logits = xcalloc(V, sizeof(float));
    s->key_cache = xcalloc(L * (uint64_t)c->seq_len * KV, sizeof(float));
    s->value_cache = xcalloc(L * (uint64_t)c->seq_len * KV, sizeof(float));
}

/* ------------------------------------------------------------------------ */
/* forward pass                                                              */

static void rmsnorm(float *out, const float *x, const float *weight, int n) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) out[j] = weight[j] * (ss * x[j]);
}

/* out[d] = W[d x n] . x[n] */
static void matmul(float *out, const float *x, const float *w, int n, int d) {
    int i;
#ifdef _OPENMP
#pragma omp parallel for private(i)
#endif
    for (i = 0; i < d; i++) {
        const float *row = w + (size_t)i * (size_t)n;
        float val = 0.0f;
        for (int j = 0; j < n; j++) val += row[j] * x[j];
        out[i] = val;
    }
}

static void softmax(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

static float *forward(Model *m, int token, int pos) {
    const Config *c = &m->c;
    const Weights *w = &m->w;
    State *s = &m->s;
    const int dim = c->dim, hidden = c->hidden_dim, kv_dim = m->kv_dim, hs = m->head_size;
    const int group = c->n_heads / c->n_kv_heads;
    const size_t layer_cache = (size_t)c->seq_len * (size_t)kv_dim;

    memcpy(s->x, w->tok_emb + (size_t)token * dim, (size_t)dim * sizeof(float));

    for (int l = 0; l < c->n_layers; l++) {
        rmsnorm(s->xb, s->x, w->rms_att + (size_t)l * dim, dim);

        float *kc = s->key_cache + l * layer_cache + (size_t)pos * kv_dim;
        float *vc = s->value_cache + l * layer_cache + (size_t)pos * kv_dim;
        matmul(s->q, s->xb, w->wq + (size_t)l * dim * dim, dim, dim);
        matmul(kc, s->xb, w->wk + (size_t)l * kv_dim * dim, dim, kv_dim);
        matmul(vc, s->xb, w->wv + (size_t)l * kv_dim * dim, dim, kv_dim);

        /* rotary position embedding on pairs (i, i+1) */
        for (int i = 0; i < dim; i += 2) {
            int hd = i % hs;
            float freq = 1.0f / powf(10000.0f, hd / (float)hs);
            float angle = pos * freq;
            float cr = cosf(angle), ci = sinf(angle);
            float a = s->q[i], b = s->q[i + 1];
            s->q[i] = a * cr - b * ci;
            s->q[i + 1] = a * ci + b * cr;
            if (i < kv_dim) {
                a = kc[i];
                b = kc[i + 1];
                kc[i] = a * cr - b * ci;
                kc[i + 1] = a * ci + b * cr;
            }
        }

        /* causal attention, one head at a time */
        const float scale = sqrtf((float)hs);
        for (int h = 0; h < c->n_heads; h++) {
            const float *qh = s->q + h * hs;
            float *att = s->att + (size_t)h * c->seq_len;
            const int kvh = h / group;
            const float *kbase = s->key_cache + l * layer_cache + (size_t)kvh * hs;
            const float *vbase = s->value_cache + l * layer_cache + (size_t)kvh * hs;
            for (int t = 0; t <= pos; t++) {
                const float *kt = kbase + (size_t)t * kv_dim;
                float dot = 0.0f;
                for (int i = 0; i < hs; i++) dot += qh[i] * kt[i];
                att[t] = dot / scale;
            }
            softmax(att, pos + 1);
            float *out = s->xb + h * hs;
            for (int i = 0; i < hs; i++) out[i] = 0.0f;
            for (int t = 0; t <= pos; t++) {
                const float *vt = vbase + (size_t)t * kv_dim;
                const float a = att[t];
                for (int i = 0; i < hs; i++) out[i] += a * vt[i];
            }
        }

        matmul(s->xb2, s->xb, w->wo + (size_t)l * dim * dim, dim, dim);
        for (int i = 0; i < dim; i++) s->x[i] += s->xb2[i];

        /* SwiGLU feed-forward */
        rmsnorm(s->xb, s->x, w->rms_ffn + (size_t)l * dim, dim);
        matmul(s->hb, s->xb, w->w1 + (size_t)l * hidden * dim, dim, hidden);
        matmul(s->hb2, s->xb, w->w3 + (size_t)l * hidden * dim, dim, hidden);
        for (int i = 0; i < hidden; i++) {
            float g = s->hb[i];
            g *= 1.0f / (1.0f + expf(-g));
            g *= s->hb2[i];
            s->hb[i] = g;
        }
        matmul(s->xb, s->hb, w->w2 + (size_t)l * dim * hidden, hidden, dim);
        for (int i = 0; i < dim; i++) s->x[i] += s->xb[i];
    }

    rmsnorm(s->x, s->x, w->rms_final, dim);
    matmul(s->logits, s->x, w->wcls, dim, c->vocab_size);
    return s->logits;
}

/* ------------------------------------------------------------------------ */
/* tokenizer                                                                 */

typedef struct {
    int n;
    char **piece; /* NUL-terminated */
    int *len;
    float *score;
    int *sorted; /* token ids ordered by piece bytes, for binary search */
    int max_len;
    unsigned char raw[256][2];
} Tokenizer;

static const Tokenizer *g_sort_tok;

static int cmp_bytes(const char *a, int na, const char *b, int nb) {
    int k = na < nb ? na : nb;
    int r = memcmp(a, b, (size_t)k);
    if (r) return r;
    return (na > nb) - (na < nb);
}

static int cmp_sorted(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    int r = cmp_bytes(g_sort_tok->piece[a], g_sort_tok->len[a], g_sort_tok->piece[b], g_sort_tok->len[b]);
    return r ? r : (a > b) - (a < b);
}

static void load_tokenizer(Tokenizer *t, const char *path, int vocab_size) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open tokenizer %s", path);
    int32_t max_len;
    if (fread(&max_len, 4, 1, f) != 1 || max_len < 0) die("tokenizer %s is truncated or invalid", path);
    t->n = vocab_size;
    t->piece = xcalloc((size_t)vocab_size, sizeof(char *));
    t->len = xcalloc((size_t)vocab_size, sizeof(int));
    t->score = xcalloc((size_t)vocab_size, sizeof(float));
    t->max_len = 0;
    for (int i = 0; i < vocab_size; i++) {
        int32_t len = 0;
        if (fread(&t->score[i], 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1 || len < 0 || len > (1 << 20))
            die("tokenizer does not match the model (%s holds fewer entries than the model's vocabulary)", path);
        t->piece[i] = xcalloc((size_t)len + 1, 1);
        if (len > 0 && fread(t->piece[i], 1, (size_t)len, f) != (size_t)len)
            die("tokenizer does not match the model (%s holds fewer entries than the model's vocabulary)", path);
        t->len[i] = len;
        if (len > t->max_len) t->max_len = len;
    }
    if (fgetc(f) != EOF) die("tokenizer does not match the model (%s holds more entries than the model's vocabulary)", path);
    fclose(f);
    for (int b = 0; b < 256; b++) {
        t->raw[b][0] = (unsigned char)b;
        t->raw[b][1] = 0;
    }
    t->sorted = xcalloc((size_t)vocab_size, sizeof(int));
    for (int i = 0; i < vocab_size; i++) t->sorted[i] = i;
    g_sort_tok = t;
    qsort(t->sorted, (size_t)vocab_size, sizeof(int), cmp_sorted);
}

/* id of the token whose piece is exactly s[0..n), or -1 */
static int lookup(const Tokenizer *t, const char *s, int n) {
    int lo = 0, hi = t->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int id = t->sorted[mid];
        int r = cmp_bytes(s, n, t->piece[id], t->len[id]);
        if (r == 0) return id;
        if (r < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

/* BPE encoding with BOS; returns the number of ids written to out
   (out must hold strlen(text) + 2 ints). */
static int encode(const Tokenizer *t, const char *text, int *out) {
    int n = 0;
    out[n++] = 1; /* BOS */
    if (text[0] != '\0') {
        int sp = lookup(t, " ", 1);
        if (sp >= 0) out[n++] = sp;
    }
    /* split into UTF-8 code points: a lead byte and up to 3 continuation bytes */
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        int cl = 1;
        while (cl < 4 && p[cl] != 0 && (p[cl] & 0xC0) == 0x80) cl++;
        int id = lookup(t, (const char *)p, cl);
        if (id >= 0) {
            out[n++] = id;
        } else {
            for (int k = 0; k < cl; k++) out[n++] = p[k] + 3;
        }
        p += cl;
    }
    /* greedily merge the best-scoring adjacent pair until none merges */
    char *buf = xcalloc((size_t)t->max_len * 2 + 2, 1);
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_at = -1;
        for (int i = 0; i + 1 < n; i++) {
            int a = out[i], b = out[i + 1];
            int la = t->len[a], lb = t->len[b];
            memcpy(buf, t->piece[a], (size_t)la);
            memcpy(buf + la, t->piece[b], (size_t)lb);
            int id = lookup(t, buf, la + lb);
            if (id >= 0 && t->score[id] > best) {
                best = t->score[id];
                best_id = id;
                best_at = i;
            }
        }
        if (best_at < 0) break;
        out[best_at] = best_id;
        for (int i = best_at + 1; i + 1 < n; i++) out[i] = out[i + 1];
        n--;
    }
    free(buf);
    return n;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* writes the text of token cur (following prev) to stdout */
static void emit(const Tokenizer *t, int prev, int cur) {
    const char *s = t->piece[cur];
    int n = t->len[cur];
    if (prev == 1 && n > 0 && s[0] == ' ') {
        s++;
        n--;
    }
    if (n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' && hexval(s[3]) >= 0 &&
        hexval(s[4]) >= 0) {
        int b = hexval(s[3]) * 16 + hexval(s[4]);
        s = (const char *)t->raw[b];
        n = 1;
    }
    if (n == 0) return;
    if (n == 1) {
        unsigned char b = (unsigned char)s[0];
        int ws = b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r';
        if ((b < 0x20 && !ws) || b == 0x7f) return;
    }
    fwrite(s, 1, (size_t)n, stdout);
}

/* ------------------------------------------------------------------------ */
/* sampling                                                                  */

typedef struct {
    float p;
    int i;
} ProbIndex;

static uint32_t rand_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float rand_f32(uint64_t *state) { return (rand_u32(state) >> 8) / 16777216.0f; }

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static int by_prob_desc(const void *pa, const void *pb) {
    const ProbIndex *a = pa, *b = pb;
    if (a->p > b->p) return -1;
    if (a->p < b->p) return 1;
    return (a->i > b->i) - (a->i < b->i); /* keep index order among ties */
}

static int sample(float *logits, int n, float temperature, float topp, uint64_t *rng, ProbIndex *buf) {
    if (temperature == 0.0f) return argmax(logits, n);
    for (int i = 0; i < n; i++) logits[i] /= temperature;
    softmax(logits, n);
    float coin = rand_f32(rng);
    if (topp <= 0.0f || topp >= 1.0f) {
        float cdf = 0.0f;
        for (int i = 0; i < n; i++) {
            cdf += logits[i];
            if (coin < cdf) return i;
        }
        return n - 1;
    }
    /* nucleus sampling: only tokens that could be in the top-p set are sorted */
    const float cutoff = (1.0f - topp) / (n - 1);
    int n0 = 0;
    for (int i = 0; i < n; i++) {
        if (logits[i] >= cutoff) {
            buf[n0].p = logits[i];
            buf[n0].i = i;
            n0++;
        }
    }
    qsort(buf, (size_t)n0, sizeof(ProbIndex), by_prob_desc);
    float cum = 0.0f;
    int last = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cum += buf[i].p;
        if (cum > topp) {
            last = i;
            break;
        }
    }
    float r = coin * cum;
    float cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += buf[i].p;
        if (r < cdf) return buf[i].i;
    }
    return buf[last].i;
}

/* ------------------------------------------------------------------------ */
/* command line                                                              */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *USAGE =
    "usage: run checkpoint.bin [-t temperature] [-p topp] [-s seed] [-n steps] [-i prompt] [-z tokenizer]";

static double parse_float(const char *flag, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno == ERANGE || v != v) {
        fprintf(stderr, "error: option %s expects a number, got '%s'\n", flag, s);
        exit(1);
    }
    return v;
}

static long long parse_int(const char *flag, const char *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "error: option %s expects an integer, got '%s'\n", flag, s);
        exit(1);
    }
    return v;
}

int main(int argc, char **argv) {
    const char *checkpoint = NULL, *tokenizer_path = "tokenizer.bin", *prompt = NULL;
    double temperature = 1.0, topp = 0.9;
    long long seed = 0, steps = 256;

    if (argc < 2 || argv[1][0] == '-') die("%s", USAGE);
    checkpoint = argv[1];
    for (int i = 2; i < argc; i += 2) {
        const char *flag = argv[i];
        if (flag[0] != '-' || strlen(flag) != 2 || strchr("tpsniz", flag[1]) == NULL) {
            fprintf(stderr, "error: unknown option '%s' (%s)\n", flag, USAGE);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "error: option %s needs a value\n", flag);
            return 1;
        }
        const char *val = argv[i + 1];
        switch (flag[1]) {
        case 't': temperature = parse_float(flag, val); break;
        case 'p': topp = parse_float(flag, val); break;
        case 's': seed = parse_int(flag, val); break;
        case 'n': steps = parse_int(flag, val); break;
        case 'i': prompt = val; break;
        case 'z': tokenizer_path = val; break;
        }
    }
    if (temperature < 0.0) temperature = 0.0;
    if (topp < 0.0 || topp > 1.0) topp = 0.9;
    uint64_t rng = seed > 0 ? (uint64_t)seed : (uint64_t)(unsigned int)time(NULL);

    Model m;
    memset(&m, 0, sizeof m);
    load_model(&m, checkpoint);
    if (steps <= 0 || steps > m.c.seq_len) steps = m.c.seq_len;

    Tokenizer tok;
    memset(&tok, 0, sizeof tok);
    load_tokenizer(&tok, tokenizer_path, m.c.vocab_size);

    if (!prompt) prompt = "";
    int *ids = xcalloc(strlen(prompt) + 3, sizeof(int));
    int n_prompt = encode(&tok, prompt, ids);
    if (n_prompt > m.c.seq_len) {
        fprintf(stderr, "error: the prompt is %d tokens long, more than the model's context of %d\n", n_prompt,
                m.c.seq_len);
        return 1;
    }
    ProbIndex *pbuf = xcalloc((size_t)m.c.vocab_size, sizeof(ProbIndex));

    /* generation loop: prompt tokens are forced, later tokens sampled */
    double t_start = now_s(), t_first = 0.0;
    int pos = 0, token = ids[0], calls = 0;
    while (pos < steps) {
        float *logits = forward(&m, token, pos);
        calls++;
        int next;
        if (pos < n_prompt - 1) {
            next = ids[pos + 1];
        } else {
            next = sample(logits, m.c.vocab_size, (float)temperature, (float)topp, &rng, pbuf);
            if (pos == n_prompt - 1) t_first = now_s();
        }
        pos++;
        if (next == 1) break;
        emit(&tok, token, next);
        fflush(stdout);
        token = next;
    }
    double t_end = now_s();
    fputs("\n", stdout);
    fflush(stdout);

    int prefill = calls < n_prompt ? calls : n_prompt;
    int decode = calls - prefill;
    if (calls < n_prompt) t_first = t_end;
    double pre_s = t_first - t_start, dec_s = t_end - t_first;
    fprintf(stderr, "timing: prefill_tokens=%d prefill_tok_s=%.3f decode_tokens=%d decode_tok_s=%.3f ttft_ms=%.3f\n",
            prefill, pre_s > 0 ? prefill / pre_s : 0.0, decode, (decode > 0 && dec_s > 0) ? decode / dec_s : 0.0,
            (calls >= n_prompt ? pre_s : 0.0) * 1000.0);

    free(pbuf);
    free(ids);
    for (int i = 0; i < tok.n; i++) free(tok.piece[i]);
    free(tok.piece);
    free(tok.len);
    free(tok.score);
    free(tok.sorted);
    State *s = &m.s;
    float *bufs[] = {s->x, s->xb, s->xb2, s->hb, s->hb2, s->q, s->att, s->logits, s->key_cache, s->value_cache};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    munmap(m.map, m.map_size);
    return 0;
}
