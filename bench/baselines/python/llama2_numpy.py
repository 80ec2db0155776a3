#!/usr/bin/env python3
"""Llama-2 inference with NumPy (float32, vectorised), after the algorithm of llama2.c.

Usage: llama2_numpy.py checkpoint.bin [-t temperature] [-p topp] [-s seed] [-n steps]
                       [-i prompt] [-z tokenizer] [--dump DIR]

--dump DIR writes every operation's output of every forward call as .npy, named as the workbench's
`trace --dump` names them (L03.attn_out.pos0-53.npy, out.logits.pos53-53.npy), with DIR/index.json;
scripts/compare_dumps.py compares two such folders.

The prompt goes through the model in one batched pass (all prompt positions through
each layer at once, causal mask); then one token per call. Before generating, one line
on stderr names the BLAS that NumPy uses (build configuration and the library actually
loaded); the last stderr line is the timing line described in harness/SCHEMA.md.

Importable helpers (used by the tests): load_tokenizer(path, vocab_size=None),
encode(tokenizer, text, bos=True), decode(tokenizer, prev, cur).
"""

import os
import struct
import sys
import time

import numpy as np

F32 = np.float32
U64 = 0xFFFFFFFFFFFFFFFF
V1_MAGIC = 0x616B3432
USAGE = ("usage: llama2_numpy.py checkpoint.bin [-t temperature] [-p topp] [-s seed] "
         "[-n steps] [-i prompt] [-z tokenizer] [--dump DIR]")


class Fail(Exception):
    """A user-facing error: printed as one line, exit code 1."""


# --------------------------------------------------------------------------
# BLAS report

def blas_description():
    config = "unknown"
    try:
        info = getattr(np.__config__, "blas_opt_info", None)
        if info is None and hasattr(np, "show_config"):
            try:
                info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            except TypeError:
                info = None
        if isinstance(info, dict):
            if "libraries" in info:
                config = "libraries=%s dirs=%s" % (",".join(info.get("libraries", [])),
                                                   ",".join(info.get("library_dirs", [])))
            else:
                config = "%s %s" % (info.get("name", "?"), info.get("version", ""))
    except Exception:
        pass
    loaded = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if line.split() else ""
                base = os.path.basename(path).lower()
                if ".so" in base and any(k in base for k in ("blas", "mkl", "blis", "atlas")):
                    if path not in loaded:
                        loaded.append(path)
    except OSError:
        pass
    resolved = ",".join(loaded) if loaded else "unknown (no /proc/self/maps match)"
    return "numpy %s BLAS: build config %s; loaded at runtime: %s" % (np.__version__, config, resolved)


# --------------------------------------------------------------------------
# checkpoint

class Model:
    pass


def load_model(path):
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as e:
        raise Fail("cannot open checkpoint %s (%s)" % (path, e.strerror or e))
    if size < 28:
        raise Fail("checkpoint %s is too small to hold a header" % path)
    (magic,) = struct.unpack_from("<I", head, 0)
    v1 = magic == V1_MAGIC
    if v1:
        if size < 256:
            raise Fail("checkpoint %s is truncated (v1 header)" % path)
        (version,) = struct.unpack_from("<i", head, 4)
        if version != 1:
            raise Fail("checkpoint %s: only export versions 0 (legacy) and 1 (fp32) are supported" % path)
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", head, 8)
        shared = head[36] != 0
        header = 256
    else:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", head, 0)
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
    data = np.memmap(path, dtype="<f4", mode="r", offset=header, shape=(n_floats,))

    m = Model()
    m.dim, m.hidden, m.layers, m.heads, m.kv_heads = dim, hidden, layers, heads, kv_heads
    m.vocab, m.seq_len, m.hs, m.kv_dim = vocab, seq_len, hs, kv_dim
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = data[off:off + n].reshape(shape)
        off += n
        return a

    L, D, H, V, KV = layers, dim, hidden, vocab, kv_dim
    if v1:
        m.rms_att = take(L, D)
        m.rms_ffn = take(L, D)
        m.rms_final = take(D)
        m.emb = take(V, D)
        m.wq, m.wk, m.wv, m.wo = take(L, D, D), take(L, KV, D), take(L, KV, D), take(L, D, D)
        m.w1, m.w2, m.w3 = take(L, H, D), take(L, D, H), take(L, H, D)
    else:
        m.emb = take(V, D)
        m.rms_att = take(L, D)
        m.wq, m.wk, m.wv, m.wo = take(L, D, D), take(L, KV, D), take(L, KV, D), take(L, D, D)
        m.rms_ffn = take(L, D)
        m.w1, m.w2, m.w3 = take(L, H, D), take(L, D, H), take(L, H, D)
        m.rms_final = take(D)
        take(freq)
    m.wcls = m.emb if shared else take(V, D)
    m.kcache = np.zeros((L, seq_len, KV), dtype=F32)
    m.vcache = np.zeros((L, seq_len, KV), dtype=F32)
    hd = (np.arange(0, dim, 2) % hs).astype(F32)
    m.freqs = (F32(1.0) / np.power(F32(10000.0), hd / F32(hs))).astype(F32)
    return m


