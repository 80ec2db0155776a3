"""bench_all end to end: the --quick smoke run that `make test` uses, its records, and interruption."""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import load_records  # noqa: E402

BIN = os.environ.get("WORKBENCH_BIN", "build/bin")
PEER_FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "peers")
BENCH = os.path.join(BIN, "bench_all")
SUMMARY_KEYS = {"samples", "median", "stddev", "min", "max"}


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
                for key in ("git_sha", "compiler", "flags", "cpu", "blas_core", "threads", "model", "model_bytes", "prompt_tokens"):
                    self.assertIn(key, r)
                self.assertEqual(r["status"], "ok", r)
                self.assertTrue(r["blas_core"], "OpenBLAS names the core it runs on")
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
            (["--rounds", "0"], "--rounds must be in"),
            (["--bogus"], "unknown option"),
            (["--threads", "1,,2"], "empty item"),
            (["--variants", ""], "needs a comma-separated list"),
            (["--model", "/nonexistent/model.bin"], "no such checkpoint file"),
            (["--output", "/proc/not-here"], "not a writable directory"),
            (["--peer", "vllm=/bin/sh"], "unknown kind 'vllm'"),
            (["--peer", "llama.cpp"], "expects KIND=PATH"),
            (["--peer", "llama.cpp="], "PATH is missing"),
            (["--peer", "llama.cpp=/nonexistent/llama-bench"], "no such executable file"),
            (["--peer", "llama2.c=/bin/sh,/nonexistent/runomp"], "no such executable file"),
            (["--peer", "llama2.c=/bin/sh", "--peer", "llama2.c=/bin/sh"], "given twice"),
        ):
            run = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(run.returncode, 0, args)
            self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
            self.assertIn(phrase, run.stderr)


def fake_peer(directory, name, body):
    """An executable shell script standing in for a peer program; it appends its arguments to name.log."""
    path = os.path.join(directory, name)
    log = shlex.quote(path + ".log")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\n{body}')
    os.chmod(path, 0o755)
    return path


