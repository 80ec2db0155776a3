"""trace end to end: exit status, dumps, and the NumPy baseline's dump against the workbench's."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("WORKBENCH_BIN", "build/bin")
TRACE = os.path.join(BIN, "trace")
MODELS = os.environ.get("WORKBENCH_MODELS", "../shared/models")
MODEL = os.path.join(MODELS, "stories260K.bin")
TOK = os.path.join(MODELS, "tok512.bin")
NUMPY_BASELINE = "bench/baselines/python/llama2_numpy.py"
COMPARE = "scripts/compare_dumps.py"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


@unittest.skipUnless(os.path.exists(TRACE), f"{TRACE} is not built")
class TraceCliTest(unittest.TestCase):
    def test_usage_errors_are_one_line_and_exit_2(self):
        for args in ([], ["--synthetic", "nope", "--variant", "tbb"],
                     ["--synthetic", "stories260K", "--variant", "nope"], ["--variant", "tbb", "-n", "0", MODEL],
                     ["--variant", "tbb", "--frobnicate", MODEL]):
            r = run([TRACE] + args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))

    def test_bad_model_file_exits_1(self):
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(b"not a model at all" * 10)
            f.flush()
            r = run([TRACE, f.name, "--variant", "tbb"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    @unittest.skipUnless(os.path.exists(MODEL) and os.path.exists(TOK), "stories260K.bin / tok512.bin missing")
    def test_fp32_variant_exits_0_and_numpy_dump_agrees_with_the_workbench(self):
        with tempfile.TemporaryDirectory() as d:
            wb_dir, np_dir = os.path.join(d, "wb"), os.path.join(d, "np")
            r = run([TRACE, MODEL, "-z", TOK, "--variant", "tbb", "-i", "Lily and Tom", "-n", "10", "--dump", wb_dir])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("every operation is within tolerance", r.stdout)
            with open(os.path.join(wb_dir, "naive", "index.json")) as f:
                index = json.load(f)
            stages = {t["stage"] for t in index["tensors"]}
            self.assertEqual(len(stages), 17, stages)
            self.assertTrue(os.path.exists(os.path.join(wb_dir, "tbb", index["tensors"][0]["file"])))

            r = run([sys.executable, NUMPY_BASELINE, MODEL, "-z", TOK, "-t", "0", "-n", "10", "-i", "Lily and Tom",
                     "--dump", np_dir])
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run([sys.executable, COMPARE, np_dir, os.path.join(wb_dir, "naive"), "--tolerance", "1e-4"])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            compared = {tuple(line.split()[:2]) for line in r.stdout.splitlines()[2:]}
            layers = {t["layer"] for t in index["tensors"]}
            self.assertEqual(len(compared), 15 * (len(layers) - 1) + 2, r.stdout)

    def test_compare_dumps_flags_a_difference_beyond_tolerance(self):
        import numpy as np
        with tempfile.TemporaryDirectory() as d:
            for name, value in (("a", 1.0), ("b", 1.5)):
                os.makedirs(os.path.join(d, name))
                np.save(os.path.join(d, name, "L00.q.pos0-1.npy"), np.full((2, 4), value, dtype=np.float32))
                with open(os.path.join(d, name, "index.json"), "w") as f:
                    json.dump({"variant": name, "tensors": [{"file": "L00.q.pos0-1.npy", "stage": "q", "layer": 0,
                                                             "pos0": 0, "pos1": 1, "rows": 2, "cols": 4}]}, f)
            r = run([sys.executable, COMPARE, os.path.join(d, "a"), os.path.join(d, "b"), "--tolerance", "0.1"])
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("first beyond tolerance: layer 0 q", r.stdout)
            r = run([sys.executable, COMPARE, os.path.join(d, "a"), os.path.join(d, "nowhere")])
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
