"""scripts/run_kernel_sweep.py: its progress and time-left arithmetic, and a real sweep of two small families.

Run from the repository root: /usr/bin/python3 -m unittest tests/python/test_kernel_sweep.py"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_kernel_sweep.py"
BENCH = Path(os.environ.get("WORKBENCH_BIN", ROOT / "build" / "bin")) / "bench_kernels"
spec = importlib.util.spec_from_file_location("run_kernel_sweep", SCRIPT)
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)
# Two cheap families, four benchmarks each.
SMALL = r"^attention\.(naive|simd)/hs48/pos:128/"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


class Arithmetic(unittest.TestCase):
    def test_durations_match_bench_all(self):
        for seconds, text in ((0.42, "0.4 s"), (9.0, "9.0 s"), (45.4, "45 s"), (59.6, "1 min 00 s"),
                              (185, "3 min 05 s"), (3720, "1 h 02 min"), (-3, "0.0 s")):
            self.assertEqual(sweep.duration(seconds), text)

    def test_families_keep_the_listing_order(self):
        names = ["matmul.tbb/a/m:1/threads:1", "matmul.tbb/b/m:1/threads:1", "attention.flash/hs64/pos:128/m:1",
                 "matmul.q8/a/m:1/threads:1"]
        self.assertEqual(list(sweep.families(names).items()),
                         [("matmul.tbb", names[:2]), ("attention.flash", names[2:3]), ("matmul.q8", names[3:])])

    def test_exact_filter_matches_those_names_only(self):
        names = ["matmul.tbb/stories15M.wq/m:1/threads:2/real_time", "matmul.tbb-q8/tinyllama-1.1B.w1/m:16/threads:1"]
        pattern = re.compile(sweep.exact_filter(names))
        for name in names:
            self.assertTrue(pattern.search(name), name)
        for other in ("matmul.tbb/stories15M.wq/m:1/threads:2", "matmulxtbb/stories15M.wq/m:1/threads:2/real_time",
                      "matmul.tbb-q8/tinyllama-1.1B.w1/m:16/threads:16", "x" + names[0]):
            self.assertFalse(pattern.search(other), other)

    def test_estimates_come_from_history_else_from_this_runs_pace(self):
        history = {"matmul.tbb": {"seconds": 60.0, "benchmarks": 100}}
        self.assertAlmostEqual(sweep.estimate(50, history["matmul.tbb"], pace=9.0), 30.0)  # history wins
        self.assertAlmostEqual(sweep.estimate(50, None, pace=0.5), 25.0)
        self.assertIsNone(sweep.estimate(50, None, pace=None))
        self.assertAlmostEqual(sweep.time_left({"matmul.tbb": 100, "matmul.q8": 10}, history, pace=2.0), 80.0)
        self.assertIsNone(sweep.time_left({"matmul.q8": 10}, history, pace=None))

    def test_family_line_says_n_of_N_and_the_time_left(self):
        self.assertEqual(sweep.family_line(3, 14, "matmul.tbb", 78, 210, 916, 250),
                         "  family 3 of 14: matmul.tbb, 78 benchmarks (210 of 916 done, about 4 min 10 s left)")
        self.assertEqual(sweep.family_line(1, 14, "matmul.naive", 31, 0, 916, None),
                         "  family 1 of 14: matmul.naive, 31 benchmarks (0 of 916 done)")


class BadArguments(unittest.TestCase):
    def test_missing_program_is_a_one_line_error(self):
        result = run("--bench", "/nonexistent/bench_kernels", "--out", "/tmp/never.json")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertIn("/nonexistent/bench_kernels", result.stderr)

    def test_bad_exclude_regex_exits_2(self):
        result = run("--exclude", "(", "--out", "/tmp/never.json")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)


@unittest.skipUnless(BENCH.exists(), f"{BENCH} is not built")
class RealSweep(unittest.TestCase):
    def test_one_line_per_family_raw_lines_in_the_log_and_one_merged_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "kernels.json"
            args = ("--bench", BENCH, "--filter", SMALL, "--min-time", "0.01", "--out", out)
            first = run(*args)
            self.assertEqual(first.returncode, 0, first.stderr)
            lines = first.stdout.splitlines()
            self.assertEqual(len(lines), 4, first.stdout)  # a header, one line per family, a closing line
            self.assertTrue(lines[1].startswith("  family 1 of 2: attention.naive, 4 benchmarks (0 of 8 done)"), lines)
            self.assertTrue(lines[2].startswith("  family 2 of 2: attention.simd, 4 benchmarks (4 of 8 done, about "),
                            lines)
            self.assertNotIn("attention.naive/hs48", first.stdout)
            log = out.with_suffix(".log").read_text()
            for family in ("attention.naive", "attention.simd"):
                self.assertIn(f"## {family}", log)
                self.assertEqual(log.count(f"{family}/hs48/pos:128/"), 4, log)
            data = json.loads(out.read_text())
            names = [b["name"] for b in data["benchmarks"]]
            self.assertEqual(len(names), 8)
            self.assertEqual({n.split("/")[0] for n in names}, {"attention.naive", "attention.simd"})
            self.assertEqual({f: t["benchmarks"] for f, t in data["context"]["family_seconds"].items()},
                             {"attention.naive": 4, "attention.simd": 4})
            # The next run estimates its first family from this one's timings.
            again = run(*args)
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertIn("(0 of 8 done, about ", again.stdout.splitlines()[1])

    def test_exclude_and_no_match(self):
        with tempfile.TemporaryDirectory() as tmp:
            result = run("--bench", BENCH, "--filter", SMALL, "--exclude", ".", "--out", Path(tmp) / "k.json")
            self.assertEqual(result.returncode, 2)
            self.assertIn("no benchmark matches", result.stderr)
            self.assertFalse((Path(tmp) / "k.json").exists())


if __name__ == "__main__":
    unittest.main()
