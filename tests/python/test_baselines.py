"""Tests of the llama2.c-style baselines (bench/baselines) and their agreement with the workbench.

Run from the repository root:
    /usr/bin/python3 -m unittest tests/python/test_baselines.py

Environment:
    WORKBENCH_BIN     directory holding baseline-run, baseline-runfast, baseline-runomp and,
                      when built, the workbench's generate and synth (default build/bin)
    WORKBENCH_MODELS  directory holding stories260K.bin, tok512.bin, tokenizer.bin,
                      encode_cases.json (default ../shared/models)
Relative settings are taken from the repository root. Tests whose program or model file is
missing are skipped with the reason.
"""

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _setting(name, default):
    p = Path(os.environ.get(name, default))
    return p if p.is_absolute() else REPO / p


BIN = _setting("WORKBENCH_BIN", "build/bin")
MODELS = _setting("WORKBENCH_MODELS", "../shared/models")
PY_DIR = REPO / "bench" / "baselines" / "python"
PURE_SCRIPT = PY_DIR / "llama2_pure.py"
NUMPY_SCRIPT = PY_DIR / "llama2_numpy.py"

STORY260K = MODELS / "stories260K.bin"
TOK512 = MODELS / "tok512.bin"
TOK32K = MODELS / "tokenizer.bin"

# Greedy (-t 0), no prompt, -n 200 on stories260K with tok512 (see the models README).
REFERENCE_STORY = (
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
    "She said, \"I want to play with your ball, but I can't find it.\"\n"
    "Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n"
    "Lily didn't want to help her mom, so she"
)
SEEDED_START = "Once upon a time, there was a little boy named Timmy."
SEEDED_ARGS = ["-t", "1.0", "-p", "0.9", "-s", "133742", "-n", "200"]

TIMING_RE = re.compile(
    r"^timing: prefill_tokens=(\d+) prefill_tok_s=(\d+\.\d{3}) decode_tokens=(\d+) "
    r"decode_tok_s=(\d+\.\d{3}) ttft_ms=(\d+\.\d{3})$")
TIMEOUT = 300

# --------------------------------------------------------------------------
# implementations


