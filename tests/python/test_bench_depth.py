"""bench_depth end to end: a small run's table and records (kind "depth"), the report's depth section built from them,
and one-line refusals of runs that cannot be made."""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import load_records, markdown_table, number  # noqa: E402

BIN = os.environ.get("WORKBENCH_BIN", "build/bin")
BENCH = os.path.join(BIN, "bench_depth")
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
MODELS = os.environ.get("WORKBENCH_MODELS", str(Path(__file__).resolve().parents[3] / "shared" / "models"))
# stories15M: 6 layers, kv_dim 288.
KV_BYTES = {"f32": 2 * 6 * 288 * 4, "q8_0": 2 * 6 * 288 // 32 * 34}


@unittest.skipUnless(os.path.exists(BENCH), f"{BENCH} is not built")
class BenchDepthTest(unittest.TestCase):
    def test_small_run_writes_a_record_per_depth_and_the_report_reads_them(self):
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run([BENCH, "--synthetic", "stories15M", "--variants", "naive,tbb", "--threads", "1",
                                  "--depth", "96,0", "--kv-type", "f32,q8_0", "-p", "8", "-n", "4",
                                  "--repetitions", "1", "--output", out],
                                 capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr[-2000:])
            records = load_records(out)
            self.assertEqual(len(records), 2 * 2 * 2)
            table = markdown_table(run.stdout, "### stories15M, 1 thread")
            self.assertEqual(len(table), len(records))
            for r in records:
                self.assertEqual((r["kind"], r["status"], r["impl"]), ("depth", "ok", "workbench"))
                self.assertIn(r["depth"], (0, 96))
                self.assertEqual((r["prompt_tokens"], r["gen_tokens"]), (8, 4))
                self.assertEqual(r["kv_bytes_per_position"], KV_BYTES[r["kv_type"]])
                self.assertEqual(r["lossy"], r["kv_type"] != "f32")
                # Filling the context is timed only when there is one.
                self.assertEqual("fill_tok_s" in r, r["depth"] > 0)
                for key in ("prefill_tok_s", "decode_tok_s", "ttft_ms"):
                    self.assertGreater(r[key]["median"], 0)
                row = next(row for row in table if (row["variant"], row["KV"], int(row["depth"])) ==
                           (r["variant"], r["kv_type"], r["depth"]))
                self.assertAlmostEqual(number(row["tg4 t/s"]), r["decode_tok_s"]["median"],
                                       delta=0.051 + 0.005 * r["decode_tok_s"]["median"])
                if r["depth"] == 0:
                    self.assertEqual(row["tg vs depth 0"], "100%")
            # Depths run in increasing order whatever order they were named in.
            self.assertEqual([r["depth"] for r in records if r["variant"] == "tbb" and r["kv_type"] == "f32"], [0, 96])
            with open(next(Path(out).glob("*.csv")), encoding="utf-8") as f:
                lines = f.read().splitlines()
            self.assertTrue(lines[0].endswith(",kv_type,depth"))
            self.assertEqual(len(lines), len(records) + 1)

            report = subprocess.run([sys.executable, str(SCRIPTS / "report_depth.py"), "--results", out],
                                    capture_output=True, text=True, timeout=300)
            self.assertEqual(report.returncode, 0, report.stderr)
            md = (Path(out) / "report" / "DEPTH.md").read_text()
            self.assertTrue((Path(out) / "report" / "depth_stories15M_1t.png").exists())
            rows = markdown_table(md, "### stories15M, 1 thread")
            self.assertEqual(len(rows), len(records))
            for r in records:
                row = next(row for row in rows if (row["variant"], row["KV"], int(row["depth"])) ==
                           (r["variant"], r["kv_type"], r["depth"]))
                self.assertAlmostEqual(number(row["tg tok/s"]), r["decode_tok_s"]["median"],
                                       delta=0.51 + 0.005 * r["decode_tok_s"]["median"])

    def test_help(self):
        run = subprocess.run([BENCH, "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0)
        for flag in ("--depth", "--kv-type", "--prompt-tokens", "--gen-tokens", "--peer", "--variants", "--threads"):
            self.assertIn(flag, run.stdout)

    def test_runs_that_cannot_be_made_get_one_line_errors(self):
        small = os.path.join(MODELS, "stories260K.bin")
        cases = [
            (["--depth", "x"], 2, "expects a whole number"),
            (["--depth", "4,,8"], 2, "empty item"),
            (["--kv-type", "f8"], 2, "f8"),
            (["--variants", "simd", "--kv-type", "f16", "--depth", "0"], 2, "does not read it"),
            (["--peer", "llama2.c=/bin/true"], 2, "measures no depth"),
            (["--synthetic", "gpt5"], 2, "unknown shape"),
            (["--bogus"], 2, "unknown option"),
            (["--synthetic", "llama3.2-1B", "--variants", "naive", "--kv-type", "f32", "--depth", "1000000"], 1, "needs"),
        ]
        if os.path.exists(small):
            cases.append((["--model", small, "--depth", "600", "-p", "8", "-n", "4"], 2,
                          "depth 600 + 8 timed positions pass stories260K's context of 512"))
        with tempfile.TemporaryDirectory() as out:
            for args, code, phrase in cases:
                run = subprocess.run([BENCH, *args, "--output", out], capture_output=True, text=True, timeout=120)
                self.assertEqual(run.returncode, code, (args, run.stderr))
                self.assertEqual(len(run.stderr.strip().splitlines()), 1, (args, run.stderr))
                self.assertIn(phrase, run.stderr)
                self.assertEqual(run.stdout, "")
            self.assertEqual(load_records(out), [])


if __name__ == "__main__":
    unittest.main()
