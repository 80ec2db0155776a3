"""bench_all end to end: the --quick smoke run that `make test` uses, its records, and interruption."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("WORKBENCH_BIN", "build/bin")
BENCH = os.path.join(BIN, "bench_all")
SUMMARY_KEYS = {"samples", "median", "stddev", "min", "max"}


def load_records(directory):
    records = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".jsonl"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                records += [json.loads(line) for line in f if line.strip()]
    return records


@unittest.skipUnless(os.path.exists(BENCH), f"{BENCH} is not built")
class BenchAllTest(unittest.TestCase):
    def test_quick_run_writes_one_valid_record_per_measurement(self):
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run([BENCH, "--quick", "--output", out], capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr[-2000:])
            records = load_records(out)
            variants = {r["variant"] for r in records if r["impl"] == "workbench"}
            baselines = {r["variant"] for r in records if r["impl"] == "baseline"}
            self.assertIn("naive", variants)
            self.assertGreaterEqual(len(variants), 2)
            self.assertTrue({"c-runfast", "numpy"} <= baselines, baselines)
            for r in records:
                self.assertEqual(r["schema"], 1)
                for key in ("git_sha", "compiler", "flags", "cpu", "threads", "model", "model_bytes", "prompt_tokens"):
                    self.assertIn(key, r)
                self.assertEqual(r["status"], "ok", r)
                for key in ("prefill_tok_s", "decode_tok_s", "ttft_ms"):
                    self.assertEqual(set(r[key]), SUMMARY_KEYS)
                    self.assertEqual(len(r[key]["samples"]), r["repetitions"])
                    self.assertGreater(r[key]["median"], 0)
                    self.assertLessEqual(r[key]["min"], r[key]["median"])
                    self.assertLessEqual(r[key]["median"], r[key]["max"])
            # One progress line per measurement, [k/N] with N known from the start, and a time-left estimate.
            progress = re.findall(r"^\[(\d+)/(\d+)\] (\S+) (\d+) threads? (\S+)( \(.* in, about .* left\))?:",
                                  run.stderr, re.MULTILINE)
            self.assertEqual([int(p[0]) for p in progress], list(range(1, len(records) + 1)), run.stderr[-2000:])
            self.assertEqual({int(p[1]) for p in progress}, {len(records)})
            self.assertEqual({(p[2], int(p[3]), p[4]) for p in progress},
                             {(r["variant"], r["threads"], r["model"]) for r in records})
            self.assertTrue(all(p[5] for p in progress[1:]), run.stderr[-2000:])
            # The markdown table names every measured row with its speedup columns.
            self.assertIn("| variant | threads | prefill tok/s | decode tok/s |", run.stdout)
            for v in variants | baselines:
                self.assertIn(f"| {v} |", run.stdout)
            csv = [n for n in os.listdir(out) if n.endswith(".csv")]
            self.assertEqual(len(csv), 1)
            with open(os.path.join(out, csv[0]), encoding="utf-8") as f:
                self.assertEqual(len(f.read().splitlines()), len(records) + 1)

    def test_sigint_keeps_complete_records_and_exits_non_zero(self):
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.Popen(
                [BENCH, "--synthetic", "stories15M", "--variants", "naive,simd,tiled,q8", "--threads", "1",
                 "--repetitions", "3", "--output", out],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 120
            while time.time() < deadline and not any(n.endswith(".jsonl") for n in os.listdir(out)):
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 130, stderr[-2000:])
            self.assertIn("interrupted", stderr)
            records = load_records(out)
            self.assertGreaterEqual(len(records), 1)
            self.assertLess(len(records), 4 + 5)  # stopped before the end
            for r in records:
                self.assertEqual(len(r["decode_tok_s"]["samples"]), r["repetitions"])
            self.assertIn("| naive | 1 |", stdout)  # the partial table is printed

    def test_bad_arguments_get_one_line_errors(self):
        for args, phrase in (
            (["--variants", "warp"], "unknown variant"),
            (["--threads", "0"], "--threads must be in"),
            (["--synthetic", "gpt5"], "unknown shape"),
            (["--repetitions", "x"], "expects a whole number"),
            (["--bogus"], "unknown option"),
            (["--threads", "1,,2"], "empty item"),
            (["--variants", ""], "needs a comma-separated list"),
            (["--model", "/nonexistent/model.bin"], "no such checkpoint file"),
            (["--output", "/proc/not-here"], "not a writable directory"),
        ):
            run = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(run.returncode, 0, args)
            self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
            self.assertIn(phrase, run.stderr)


if __name__ == "__main__":
    unittest.main()
