#!/usr/bin/env python3
"""Llama-2 inference in pure Python 3 (no NumPy), after the algorithm of llama2.c.

Usage: llama2_pure.py checkpoint.bin [-t temperature] [-p topp] [-s seed] [-n steps]
                      [-i prompt] [-z tokenizer]

Weights are read straight from an mmap of the checkpoint through float32
memoryviews; activations are Python floats (doubles). One token per forward call.
The last stderr line is the timing line described in harness/SCHEMA.md.

Importable helpers (used by the tests): load_tokenizer(path, vocab_size=None),
encode(tokenizer, text, bos=True), decode(tokenizer, prev, cur).
"""

import math
import mmap
import os
import struct
import sys
import time
from operator import mul

U64 = 0xFFFFFFFFFFFFFFFF
V1_MAGIC = 0x616B3432
USAGE = ("usage: llama2_pure.py checkpoint.bin [-t temperature] [-p topp] [-s seed] "
         "[-n steps] [-i prompt] [-z tokenizer]")


class Fail(Exception):
    """A user-facing error: printed as one line, exit code 1."""


# --------------------------------------------------------------------------
# checkpoint

class Model:
    pass


def load_model(path):
    try:
        f = open(path, "rb")
    except OSError as e:
        raise Fail("cannot open checkpoint %s (%s)" % (path, e.strerror or e))
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < 28:
            raise Fail("checkpoint %s is too small to hold a header" % path)
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (magic,) = struct.unpack_from("<I", buf, 0)
    v1 = magic == V1_MAGIC
    if v1:
        if size < 256:
            raise Fail("checkpoint %s is truncated (v1 header)" % path)
        (version,) = struct.unpack_from("<i", buf, 4)
        if version != 1:
            raise Fail("checkpoint %s: only export versions 0 (legacy) and 1 (fp32) are supported" % path)
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", buf, 8)
        shared = buf[36] != 0
        header = 256
    else:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", buf, 0)
        shared = vocab > 0
        vocab = abs(vocab)
        header = 28
    if (min(dim, hidden, layers, heads, kv_heads, vocab, seq_len) <= 0 or dim % heads
            or heads % kv_heads or (dim // heads) % 2):
        raise Fail("checkpoint %s has an invalid header (not a llama2.c checkpoint?)" % path)
    hs = dim // heads
    kv_dim = dim * kv_heads // heads
    freq = 0 if v1 else 2 * (seq_len * hs // 2)
    n_floats = (vocab * dim + 2 * layers * dim + 2 * layers * dim * dim + 2 * layers * dim * kv_dim
                + 3 * layers * hidden * dim + dim + freq + (0 if shared else vocab * dim))
    expect = header + 4 * n_floats
    if size != expect:
        raise Fail("checkpoint %s has %d bytes but its header implies %d (truncated or wrong format)"
                   % (path, size, expect))

    mv = memoryview(buf)[header:].cast("f")
    if sys.byteorder != "little":  # the format is little-endian
        import array
        a = array.array("f", bytes(buf[header:]))
        a.byteswap()
        mv = memoryview(a)

    m = Model()
    m.dim, m.hidden, m.layers, m.heads, m.kv_heads = dim, hidden, layers, heads, kv_heads
    m.vocab, m.seq_len, m.hs, m.kv_dim = vocab, seq_len, hs, kv_dim
    m.buf = buf
    off = 0

    def take(n):
        nonlocal off
        start = off
        off += n
        return start

    if v1:
        m.rms_att = take(layers * dim)
        m.rms_ffn = take(layers * dim)
        m.rms_final = take(dim)
        m.emb = take(vocab * dim)
        m.wq = take(layers * dim * dim)
        m.wk = take(layers * kv_dim * dim)
        m.wv = take(layers * kv_dim * dim)
        m.wo = take(layers * dim * dim)
        m.w1 = take(layers * hidden * dim)
        m.w2 = take(layers * dim * hidden)
        m.w3 = take(layers * hidden * dim)
    else:
        m.emb = take(vocab * dim)
        m.rms_att = take(layers * dim)
        m.wq = take(layers * dim * dim)
        m.wk = take(layers * kv_dim * dim)
        m.wv = take(layers * kv_dim * dim)
        m.wo = take(layers * dim * dim)
        m.rms_ffn = take(layers * dim)
        m.w1 = take(layers * hidden * dim)
        m.w2 = take(layers * dim * hidden)
        m.w3 = take(layers * hidden * dim)
        m.rms_final = take(dim)
        take(freq)
    m.wcls = m.emb if shared else take(vocab * dim)
    m.w = mv
    # per-layer key/value caches: lists of per-position vectors
    m.kcache = [[None] * seq_len for _ in range(layers)]
    m.vcache = [[None] * seq_len for _ in range(layers)]
    # RoPE frequencies of each pair (i, i+1)
    m.freqs = [1.0 / 10000.0 ** ((i % hs) / hs) for i in range(0, dim, 2)]
    return m


# --------------------------------------------------------------------------
# forward pass

def rmsnorm(x, w, off):
    n = len(x)
    ss = 0.0
    for v in x:
        ss += v * v
    ss = 1.0 / math.sqrt(ss / n + 1e-5)
    return [w[off + j] * (ss * x[j]) for j in range(n)]


def matmul(w, off, x, n, d):
    """W is d x n row-major starting at w[off]; returns W.x as a list."""
    return [sum(map(mul, w[o:o + n], x)) for o in range(off, off + d * n, n)]


def silu(v):
    if v < -700.0:  # exp(-v) would overflow; the gate is 0
        return 0.0
    return v / (1.0 + math.exp(-v))


def forward(m, token, pos):
    w, dim, hidden, hs, kv_dim = m.w, m.dim, m.hidden, m.hs, m.kv_dim
    group = m.heads // m.kv_heads
    x = list(w[m.emb + token * dim:m.emb + (token + 1) * dim])
    scale = math.sqrt(hs)
    rot = [(math.cos(pos * f), math.sin(pos * f)) for f in m.freqs]
    for l in range(m.layers):
        xb = rmsnorm(x, w, m.rms_att + l * dim)
        q = matmul(w, m.wq + l * dim * dim, xb, dim, dim)
        k = matmul(w, m.wk + l * kv_dim * dim, xb, dim, kv_dim)
        v = matmul(w, m.wv + l * kv_dim * dim, xb, dim, kv_dim)
        for p, (cr, ci) in enumerate(rot):
            i = 2 * p
            a, b = q[i], q[i + 1]
            q[i], q[i + 1] = a * cr - b * ci, a * ci + b * cr
            if i < kv_dim:
                a, b = k[i], k[i + 1]
                k[i], k[i + 1] = a * cr - b * ci, a * ci + b * cr
        kc, vc = m.kcache[l], m.vcache[l]
        kc[pos], vc[pos] = k, v

        out = []
        for h in range(m.heads):
            qh = q[h * hs:(h + 1) * hs]
            base = (h // group) * hs
            scores = [sum(map(mul, qh, kc[t][base:base + hs])) / scale for t in range(pos + 1)]
            mx = max(scores)
            e = [math.exp(s - mx) for s in scores]
            tot = 0.0
            for s in e:
                tot += s
            acc = [0.0] * hs
            for t in range(pos + 1):
                a = e[t] / tot
                vt = vc[t]
                acc = [acc[i] + a * vt[base + i] for i in range(hs)]
            out.extend(acc)

        o = matmul(w, m.wo + l * dim * dim, out, dim, dim)
        x = [x[i] + o[i] for i in range(dim)]

        xb = rmsnorm(x, w, m.rms_ffn + l * dim)
        h1 = matmul(w, m.w1 + l * hidden * dim, xb, dim, hidden)
        h3 = matmul(w, m.w3 + l * hidden * dim, xb, dim, hidden)
        g = [silu(h1[i]) * h3[i] for i in range(hidden)]
        o = matmul(w, m.w2 + l * dim * hidden, g, hidden, dim)
        x = [x[i] + o[i] for i in range(dim)]

    x = rmsnorm(x, w, m.rms_final)
    return matmul(w, m.wcls, x, dim, m.vocab)


# --------------------------------------------------------------------------
# tokenizer

class Tokenizer:
    pass


def load_tokenizer(path, vocab_size=None):
    """Reads a llama2.c tokenizer.bin; vocab_size=None reads every entry."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Fail("cannot open tokenizer %s (%s)" % (path, e.strerror or e))
    if len(data) < 4:
        raise Fail("tokenizer %s is truncated or invalid" % path)
    pieces, scores = [], []
    off = 4
    while off < len(data) and (vocab_size is None or len(pieces) < vocab_size):
        if off + 8 > len(data):
            raise Fail("tokenizer %s is truncated" % path)
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        if n < 0 or off + n > len(data):
            raise Fail("tokenizer %s is truncated" % path)
        pieces.append(bytes(data[off:off + n]))
        scores.append(score)
        off += n
    if vocab_size is not None and (len(pieces) != vocab_size or off != len(data)):
        raise Fail("tokenizer does not match the model (%s does not hold exactly %d entries)"
                   % (path, vocab_size))
    t = Tokenizer()
    t.pieces, t.scores = pieces, scores
    t.ids = {}
    for i, p in enumerate(pieces):
        t.ids.setdefault(p, i)
    return t


def encode(t, text, bos=True):
    """llama2.c BPE: BOS, dummy-prefix space, code points (or bytes + 3), best-score merges."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    ids = [1] if bos else []
    if data:
        sp = t.ids.get(b" ")
        if sp is not None:
            ids.append(sp)
    i, n = 0, len(data)
    while i < n:
        cl = 1
        while cl < 4 and i + cl < n and (data[i + cl] & 0xC0) == 0x80:
            cl += 1
        cp = data[i:i + cl]
        tid = t.ids.get(cp)
        if tid is not None:
            ids.append(tid)
        else:
            ids.extend(b + 3 for b in cp)
        i += cl
    while True:
        best, best_id, best_at = -1e10, -1, -1
        for j in range(len(ids) - 1):
            tid = t.ids.get(t.pieces[ids[j]] + t.pieces[ids[j + 1]])
            if tid is not None and t.scores[tid] > best:
                best, best_id, best_at = t.scores[tid], tid, j
        if best_at < 0:
            break
        ids[best_at:best_at + 2] = [best_id]
    return ids


_HEX = b"0123456789abcdefABCDEF"


def decode(t, prev, cur):
    """Bytes printed for token cur following prev (control bytes filtered like run.c)."""
    p = t.pieces[cur]
    if prev == 1 and p[:1] == b" ":
        p = p[1:]
    if len(p) == 6 and p[:3] == b"<0x" and p[5:] == b">" and p[3] in _HEX and p[4] in _HEX:
        p = bytes([int(p[3:5], 16)])
    if len(p) == 1:
        b = p[0]
        if (b < 0x20 and b not in (9, 10, 11, 12, 13)) or b == 0x7F:
            return b""
    return p


# --------------------------------------------------------------------------
# sampler

class Rng:
    def __init__(self, seed):
        self.state = seed & U64

    def u32(self):
        s = self.state
        s ^= s >> 12
        s ^= (s << 25) & U64
        s ^= s >> 27
        self.state = s
        return ((s * 0x2545F4914F6CDD1D) & U64) >> 32

    def f32(self):
        return (self.u32() >> 8) / 16777216.0


def sample(logits, temperature, topp, rng):
    n = len(logits)
    if temperature == 0.0:
        best = 0
        for i in range(1, n):
            if logits[i] > logits[best]:
                best = i
        return best
    z = [v / temperature for v in logits]
    mx = max(z)
    e = [math.exp(v - mx) for v in z]
    tot = 0.0
    for v in e:
        tot += v
    probs = [v / tot for v in e]
    coin = rng.f32()
    if topp <= 0.0 or topp >= 1.0:
        cdf = 0.0
        for i, p in enumerate(probs):
            cdf += p
            if coin < cdf:
                return i
        return n - 1
    cutoff = (1.0 - topp) / (n - 1)
    kept = sorted((i for i in range(n) if probs[i] >= cutoff), key=lambda i: -probs[i])
    cum = 0.0
    last = len(kept) - 1
    for j, i in enumerate(kept):
        cum += probs[i]
        if cum > topp:
            last = j
            break
    r = coin * cum
    cdf = 0.0
    for j in range(last + 1):
        cdf += probs[kept[j]]
        if r < cdf:
            return kept[j]
    return kept[last]


# --------------------------------------------------------------------------
# command line

def parse_args(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        raise Fail(USAGE)
    opts = {"checkpoint": argv[1], "t": 1.0, "p": 0.9, "s": 0, "n": 256, "i": None,
            "z": "tokenizer.bin"}
    i = 2
    while i < len(argv):
        flag = argv[i]
        if len(flag) != 2 or flag[0] != "-" or flag[1] not in "tpsniz":
            raise Fail("unknown option '%s' (%s)" % (flag, USAGE))
        if i + 1 >= len(argv):
            raise Fail("option %s needs a value" % flag)
        val = argv[i + 1]
        key = flag[1]
        if key in "tp":
            try:
                v = float(val)
            except ValueError:
                v = float("nan")
            if v != v:
                raise Fail("option %s expects a number, got '%s'" % (flag, val))
            opts[key] = v
        elif key in "sn":
            try:
                opts[key] = int(val, 10)
            except ValueError:
                raise Fail("option %s expects an integer, got '%s'" % (flag, val))
        else:
            opts[key] = val
        i += 2
    return opts


def run(argv):
    o = parse_args(argv)
    temperature, topp, seed, steps = o["t"], o["p"], o["s"], o["n"]
    if temperature < 0.0:
        temperature = 0.0
    if topp < 0.0 or topp > 1.0:
        topp = 0.9
    if seed <= 0:
        seed = int(time.time()) & 0xFFFFFFFF
    rng = Rng(seed)

    m = load_model(o["checkpoint"])
    if steps <= 0 or steps > m.seq_len:
        steps = m.seq_len
    tok = load_tokenizer(o["z"], m.vocab)
    prompt = os.fsencode(o["i"]) if o["i"] is not None else b""
    ids = encode(tok, prompt)
    if len(ids) > m.seq_len:
        raise Fail("the prompt is %d tokens long, more than the model's context of %d"
                   % (len(ids), m.seq_len))

    out = sys.stdout.buffer
    n_prompt = len(ids)
    t_start = time.perf_counter()
    t_first = None
    pos, token, calls = 0, ids[0], 0
    while pos < steps:
        logits = forward(m, token, pos)
        calls += 1
        if pos < n_prompt - 1:
            nxt = ids[pos + 1]
        else:
            nxt = sample(logits, temperature, topp, rng)
            if pos == n_prompt - 1:
                t_first = time.perf_counter()
        pos += 1
        if nxt == 1:
            break
        out.write(decode(tok, token, nxt))
        out.flush()
        token = nxt
    t_end = time.perf_counter()
    out.write(b"\n")
    out.flush()

    prefill = min(calls, n_prompt)
    decode_n = calls - prefill
    if t_first is None:
        t_first = t_end
    pre_s, dec_s = t_first - t_start, t_end - t_first
    sys.stderr.write(
        "timing: prefill_tokens=%d prefill_tok_s=%.3f decode_tokens=%d decode_tok_s=%.3f ttft_ms=%.3f\n"
        % (prefill, prefill / pre_s if pre_s > 0 else 0.0, decode_n,
           decode_n / dec_s if decode_n > 0 and dec_s > 0 else 0.0,
           pre_s * 1000.0 if calls >= n_prompt else 0.0))
    return 0


def main():
    try:
        return run(sys.argv)
    except Fail as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    except BrokenPipeError:  # stdout closed early (e.g. piped into head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as e:  # never a traceback
        sys.stderr.write("error: unexpected failure: %s: %s\n" % (type(e).__name__, str(e).replace("\n", " ")))
        return 1


if __name__ == "__main__":
    sys.exit(main())