# --------------------------------------------------------------------------
# forward pass (T tokens at positions pos0 .. pos0+T-1)

def rmsnorm(x, w):
    ss = np.sum(x * x, axis=-1, keepdims=True, dtype=F32) / F32(x.shape[-1]) + F32(1e-5)
    return w * ((F32(1.0) / np.sqrt(ss)) * x)


class Dump:
    """Writes each observed tensor as DIR/<name>.npy and keeps the index."""

    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.folder, self.tensors = folder, []

    def __call__(self, layer, stage, pos0, values):
        values = np.atleast_2d(np.asarray(values, dtype=F32))
        pos1 = pos0 + values.shape[0] - 1
        name = "%s.%s.pos%d-%d" % ("out" if layer < 0 else "L%02d" % layer, stage, pos0, pos1)
        np.save(os.path.join(self.folder, name + ".npy"), values)
        self.tensors.append({"file": name + ".npy", "stage": stage, "layer": layer, "pos0": pos0, "pos1": pos1,
                             "rows": values.shape[0], "cols": values.shape[1]})

    def finish(self, model, tokens):
        import json
        with open(os.path.join(self.folder, "index.json"), "w") as f:
            json.dump({"variant": "numpy", "model": model, "tokens": tokens, "tensors": self.tensors}, f)


