"""scripts/report.py on peer records (bench_all --peer), made here: like-for-like ratios, rates a peer does not
report, the peers' builds.

Expected rows are computed in this file from the records it writes, independently of the scripts."""

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "scripts" / "report.py"
MACHINE = ROOT / "tests" / "fixtures" / "results" / "machine.json"
MODEL_BYTES = 4 * 85_000_000
CPU = json.loads(MACHINE.read_text())["cpu"]  # the report is of machine.json's CPU


def record(impl, variant, threads, wtype, decode, prefill, status="ok", peer=None, minute=0):
    def rate(v):
        return {"samples": [] if v is None else [v], "median": v, "stddev": None if v is None else 0.0,
                "min": v, "max": v}
    return {"schema": 1, "kind": "e2e", "timestamp": f"2026-11-25T10:{minute:02d}:00Z", "command": "bench_all",
            "git_sha": "abc", "compiler": "", "flags": "", "cpu": CPU, "host": "vm", "impl": impl,
            "variant": variant, "matmul": None, "attention": None, "weight_type": wtype, "peer": peer,
            "threads": threads, "model": "stories110M", "model_source": "synthetic", "model_bytes": MODEL_BYTES,
            "prompt_tokens": 64, "gen_tokens": 128, "repetitions": 1, "prefill_tok_s": rate(prefill),
            "decode_tok_s": rate(decode), "ttft_ms": rate(None if impl == "peer" else 10.0), "peak_rss_mb": 1.0,
            "status": status, "agreement": None, "error": None if status == "ok" else "boom", "profile": None}


def peer(kind, binary, version="c392e50"):
    return {"kind": kind, "name": kind, "binary": binary, "version": version, "backend": "CPU"}


LLAMA_CPP = peer("llama.cpp", "/x/llama-bench")
LLAMA2C = peer("llama2.c", "/x/runomp", "sha256:" + "0" * 64)
RECORDS = [
    record("workbench", "simd", 1, "F32", 28.0, 300.0),
    record("workbench", "tbb", 1, "F32", 30.0, 900.0),
    record("workbench", "tbb", 2, "F32", 55.0, 1500.0),
    record("workbench", "q8", 1, "Q8_0", 95.0, 2500.0),
    record("workbench", "tbb-q8", 2, "Q8_0", 240.0, 4000.0),
    record("workbench", "bf16", 1, "BF16", 50.0, 1000.0),
    record("baseline", "c-runfast", 1, "F32", 27.0, 27.0),
    record("peer", "llama.cpp F32", 1, "F32", 34.0, 1200.0, peer=LLAMA_CPP),
    record("peer", "llama.cpp F32", 2, "F32", 64.0, 2000.0, peer=LLAMA_CPP),
    record("peer", "llama.cpp Q8_0", 1, "Q8_0", 69.0, 3000.0, peer=LLAMA_CPP),
    record("peer", "llama.cpp Q8_0", 2, "Q8_0", 133.0, 5000.0, peer=LLAMA_CPP),
    record("peer", "llama2.c runomp F32", 1, "F32", 32.0, None, peer=LLAMA2C),
    record("peer", "llama2.c runomp F32", 2, "F32", 59.0, None, peer=LLAMA2C),
    record("peer", "llama.cpp Q4_0", 1, "Q4_0", None, None, status="failed", peer=LLAMA_CPP),
]


def table_after(text, heading):
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")))))
    return rows


class ReportPeersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)

    def report(self, records):
        results = self.tmp / "results"
        results.mkdir(exist_ok=True)
        shutil.copy(MACHINE, results)
        (results / "run.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        run = subprocess.run([sys.executable, str(REPORT), "--results", str(results), "--out", str(results / "out")],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertNotIn("Traceback", run.stderr)
        self.assertNotIn("skipped malformed", run.stderr)  # peer records without prefill or TTFT are valid
        return results / "out"

    def test_each_peer_beside_the_best_variant_of_its_format(self):
        out = self.report(RECORDS)
        self.assertTrue((out / "summary.png").stat().st_size > 0)
        md = (out / "REPORT.md").read_text()
        rows = table_after(md, "### Best workbench variant of each number format")
        formats = {"F32": "fp32", "Q8_0": "int8", "Q4_0": "int4", "BF16": "bf16"}
        ok_peers = [r for r in RECORDS if r["impl"] == "peer" and r["status"] == "ok"]
        for row in rows:
            mine = [r for r in RECORDS if r["impl"] == "workbench" and r["threads"] == int(row["threads"])
                    and formats[r["weight_type"]] == row["format"]]
            best = max(mine, key=lambda r: r["decode_tok_s"]["median"])
            self.assertEqual(row["decode: best variant"], best["variant"])
            theirs = [p for p in ok_peers if formats[p["weight_type"]] == row["format"] and p["threads"] == best["threads"]]
            cell = row["decode vs peers"]
            if not theirs:
                self.assertEqual(cell, "n/a")  # BF16: no peer takes it; the failed Q4_0 peer is left out
            for p in theirs:
                expected = best["decode_tok_s"]["median"] / p["decode_tok_s"]["median"]
                self.assertIn(f"{expected:.2f}× {p['variant']}", cell)
        # The headline's prefill comparison skips llama2.c, which reports no prefill.
        headline = md[:md.index("## Figures")]
        self.assertNotIn("llama2.c runomp F32", headline.split("fastest prefill")[1].split("\n")[0])
        # Each peer's build in the machine table, and its records with the rest, unmeasured rates as n/a.
        machine = {row[""]: row["value"] for row in table_after(md, "### Machine and build")}
        self.assertEqual(machine["peer llama.cpp Q8_0"], "`/x/llama-bench` c392e50")
        records = table_after(md, "## All records")
        l2c = [r for r in records if r["variant"] == "llama2.c runomp F32"]
        self.assertEqual(len(l2c), 2)
        self.assertTrue(all(r["prefill tok/s"] == "n/a" for r in l2c))

    def test_ab_rounds_give_the_median_of_the_ratios_within_each_round(self):
        def rounded(r, k, minute, command="bench_all --rounds 3"):
            return dict(r, round=k, command=command, timestamp=f"2026-11-25T10:{minute:02d}:00Z")
        # Three rounds of one run; the machine slows in round 2 for both, so a ratio across rounds would mislead.
        mine = [(100.0, 1), (60.0, 2), (110.0, 3)]
        theirs = [(50.0, 1), (40.0, 2), (100.0, 3)]
        records = [rounded(record("workbench", "tbb-q8", 2, "Q8_0", d, 4000.0), k, 10 * k) for d, k in mine]
        records += [rounded(record("peer", "llama.cpp Q8_0", 2, "Q8_0", d, 5000.0, peer=LLAMA_CPP), k, 10 * k + 5)
                    for d, k in theirs]
        # An older run of another command with its own round 1: not part of the run above.
        records += [rounded(record("peer", "llama.cpp Q8_0", 2, "Q8_0", 1.0, 5000.0, peer=LLAMA_CPP), 1, 1, "other")]
        out = self.report(records)
        rows = table_after((out / "REPORT.md").read_text(), "### Best workbench variant of each number format")
        ratios = sorted(d / t for (d, _), (t, _) in zip(mine, theirs))  # 1.10, 1.50, 2.00
        self.assertEqual(rows[0]["decode tok/s"], "110")  # the last round's record is the one shown
        self.assertEqual(rows[0]["decode vs peers"],
                         f"{ratios[1]:.2f}× [{ratios[0]:.2f}–{ratios[2]:.2f}×, 3 rounds] llama.cpp Q8_0")

    def test_no_peers_no_peer_column(self):
        out = self.report([r for r in RECORDS if r["impl"] != "peer"])
        rows = table_after((out / "REPORT.md").read_text(), "### Best workbench variant of each number format")
        self.assertNotIn("decode vs peers", rows[0])


if __name__ == "__main__":
    unittest.main()
