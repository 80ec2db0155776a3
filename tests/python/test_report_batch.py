"""scripts/report_batch.py (alone and through report.py) on the fixture in tests/fixtures/batch.

Expected figures are computed here from the fixture files, independently of the script."""

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import interpolated_gbs, markdown_table, number  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "fixtures" / "results"
BATCH = RESULTS / "batched.jsonl"
SCRIPT = ROOT / "scripts" / "report_batch.py"
REPORT = ROOT / "scripts" / "report.py"


def run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=300)


def fixture_records():
    """The newest well-formed batched record of each configuration."""
    out = {}
    for line in BATCH.read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") != "batched" or "batch" not in r:
            continue
        k = (r["model"], r["variant"], r["threads"], r["batch"])
        if k not in out or r["timestamp"] > out[k]["timestamp"]:
            out[k] = r
    return out


class ReportBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        results = cls.tmp / "results"
        results.mkdir()
        shutil.copy(BATCH, results)
        with open(results / BATCH.name, "a") as f:  # an e2e line (not this script's) and a batched one without B
            f.write('{"schema": 1, "kind": "e2e", "timestamp": "2024-06-05T11:00:00Z", "variant": "tbb"}\n')
            f.write(json.dumps({**json.loads(BATCH.read_text().splitlines()[0]), "batch": None,
                                "timestamp": "2030-01-01T00:00:00Z"}) + "\n")
        shutil.copy(RESULTS / "machine.json", results)
        cls.result = run(SCRIPT, "--results", results, "--out", cls.tmp / "out")
        cls.md = (cls.tmp / "out" / "BATCH.md").read_text() if (cls.tmp / "out" / "BATCH.md").exists() else ""
        cls.machine = json.loads((RESULTS / "machine.json").read_text())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def assertClose(self, cell, expected, rel=0.01, msg=None):
        self.assertAlmostEqual(number(cell), expected, delta=abs(expected) * rel, msg=msg)

    def test_runs_writes_a_plot_per_model_and_skips_the_malformed_record(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertEqual(self.result.stderr.count("skipped malformed batched record"), 1, self.result.stderr)
        for model in ("stories15M", "stories110M"):
            png = self.tmp / "out" / f"batch_{model}.png"
            self.assertTrue(png.exists())
            self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
            self.assertIn(f"](batch_{model}.png)", self.md)

    def test_rows_are_the_newest_records_read_against_memory_line_and_roof(self):
        expected = fixture_records()
        seen = set()
        for model in ("stories15M", "stories110M"):
            for row in markdown_table(self.md, f"### {model}"):
                k = (model, row["variant"], int(row["threads"]), int(row["B"]))
                seen.add(k)
                r = expected[k]
                where = str(k)
                s_tg = r["decode_tok_s"]["median"]
                self.assertClose(row["S_TG tok/s"], s_tg, msg=where)
                self.assertClose(row["S_PP tok/s"], r["prefill_tok_s"]["median"], msg=where)
                one = expected[(model, row["variant"], int(row["threads"]), 1)]["decode_tok_s"]["median"]
                self.assertClose(row["× B=1"], s_tg / one, msg=where)
                streamed = r["model_bytes"] / 4 * r["bytes_per_weight"]
                runs = [e for e in self.machine["read_bandwidth"] if e["threads"] == r["threads"]]
                line = r["batch"] * interpolated_gbs(runs, streamed) * 1e9 / streamed
                self.assertClose(row["memory line"], line, msg=where)
                peak = self.machine["int8_gops" if r["bytes_per_weight"] < 2 else "fma_gflops"][str(r["threads"])]
                roof = peak * 1e9 / (2 * r["model_bytes"] / 4)
                self.assertClose(row["roof"], roof, msg=where)
                self.assertAlmostEqual(number(row["of bound"]), 100 * s_tg / min(line, roof), delta=0.51, msg=where)
        self.assertEqual(seen, set(expected))

    def test_knees(self):
        expected = fixture_records()
        for (model, variant, threads, _), r in expected.items():
            rows = sorted((x for k, x in expected.items() if k[:3] == (model, variant, threads)), key=lambda x: x["batch"])
            best = max(x["decode_tok_s"]["median"] for x in rows)
            knee = next(x["batch"] for x in rows if x["decode_tok_s"]["median"] >= 0.9 * best)
            self.assertIn(f"- {variant}, {threads} thread(s), P={r['prompt_tokens']}, N={r['gen_tokens']}: ", self.md)
            section = self.md[self.md.index(f"### {model}"):]
            note = next(line for line in section.splitlines() if line.startswith(f"- {variant}, {threads} thread(s)"))
            self.assertIn(f"measured knee at B = {knee}", note)

    def test_report_py_adds_the_section_when_batch_records_exist(self):
        results = self.tmp / "both"
        shutil.copytree(RESULTS, results)
        result = run(REPORT, "--results", results, "--out", results / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        md = (results / "out" / "REPORT.md").read_text()
        self.assertIn("## Batched decoding", md)
        self.assertIn("](batch_stories110M.png)", md)
        self.assertTrue((results / "out" / "batch_stories110M.png").exists())
        plain = self.tmp / "plain"
        shutil.copytree(RESULTS, plain)
        (plain / BATCH.name).unlink()
        result = run(REPORT, "--results", plain, "--out", plain / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        md = (plain / "out" / "REPORT.md").read_text()
        self.assertIn("*No batched runs (bench_batched records); skipped.*", md)
        self.assertFalse(list((plain / "out").glob("batch*.png")))

    def test_without_batch_records_exits_1_with_one_line(self):
        empty = self.tmp / "empty"
        empty.mkdir()
        shutil.copy(RESULTS / "run.jsonl", empty)
        result = run(SCRIPT, "--results", empty, "--out", empty / "out")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertFalse((empty / "out" / "BATCH.md").exists())


if __name__ == "__main__":
    unittest.main()
