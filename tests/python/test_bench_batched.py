"""bench_batched end to end: the --quick run, its table and records, refusals of runs that cannot fit."""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import load_records  # noqa: E402

BIN = os.environ.get("WORKBENCH_BIN", "build/bin")
BENCH = os.path.join(BIN, "bench_batched")
COLUMNS = ["PP", "TG", "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s"]


def tables(stdout):
    """{heading: [row as {column: float}]} for every markdown table under a ### heading."""
    out, heading, header = {}, None, None
    for line in stdout.splitlines():
        if line.startswith("### "):
            heading, header = line[4:].strip(), None
            out[heading] = []
        elif line.startswith("|") and heading:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not cells[0].startswith("-"):
                out[heading].append(dict(zip(header, map(float, cells))))
    return out, header


@unittest.skipUnless(os.path.exists(BENCH), f"{BENCH} is not built")
class BenchBatchedTest(unittest.TestCase):
    def test_quick_run_prints_the_columns_and_writes_a_record_per_row(self):
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run([BENCH, "--quick", "--variants", "naive,tbb", "--threads", "1,2", "--output", out],
                                 capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr[-2000:])
            found, header = tables(run.stdout)
            self.assertEqual(header, COLUMNS)
            self.assertEqual(set(found), {f"stories15M, {v}, {t} thread{'s' if t > 1 else ''}"
                                          for v in ("naive", "tbb") for t in (1, 2)})
            records = load_records(out)
            self.assertEqual(len(records), 2 * 2 * 3)
            for r in records:
                self.assertEqual(r["kind"], "batched")
                self.assertEqual(r["schema"], 1)
                self.assertEqual((r["prompt_tokens"], r["gen_tokens"]), (16, 8))
                self.assertIn(r["batch"], (1, 2, 4))
                self.assertEqual(r["status"], "ok")
                self.assertEqual(r["bytes_per_weight"], 4)
                self.assertEqual(len(r["decode_tok_s"]["samples"]), r["repetitions"])
                for key in ("prefill_tok_s", "decode_tok_s", "ttft_ms"):
                    self.assertGreater(r[key]["median"], 0)
                threads = r["threads"]
                row = next(row for row in found[f"{r['model']}, {r['variant']}, {threads} thread{'s' if threads > 1 else ''}"]
                           if row["B"] == r["batch"])
                B, P, N = r["batch"], r["prompt_tokens"], r["gen_tokens"]
                self.assertEqual((row["PP"], row["TG"], row["N_KV"]), (P, N, B * (P + N)))
                # The table is the records' medians: S_TG, T_PP; the others follow from them.
                self.assertAlmostEqual(row["S_TG t/s"], r["decode_tok_s"]["median"], delta=max(0.01, 1e-5 * row["S_TG t/s"]))
                self.assertAlmostEqual(row["T_PP s"], r["ttft_ms"]["median"] / 1e3, delta=0.0006)
                t_tg = B * N / r["decode_tok_s"]["median"]
                self.assertAlmostEqual(row["T_TG s"], t_tg, delta=0.0006)
                self.assertAlmostEqual(row["T s"], row["T_PP s"] + row["T_TG s"], delta=0.0011)
            self.assertIn("bench_batched:", run.stderr)  # progress goes to stderr
            csv = [n for n in os.listdir(out) if n.endswith(".csv")]
            with open(os.path.join(out, csv[0]), encoding="utf-8") as f:
                lines = f.read().splitlines()
            self.assertIn(",batch,", lines[0])
            self.assertEqual(len(lines), len(records) + 1)

    def test_help(self):
        run = subprocess.run([BENCH, "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0)
        for flag in ("--npp", "--ntg", "--npl", "--variants", "--threads", "--synthetic", "--model", "--quick"):
            self.assertIn(flag, run.stdout)

    def test_bad_arguments_and_runs_that_cannot_fit_get_one_line_errors(self):
        with tempfile.TemporaryDirectory() as out:
            for args, code, phrase in (
                (["--npl", "0"], 2, "--npl must be in"),
                (["--npl", "1,,2"], 2, "empty item"),
                (["--npp", "x"], 2, "expects a whole number"),
                (["--variants", "warp"], 2, "unknown variant"),
                (["--synthetic", "gpt5"], 2, "unknown shape"),
                (["--bogus"], 2, "unknown option"),
                (["--model", "/nonexistent/model.bin"], 2, "no such checkpoint file"),
                (["--synthetic", "stories15M", "--npp", "200", "--ntg", "100"], 2, "pass stories15M's context of 256"),
                (["--synthetic", "tinyllama-1.1B", "--npp", "1024", "--ntg", "1024", "--npl", "4096"], 1,
                 "with 4096 sequences: needs"),
            ):
                run = subprocess.run([BENCH, *args, "--output", out], capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, code, (args, run.stderr))
                self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
                self.assertIn(phrase, run.stderr)
                self.assertEqual(run.stdout, "")
            self.assertEqual(load_records(out), [])


if __name__ == "__main__":
    unittest.main()