@unittest.skipUnless(os.path.exists(BENCH), f"{BENCH} is not built")
class PeersTest(unittest.TestCase):
    """bench_all --peer with stand-ins that print the real programs' captured output."""

    def test_peers_run_on_like_for_like_files_and_a_failing_peer_does_not_stop_the_run(self):
        jsonl = shlex.quote(os.path.abspath(os.path.join(PEER_FIXTURES, "llama-bench-mainline-c392e50.jsonl")))
        with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as bin_dir:
            bench = fake_peer(bin_dir, "llama-bench", (
                'case "$1" in --help) echo "  -o, --output <csv|json|jsonl|md|sql>"; exit 0;; esac\n'
                '[ -s "$2" ] || { echo "main: error: failed to load model $2" >&2; exit 1; }\n'
                f'cat {jsonl}\n'))
            run = fake_peer(bin_dir, "run", (
                '[ -s "$1" ] || { echo "Couldn\'t open file $1" >&2; exit 1; }\n'
                'echo "OMP_NUM_THREADS=$OMP_NUM_THREADS" >> "$0.log"\n'
                'echo "Once upon a time"; echo "achieved tok/s: 123.500000" >&2\n'))
            broken = fake_peer(bin_dir, "runomp", 'echo "loading"; echo "run: something failed: error 42" >&2; exit 3\n')
            result = subprocess.run(
                [BENCH, "--synthetic", "stories260K", "--variants", "naive,q8,bf16", "--threads", "1",
                 "--repetitions", "2", "--prompt-tokens", "8", "--gen-tokens", "8", "--no-baselines", "--output", out,
                 "--peer", f"llama.cpp={bench}", "--peer", f"llama2.c={run}", "--peer", f"llama2.c:broken={broken}"],
                capture_output=True, text=True, timeout=600)
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            records = load_records(out)
            workbench = {r["variant"]: r for r in records if r["impl"] == "workbench"}
            peers = {r["variant"]: r for r in records if r["impl"] == "peer"}
            # fp32 and Q8_0 variants in the run: llama.cpp gets both files, llama2.c the fp32 one; nobody takes BF16.
            self.assertEqual(set(peers), {"llama.cpp F32", "llama.cpp Q8_0", "llama2.c run F32", "broken runomp F32"})
            self.assertEqual({v: r["weight_type"] for v, r in workbench.items()},
                             {"naive": "F32", "q8": "Q8_0", "bf16": "BF16"})
            P, N = workbench["naive"]["prompt_tokens"], workbench["naive"]["gen_tokens"]
            for r in peers.values():
                self.assertEqual((r["prompt_tokens"], r["gen_tokens"], r["threads"]), (P, N, 1))
                self.assertEqual(r["peer"]["version"][:7], "sha256:")  # none of them prints a build commit
            for v in ("llama.cpp F32", "llama.cpp Q8_0"):
                r = peers[v]
                self.assertEqual(r["status"], "ok", r)
                self.assertEqual(r["weight_type"], v.split()[-1])
                self.assertEqual(r["peer"]["kind"], "llama.cpp")
                self.assertEqual(r["peer"]["backend"], "CPU")
                self.assertEqual(r["decode_tok_s"]["samples"], [323.936, 324.459, 322.186])
                self.assertIsNone(r["ttft_ms"]["median"])
            l2c = peers["llama2.c run F32"]
            self.assertEqual(l2c["status"], "ok", l2c)
            self.assertEqual(l2c["decode_tok_s"]["samples"], [123.5, 123.5])
            self.assertIsNone(l2c["prefill_tok_s"]["median"])
            failed = peers["broken runomp F32"]
            self.assertEqual(failed["status"], "failed")
            self.assertEqual(failed["error"], "run: something failed: error 42")

            # The command lines the peers got, and their model files gone afterwards.
            with open(bench + ".log", encoding="utf-8") as f:
                calls = [line.split() for line in f if not line.startswith("--help")]
            self.assertEqual(len(calls), 2)
            files = []
            for argv in calls:
                self.assertEqual(argv[0], "-m")
                self.assertEqual(argv[2:], ["-p", str(P), "-n", str(N), "-r", "2", "-t", "1", "-o", "jsonl"])
                files.append(argv[1])
            self.assertEqual(sorted(os.path.basename(f) for f in files),
                             ["stories260K-f32.gguf", "stories260K-q8_0.gguf"])
            with open(run + ".log", encoding="utf-8") as f:
                lines = f.read().splitlines()
            self.assertEqual(lines.count("OMP_NUM_THREADS=1"), 3)  # a warm-up and two repetitions
            argv = lines[0].split()
            self.assertEqual(argv[1:7], ["-z", argv[2], "-t", "0", "-n", str(P + N - 1)])
            self.assertEqual(argv[7], "-i")
            files.append(argv[0])
            for f in files:
                self.assertFalse(os.path.exists(f), f)

            # One table: workbench rows and peers side by side, with like-for-like ratio columns.
            self.assertIn("| vs llama.cpp | vs llama2.c | vs broken | status |", result.stdout)
            rows = {cells[0]: cells for cells in
                    ([c.strip() for c in line.strip().strip("|").split("|")]
                     for line in result.stdout.splitlines() if line.startswith("| "))}
            header = rows["variant"]
            col = {name: header.index(name) for name in ("vs llama.cpp", "vs llama2.c", "vs broken")}
            # The table divides unrounded medians, the records hold six significant digits: equal to the last place.
            def shows_ratio(cell, ratio):
                self.assertRegex(cell, r"^\d+\.\d\dx$")
                self.assertAlmostEqual(float(cell[:-1]), ratio, delta=0.0100001)
            for variant, peer in (("naive", "llama.cpp F32"), ("q8", "llama.cpp Q8_0")):
                ratio = workbench[variant]["decode_tok_s"]["median"] / peers[peer]["decode_tok_s"]["median"]
                shows_ratio(rows[variant][col["vs llama.cpp"]], ratio)
            ratio = workbench["naive"]["decode_tok_s"]["median"] / 123.5
            shows_ratio(rows["naive"][col["vs llama2.c"]], ratio)
            self.assertEqual(rows["q8"][col["vs llama2.c"]], "—")  # no Q8_0 llama2.c
            self.assertEqual(rows["bf16"][col["vs llama.cpp"]], "—")
            self.assertEqual(rows["naive"][col["vs broken"]], "—")
            self.assertIn("failed: run: something failed: error 42", result.stdout)

    def test_rounds_alternate_variants_and_peers_and_records_carry_their_round(self):
        jsonl = shlex.quote(os.path.abspath(os.path.join(PEER_FIXTURES, "llama-bench-mainline-c392e50.jsonl")))
        with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as bin_dir:
            bench = fake_peer(bin_dir, "llama-bench", (
                'case "$1" in --help) echo "  -o, --output <csv|json|jsonl|md|sql>"; exit 0;; esac\n'
                f'cat {jsonl}\n'))
            result = subprocess.run(
                [BENCH, "--synthetic", "stories260K", "--variants", "naive,q8", "--threads", "1", "--repetitions", "1",
                 "--prompt-tokens", "8", "--gen-tokens", "8", "--no-baselines", "--rounds", "2", "--output", out,
                 "--peer", f"llama.cpp={bench}"], capture_output=True, text=True, timeout=600)
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            # In the order they ran: every variant and peer of round 1, then all of them again in round 2.
            one_round = ["naive", "q8", "llama.cpp F32", "llama.cpp Q8_0"]
            self.assertEqual([(r["variant"], r["round"]) for r in load_records(out)],
                             [(v, k) for k in (1, 2) for v in one_round])
            self.assertIn("[8/8] llama.cpp Q8_0 1 thread stories260K", result.stderr)
            self.assertIn("### stories260K, round 1 of 2", result.stdout)
            self.assertIn("### stories260K, round 2 of 2", result.stdout)


if __name__ == "__main__":
    unittest.main()