def _has_numpy(python):
    try:
        return subprocess.run([python, "-c", "import numpy"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_numpy_python = []


def numpy_python():
    """An interpreter that can import numpy (this one, else /usr/bin/python3), or None."""
    if not _numpy_python:
        found = None
        for cand in (sys.executable, "/usr/bin/python3"):
            if cand and os.path.exists(cand) and _has_numpy(cand):
                found = cand
                break
        _numpy_python.append(found)
    return _numpy_python[0]


C_IMPLS = {"c-run": "baseline-run", "c-runfast": "baseline-runfast", "c-runomp": "baseline-runomp"}


def command(impl):
    """(argv prefix, argv suffix, env) for an implementation, or raise SkipTest."""
    env = dict(os.environ)
    if impl in C_IMPLS:
        exe = BIN / C_IMPLS[impl]
        if not exe.is_file():
            raise unittest.SkipTest("%s not built (looked in WORKBENCH_BIN=%s)" % (exe.name, BIN))
        if impl == "c-runomp":
            env["OMP_NUM_THREADS"] = "2"
        return [str(exe)], [], env
    if impl == "generate":
        exe = BIN / "generate"
        if not exe.is_file():
            raise unittest.SkipTest("workbench generate not built (looked in WORKBENCH_BIN=%s)" % BIN)
        return [str(exe)], ["--variant", "naive"], env
    if impl == "python":
        return [sys.executable, str(PURE_SCRIPT)], [], env
    if impl == "numpy":
        py = numpy_python()
        if py is None:
            raise unittest.SkipTest("no Python with numpy (tried %s and /usr/bin/python3)" % sys.executable)
        return [py, str(NUMPY_SCRIPT)], [], env
    raise ValueError(impl)


def need(*paths):
    for p in paths:
        if not Path(p).is_file():
            raise unittest.SkipTest("model file %s missing (WORKBENCH_MODELS=%s)" % (p, MODELS))


_cache = {}


def run(impl, model, args, tokenizer=None):
    """Runs an implementation; returns (returncode, stdout text, stderr text). Cached."""
    head, tail, env = command(impl)
    argv = head + [str(model)] + (["-z", str(tokenizer)] if tokenizer else []) + list(args) + tail
    key = tuple(argv)
    if key not in _cache:
        p = subprocess.run(argv, capture_output=True, env=env, timeout=TIMEOUT)
        _cache[key] = (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))
    return _cache[key]


def run260k(impl, args):
    need(STORY260K, TOK512)
    return run(impl, STORY260K, args, TOK512)


def parse_timing(testcase, impl, stderr):
    """Checks stderr holds the timing line last and nothing else unexpected; returns its numbers."""
    lines = stderr.splitlines()
    testcase.assertTrue(lines, "%s printed nothing on stderr" % impl)
    m = TIMING_RE.match(lines[-1])
    testcase.assertIsNotNone(m, "%s: last stderr line is not a timing line: %r" % (impl, lines[-1]))
    extra = lines[:-1]
    if impl == "numpy":
        testcase.assertEqual(len(extra), 1, "numpy should print one BLAS line before timing: %r" % extra)
        testcase.assertIn("BLAS", extra[0])
    elif impl != "generate":
        testcase.assertEqual(extra, [], "%s printed extra stderr lines: %r" % (impl, extra))
    return {"prefill_tokens": int(m.group(1)), "prefill_tok_s": float(m.group(2)),
            "decode_tokens": int(m.group(3)), "decode_tok_s": float(m.group(4)),
            "ttft_ms": float(m.group(5))}


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ImportError as e:
        raise unittest.SkipTest("cannot import %s here: %s" % (path.name, e))
    return mod


# --------------------------------------------------------------------------
# tests


class ReferenceStory(unittest.TestCase):
    """Greedy stories260K prints the README's story exactly."""

    def check_full(self, impl):
        rc, out, err = run260k(impl, ["-t", "0", "-n", "200"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, REFERENCE_STORY + "\n")

    def test_c_run(self):
        self.check_full("c-run")

    def test_c_runfast(self):
        self.check_full("c-runfast")

    def test_c_runomp(self):
        self.check_full("c-runomp")

    def test_numpy(self):
        self.check_full("numpy")

    def test_python_prefix(self):
        rc, out, err = run260k("python", ["-t", "0", "-n", "40"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.endswith("\n"))
        text = out[:-1]
        self.assertGreater(len(text), 100, "40 steps should give more than 100 characters: %r" % text)
        self.assertTrue(REFERENCE_STORY.startswith(text), "not a prefix of the reference: %r" % text)


class TimingLine(unittest.TestCase):
    """Each implementation ends stderr with a timing line with the right token counts."""

    def check(self, impl, steps):
        rc, out, err = run260k(impl, ["-t", "0", "-n", str(steps)])
        self.assertEqual(rc, 0, err)
        t = parse_timing(self, impl, err)
        self.assertEqual((t["prefill_tokens"], t["decode_tokens"]), (1, steps - 1))
        self.assertGreater(t["decode_tok_s"], 0.0)
        self.assertGreater(t["prefill_tok_s"], 0.0)
        self.assertGreater(t["ttft_ms"], 0.0)

        # "Once upon a time" is BOS + 4 tokens with tok512: 5 prefill, 25 decode in 30 steps
        rc, out, err = run260k(impl, ["-t", "0", "-n", "30", "-i", "Once upon a time"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("Once upon a time"), out)
        t = parse_timing(self, impl, err)
        self.assertEqual((t["prefill_tokens"], t["decode_tokens"]), (5, 25))

    def test_c_run(self):
        self.check("c-run", 200)

    def test_c_runfast(self):
        self.check("c-runfast", 200)

    def test_c_runomp(self):
        self.check("c-runomp", 200)

    def test_numpy(self):
        self.check("numpy", 200)

    def test_python(self):
        self.check("python", 40)


class SeededSampling(unittest.TestCase):
    """-t 1.0 -p 0.9 -s 133742: llama2.c's run.c starts its story with SEEDED_START."""

    def test_c_run(self):
        rc, out, err = run260k("c-run", SEEDED_ARGS)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith(SEEDED_START), out[:200])

    def test_python_implementations_start_alike(self):
        # float64 / numpy arithmetic may drift late in a long sample; the first sentence must agree
        for impl in ("python", "numpy"):
            with self.subTest(impl=impl):
                try:
                    rc, out, err = run260k(impl, SEEDED_ARGS[:-1] + ["30"])
                except unittest.SkipTest as e:
                    self.skipTest(str(e))
                self.assertEqual(rc, 0, err)
                self.assertTrue(out.startswith(SEEDED_START), out)

    def test_generate_naive_matches_c_run(self):
        command("generate")
        rc, ref, err = run260k("c-run", SEEDED_ARGS)
        self.assertEqual(rc, 0, err)
        rc, out, err = run260k("generate", SEEDED_ARGS)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, ref)


class Encode(unittest.TestCase):
    """The Python encoders reproduce llama2.c's ids (encode_cases.json)."""

    def check(self, name, path):
        cases_file = MODELS / "encode_cases.json"
        need(cases_file)
        mod = load_module(name, path)
        cases = json.loads(cases_file.read_text(encoding="utf-8"))["cases"]
        self.assertTrue(cases)
        toks = {}
        for case in cases:
            with self.subTest(tokenizer=case["tokenizer"], text=case["text"]):
                tpath = MODELS / case["tokenizer"]
                need(tpath)
                if tpath not in toks:
                    toks[tpath] = mod.load_tokenizer(str(tpath))
                self.assertEqual(mod.encode(toks[tpath], case["text"]), case["ids_with_bos"])

    def test_pure(self):
        self.check("llama2_pure", PURE_SCRIPT)

    def test_numpy(self):
        self.check("llama2_numpy", NUMPY_SCRIPT)


def write_v1(src, dst):
    """Rewrites a v0 (legacy) checkpoint in export.py's version-1 layout."""
    data = Path(src).read_bytes()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    kv_dim = dim * kv_heads // heads
    hs = dim // heads
    sizes = [("emb", vocab * dim), ("rms_att", layers * dim), ("wq", layers * dim * dim),
             ("wk", layers * kv_dim * dim), ("wv", layers * kv_dim * dim), ("wo", layers * dim * dim),
             ("rms_ffn", layers * dim), ("w1", layers * hidden * dim), ("w2", layers * dim * hidden),
             ("w3", layers * hidden * dim), ("rms_final", dim), ("freq", seq_len * hs)]
    if not shared:
        sizes.append(("wcls", vocab * dim))
    part, off = {}, 28
    for name, n in sizes:
        part[name] = data[off:off + 4 * n]
        off += 4 * n
    header = struct.pack("<Ii7iB", 0x616B3432, 1, dim, hidden, layers, heads, kv_heads, vocab, seq_len,
                         1 if shared else 0)
    order = ["rms_att", "rms_ffn", "rms_final", "emb", "wq", "wk", "wv", "wo", "w1", "w2", "w3"]
    if not shared:
        order.append("wcls")
    Path(dst).write_bytes(header.ljust(256, b"\0") + b"".join(part[k] for k in order))


class V1Format(unittest.TestCase):
    """stories260K rewritten in the version-1 export layout gives the same greedy text."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baselines-v1-")
        cls.v1 = Path(cls.tmp) / "stories260K-v1.bin"
        if STORY260K.is_file():
            write_v1(STORY260K, cls.v1)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check(self, impl, steps):
        need(STORY260K, TOK512)
        rc, out, err = run(impl, self.v1, ["-t", "0", "-n", str(steps)], TOK512)
        self.assertEqual(rc, 0, err)
        self.assertTrue((REFERENCE_STORY + "\n").startswith(out[:-1]) and len(out) > 100, out)
        if steps == 200:
            self.assertEqual(out, REFERENCE_STORY + "\n")

    def test_c_run(self):
        self.check("c-run", 200)

    def test_numpy(self):
        self.check("numpy", 200)

    def test_python(self):
        self.check("python", 40)


class SyntheticStories15M(unittest.TestCase):
    """A synthetic stories15M-shaped checkpoint: every implementation gives the same greedy text."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baselines-synth-")
        cls.model = Path(cls.tmp) / "stories15M-synth.bin"
        cls.problem = None
        synth = BIN / "synth"
        if not synth.is_file():
            cls.problem = "workbench synth not built (looked in WORKBENCH_BIN=%s)" % BIN
            return
        p = subprocess.run([str(synth), "--shape", "stories15M", "--seed", "7", "-o", str(cls.model)],
                           capture_output=True, timeout=TIMEOUT)
        if p.returncode != 0 or not cls.model.is_file():
            cls.problem = "synth failed (exit %d): %s" % (p.returncode, p.stderr.decode(errors="replace"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def greedy(self, impl):
        if self.problem and self.problem.startswith("workbench synth not built"):
            self.skipTest(self.problem)
        self.assertIsNone(self.problem, self.problem)
        need(TOK32K)
        rc, out, err = run(impl, self.model, ["-t", "0", "-n", "16"], TOK32K)
        self.assertEqual(rc, 0, "%s failed: %s" % (impl, err))
        parse_timing(self, impl, err)
        return out

    def check(self, impl):
        ref = self.greedy("c-run")
        self.assertGreater(len(ref), 1, "reference output is empty")
        self.assertEqual(self.greedy(impl), ref)

    def test_numpy(self):
        self.check("numpy")

    def test_python(self):
        self.check("python")

    def test_generate_naive(self):
        self.check("generate")


class BadInputs(unittest.TestCase):
    """Bad checkpoints, tokenizers and flags: exit 1 with one error line, never a traceback."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baselines-bad-")
        cls.truncated = Path(cls.tmp) / "truncated260K.bin"
        if STORY260K.is_file():
            cls.truncated.write_bytes(STORY260K.read_bytes()[:100000])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check(self, impl):
        need(STORY260K, TOK512, TOK32K)
        cases = [
            ("truncated checkpoint", [str(self.truncated), "-z", str(TOK512)], self.truncated.name),
            ("missing checkpoint", [str(Path(self.tmp) / "absent.bin"), "-z", str(TOK512)], "absent.bin"),
            ("wrong tokenizer", [str(STORY260K), "-z", str(TOK32K)], "tokenizer does not match the model"),
            ("unknown flag", [str(STORY260K), "-z", str(TOK512), "-x", "1"], "-x"),
            ("missing value", [str(STORY260K), "-z", str(TOK512), "-n"], "-n"),
            ("not a number", [str(STORY260K), "-z", str(TOK512), "-t", "abc"], "abc"),
            ("no arguments", [], None),
        ]
        head, tail, env = command(impl)
        for what, args, expect in cases:
            with self.subTest(case=what):
                p = subprocess.run(head + args + ["-n", "8"] * (what not in ("missing value",)),
                                   capture_output=True, env=env, timeout=TIMEOUT)
                err = p.stderr.decode("utf-8", "replace")
                self.assertEqual(p.returncode, 1, "exit code %d, stderr %r" % (p.returncode, err))
                self.assertNotIn("Traceback", err)
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, "expected one error line, got %r" % err)
                self.assertTrue(lines[0].strip(), "empty error line")
                if expect:
                    self.assertIn(expect, lines[0])
                self.assertEqual(p.stdout, b"")

    def test_c_run(self):
        self.check("c-run")

    def test_numpy(self):
        self.check("numpy")

    def test_python(self):
        self.check("python")


if __name__ == "__main__":
    unittest.main()