def forward(m, tokens, pos0, dump=None):
    seen = dump if dump is not None else (lambda layer, stage, pos, values: None)
    T = len(tokens)
    S = pos0 + T
    hs, kv_dim, heads = m.hs, m.kv_dim, m.heads
    group = heads // m.kv_heads
    x = np.array(m.emb[np.asarray(tokens)], dtype=F32)  # (T, dim)

    ang = np.arange(pos0, S, dtype=F32)[:, None] * m.freqs[None, :]  # (T, dim/2)
    cos, sin = np.cos(ang), np.sin(ang)
    kcos, ksin = cos[:, :kv_dim // 2], sin[:, :kv_dim // 2]
    # query t (position pos0+t) may see keys 0 .. pos0+t
    masked = np.arange(S)[None, :] > (pos0 + np.arange(T))[:, None]  # (T, S)
    scale = F32(np.sqrt(F32(hs)))

    for l in range(m.layers):
        xb = rmsnorm(x, m.rms_att[l])
        seen(l, "attn_norm", pos0, xb)
        q = xb @ m.wq[l].T
        seen(l, "q", pos0, q)
        k = xb @ m.wk[l].T
        seen(l, "k", pos0, k)
        v = xb @ m.wv[l].T
        seen(l, "v", pos0, v)
        q0, q1 = q[:, 0::2].copy(), q[:, 1::2].copy()
        q[:, 0::2] = q0 * cos - q1 * sin
        q[:, 1::2] = q0 * sin + q1 * cos
        seen(l, "q_rope", pos0, q)
        k0, k1 = k[:, 0::2].copy(), k[:, 1::2].copy()
        k[:, 0::2] = k0 * kcos - k1 * ksin
        k[:, 1::2] = k0 * ksin + k1 * kcos
        seen(l, "k_rope", pos0, k)
        m.kcache[l, pos0:S] = k
        m.vcache[l, pos0:S] = v

        qh = q.reshape(T, heads, hs).transpose(1, 0, 2)                       # (H, T, hs)
        kh = m.kcache[l, :S].reshape(S, m.kv_heads, hs).transpose(1, 0, 2)   # (KVH, S, hs)
        vh = m.vcache[l, :S].reshape(S, m.kv_heads, hs).transpose(1, 0, 2)
        if group > 1:
            kh = np.repeat(kh, group, axis=0)
            vh = np.repeat(vh, group, axis=0)
        att = (qh @ kh.transpose(0, 2, 1)) / scale                            # (H, T, S)
        att = np.where(masked[None], F32(-np.inf), att)
        att = np.exp(att - att.max(axis=-1, keepdims=True))
        att /= att.sum(axis=-1, keepdims=True)
        out = (att @ vh).transpose(1, 0, 2).reshape(T, heads * hs)
        seen(l, "attention", pos0, out)
        o = out @ m.wo[l].T
        seen(l, "attn_out", pos0, o)
        x += o
        seen(l, "attn_residual", pos0, x)

        xb = rmsnorm(x, m.rms_ffn[l])
        seen(l, "ffn_norm", pos0, xb)
        h1 = xb @ m.w1[l].T
        seen(l, "gate", pos0, h1)
        h3 = xb @ m.w3[l].T
        seen(l, "up", pos0, h3)
        g = h1 * (F32(1.0) / (F32(1.0) + np.exp(-h1))) * h3
        seen(l, "swiglu", pos0, g)
        down = g @ m.w2[l].T
        seen(l, "down", pos0, down)
        x += down
        seen(l, "ffn_residual", pos0, x)

    last = rmsnorm(x[-1], m.rms_final)
    seen(-1, "final_norm", S - 1, last)
    logits = (m.wcls @ last).astype(F32)
    seen(-1, "logits", S - 1, logits)
    return logits


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
    off, end = 4, len(data)
    while off < end and (vocab_size is None or len(pieces) < vocab_size):
        if off + 8 > end:
            raise Fail("tokenizer %s is truncated" % path)
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        if n < 0 or off + n > end:
            raise Fail("tokenizer %s is truncated" % path)
        pieces.append(data[off:off + n])
        scores.append(score)
        off += n
    if vocab_size is not None and (len(pieces) != vocab_size or off != end):
        raise Fail("tokenizer does not match the model (%s does not hold exactly %d entries)"
                   % (path, vocab_size))
    t = Tokenizer()
    t.pieces, t.scores = pieces, scores
    t.lookup = {}
    for i, p in enumerate(pieces):
        if p not in t.lookup:
            t.lookup[p] = i
    return t


def encode(t, text, bos=True):
    """llama2.c BPE: BOS, dummy-prefix space, code points (or bytes + 3), best-score merges."""
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    ids = [1] if bos else []
    if raw and b" " in t.lookup:
        ids.append(t.lookup[b" "])
    pos = 0
    while pos < len(raw):
        end = pos + 1
        while end < len(raw) and end - pos < 4 and (raw[end] & 0xC0) == 0x80:
            end += 1
        piece = raw[pos:end]
        if piece in t.lookup:
            ids.append(t.lookup[piece])
        else:
            ids.extend(byte + 3 for byte in piece)
        pos = end
    while len(ids) > 1:
        best_score, best = -1e10, None
        for j in range(len(ids) - 1):
            merged = t.lookup.get(t.pieces[ids[j]] + t.pieces[ids[j + 1]])
            if merged is not None and t.scores[merged] > best_score:
                best_score, best = t.scores[merged], (j, merged)
        if best is None:
            break
        j, merged = best
        ids[j:j + 2] = [merged]
    return ids


def decode(t, prev, cur):
    """Bytes printed for token cur following prev (control bytes filtered like run.c)."""
    piece = t.pieces[cur]
    if prev == 1 and piece.startswith(b" "):
        piece = piece[1:]
    if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
        try:
            piece = bytes([int(piece[3:5].decode("ascii"), 16)])
        except ValueError:
            pass
    if len(piece) == 1:
        c = piece[0]
        if c == 0x7F or (c < 0x20 and c not in b"\t\n\v\f\r"):
            return b""
    return piece


# --------------------------------------------------------------------------
# sampler (float32, in run.c's order of operations)

class Rng:
    def __init__(self, seed):
        self.state = seed & U64

    def next_f32(self):
        s = self.state
        s ^= s >> 12
        s = (s ^ (s << 25)) & U64
        s ^= s >> 27
        self.state = s
        r = ((s * 0x2545F4914F6CDD1D) & U64) >> 32
        return F32((r >> 8) / 16777216.0)


def sample(logits, temperature, topp, rng):
    n = logits.shape[0]
    if temperature == 0.0:
        return int(np.argmax(logits))
    z = logits / F32(temperature)
    e = np.exp(z - z.max())
    probs = e / np.cumsum(e)[-1]  # sequential float32 sum, as in a plain loop
    coin = rng.next_f32()
    topp = F32(topp)
    if topp <= 0 or topp >= 1:
        cdf = np.cumsum(probs)
        hit = np.nonzero(coin < cdf)[0]
        return int(hit[0]) if hit.size else n - 1
    cutoff = (F32(1.0) - topp) / F32(n - 1)
    kept = np.nonzero(probs >= cutoff)[0]
    order = kept[np.argsort(-probs[kept], kind="stable")]
    cum = np.cumsum(probs[order])
    over = np.nonzero(cum > topp)[0]
    last = int(over[0]) if over.size else len(order) - 1
    r = coin * cum[last]
    hit = np.nonzero(r < cum[:last + 1])[0]
    return int(order[hit[0]]) if hit.size else int(order[last])


# --------------------------------------------------------------------------
# command line

def parse_args(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        raise Fail(USAGE)
    opts = {"t": 1.0, "p": 0.9, "s": 0, "n": 256, "i": None, "z": "tokenizer.bin", "dump": None}
    args = argv[2:]
    for k in range(0, len(args), 2):
        flag = args[k]
        if flag == "--dump":
            if k + 1 >= len(args) or not args[k + 1]:
                raise Fail("option --dump needs a directory")
            opts["dump"] = args[k + 1]
            continue
        if len(flag) != 2 or flag[0] != "-" or flag[1] not in "tpsniz":
            raise Fail("unknown option '%s' (%s)" % (flag, USAGE))
        if k + 1 >= len(args):
            raise Fail("option %s needs a value" % flag)
        val = args[k + 1]
        if flag[1] in "tp":
            try:
                num = float(val)
            except ValueError:
                num = None
            if num is None or num != num:
                raise Fail("option %s expects a number, got '%s'" % (flag, val))
            opts[flag[1]] = num
        elif flag[1] in "sn":
            try:
                opts[flag[1]] = int(val, 10)
            except ValueError:
                raise Fail("option %s expects an integer, got '%s'" % (flag, val))
        else:
            opts[flag[1]] = val
    return argv[1], opts


def run(argv):
    path, o = parse_args(argv)
    temperature = max(o["t"], 0.0)
    topp = o["p"] if 0.0 <= o["p"] <= 1.0 else 0.9
    seed = o["s"] if o["s"] > 0 else int(time.time()) & 0xFFFFFFFF
    rng = Rng(seed)

    m = load_model(path)
    steps = o["n"] if 0 < o["n"] <= m.seq_len else m.seq_len
    tok = load_tokenizer(o["z"], m.vocab)
    ids = encode(tok, os.fsencode(o["i"]) if o["i"] is not None else b"")
    n_prompt = len(ids)
    if n_prompt > m.seq_len:
        raise Fail("the prompt is %d tokens long, more than the model's context of %d"
                   % (n_prompt, m.seq_len))
    sys.stderr.write(blas_description() + "\n")
    sys.stderr.flush()

    out = sys.stdout.buffer
    n_pre = min(n_prompt, steps)
    t_start = time.perf_counter()
    dump = Dump(o["dump"]) if o["dump"] else None
    logits = forward(m, ids[:n_pre], 0, dump)  # batched prompt pass
    calls = n_pre
    for j in range(1, min(steps + 1, n_prompt)):  # echo the prompt
        out.write(decode(tok, ids[j - 1], ids[j]))
    out.flush()
    t_first = None
    generated = []
    if n_pre == n_prompt:
        token, pos = ids[-1], n_prompt
        nxt = sample(logits, temperature, topp, rng)
        t_first = time.perf_counter()
        while nxt != 1:
            generated.append(int(nxt))
            out.write(decode(tok, token, nxt))
            out.flush()
            token = nxt
            if pos >= steps:
                break
            logits = forward(m, [token], pos, dump)
            calls += 1
            pos += 1
            nxt = sample(logits, temperature, topp, rng)
    t_end = time.perf_counter()
    out.write(b"\n")
    out.flush()

    if dump is not None:
        dump.finish(path, [int(t) for t in ids] + generated)
    decode_n = calls - n_pre
    if t_first is None:
        t_first = t_end
    pre_s, dec_s = t_first - t_start, t_end - t_first
    sys.stderr.write(
        "timing: prefill_tokens=%d prefill_tok_s=%.3f decode_tokens=%d decode_tok_s=%.3f ttft_ms=%.3f\n"
        % (n_pre, n_pre / pre_s if pre_s > 0 else 0.0, decode_n,
           decode_n / dec_s if decode_n > 0 and dec_s > 0 else 0.0,
           pre_s * 1000.0 if n_pre == n_prompt else 0.0))
    return 0


def main():
    try:
        with np.errstate(all="ignore"):
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
