"""scripts/report.py and scripts/compare.py on the fixture in tests/fixtures/results.

Run from the repository root: /usr/bin/python3 -m unittest tests/python/test_reports.py
Expected figures are computed here from the fixture files, independently of the scripts."""

import json
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "results"
REPORT = ROOT / "scripts" / "report.py"
COMPARE = ROOT / "scripts" / "compare.py"
PNGS = ("speedup_stories15M.png", "speedup_stories110M.png", "threads.png", "roofline.png", "profile.png",
        "positions.png")


def run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def records(*paths):
    out = []
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if isinstance(r, dict) and r.get("kind") == "e2e":
                out.append(r)
    return out


def newest(recs, fields):
    """{key: newest record}; the fixture's timestamps all share one format, so strings compare."""
    out = {}
    for r in recs:
        k = tuple(r[f] for f in fields)
        if k not in out or r["timestamp"] > out[k]["timestamp"]:
            out[k] = r
    return out


def decode(r):
    return r["decode_tok_s"]["median"]


def markdown_table(text, heading):
    """The first table after `heading`: a list of {column: cell}."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return [dict(zip(rows[0], row)) for row in rows[2:]]


def number(cell):
    return float(cell.rstrip("×%").replace(",", ""))


def png_size(path):
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise AssertionError(f"{path.name} is not a PNG image")
    return struct.unpack(">II", data[16:24])


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        cls.result = run(REPORT, "--results", FIXTURE, "--out", cls.tmp / "out")
        report = cls.tmp / "out" / "REPORT.md"
        cls.md = report.read_text() if report.exists() else ""

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def assertClose(self, cell, expected, rel=0.01, msg=None):
        self.assertAlmostEqual(number(cell), expected, delta=abs(expected) * rel, msg=msg)

    def test_runs_and_says_what_it_wrote(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        for name in PNGS + ("REPORT.md",):
            self.assertIn(name, self.result.stderr)

    def test_pngs_are_images_of_a_readable_size(self):
        for name in PNGS:
            path = self.tmp / "out" / name
            self.assertTrue(path.exists(), name)
            width, height = png_size(path)
            self.assertGreaterEqual(width, 300, name)
            self.assertGreaterEqual(height, 200, name)
            self.assertIn(f"]({name})", self.md)

    def test_summary_has_best_variant_speedups_and_ceiling(self):
        machine = json.loads((FIXTURE / "machine.json").read_text())
        latest = newest(records(*sorted(FIXTURE.glob("*.jsonl"))), ("impl", "variant", "threads", "model"))
        ok = {k: r for k, r in latest.items() if r["status"] == "ok"}
        rows = {(row["model"], int(row["threads"])): row for row in markdown_table(self.md, "## Summary")}
        expected = {(m, t) for (impl, _, t, m) in ok if impl == "workbench"}
        self.assertEqual(set(rows), expected)
        for (model, threads), row in rows.items():
            best = max((r for (impl, _, t, m), r in ok.items() if (impl, t, m) == ("workbench", threads, model)),
                       key=decode)
            where = f"{model} at {threads} threads"
            self.assertEqual(row["best variant"], best["variant"], where)
            self.assertClose(row["decode tok/s"], decode(best), msg=where)
            self.assertClose(row["prefill tok/s"], best["prefill_tok_s"]["median"], msg=where)
            for name in ("c-runfast", "numpy", "python"):
                base = ok.get(("baseline", name, threads, model)) or ok.get(("baseline", name, 1, model))
                self.assertClose(row[f"vs {name}"], decode(best) / decode(base), msg=f"{where} vs {name}")
            runs = [e for e in machine["read_bandwidth"] if e["threads"] == threads]
            fits = [e for e in runs if e["bytes"] >= best["model_bytes"]]
            gbs = (min(fits, key=lambda e: e["bytes"]) if fits else max(runs, key=lambda e: e["bytes"]))["gbs"]
            ceiling = gbs * 1e9 / best["model_bytes"]
            if best.get("agreement") is not None:  # int8/bf16 stream fewer bytes than model_bytes counts
                self.assertEqual(row["of ceiling"], "n/a", where)
                continue
            self.assertClose(row["ceiling tok/s"], ceiling, msg=where)
            self.assertAlmostEqual(number(row["of ceiling"]), 100 * decode(best) / ceiling, delta=0.51, msg=where)

    def test_best_fp32_variant_is_read_against_the_ceiling(self):
        latest = newest(records(*sorted(FIXTURE.glob("*.jsonl"))), ("impl", "variant", "threads", "model"))
        ok = [r for r in latest.values() if r["status"] == "ok" and r["impl"] == "workbench"]
        rows = markdown_table(self.md, "## Best fp32 variant")
        self.assertTrue(rows)
        for row in rows:
            exact = [r for r in ok if r["model"] == row["model"] and r["threads"] == int(row["threads"])
                     and r.get("agreement") is None]
            self.assertEqual(row["variant"], max(exact, key=decode)["variant"])

    def test_full_table_has_the_newest_record_of_each_configuration(self):
        latest = newest(records(*sorted(FIXTURE.glob("*.jsonl"))),
                        ("impl", "variant", "threads", "model", "prompt_tokens", "gen_tokens"))
        rows = {(row["model"], row["variant"], int(row["threads"])): row
                for row in markdown_table(self.md, "## All records")}
        self.assertEqual(set(rows), {(m, v, t) for (_, v, t, m, _, _) in latest})
        for (_, variant, threads, model, _, _), r in latest.items():
            row = rows[(model, variant, threads)]
            self.assertEqual(row["status"], r["status"])
            if r["status"] == "ok":
                self.assertClose(row["decode tok/s (median ± sd)"].split(" ± ")[0], decode(r))

    def test_malformed_lines_are_skipped_with_a_warning(self):
        results = self.tmp / "malformed"
        shutil.copytree(FIXTURE, results)
        with open(results / "run.jsonl", "a") as f:
            f.write('{"schema": 1, "kind": "e2e", "variant": \n[1, 2]\n{"kind": "e2e", "variant": "simd"}\n')
        result = run(REPORT, "--results", results, "--out", results / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(result.stderr.count("skipped malformed"), 3, result.stderr)
        summary = markdown_table((results / "out" / "REPORT.md").read_text(), "## Summary")
        self.assertEqual(summary, markdown_table(self.md, "## Summary"))

    def test_without_kernel_benchmarks_or_machine(self):
        results = self.tmp / "bare"
        results.mkdir()
        shutil.copy(FIXTURE / "run.jsonl", results)
        result = run(REPORT, "--results", results)
        self.assertEqual(result.returncode, 0, result.stderr)
        out = results / "report"
        self.assertFalse((out / "roofline.png").exists())
        md = (out / "REPORT.md").read_text()
        self.assertIn("roofline skipped", md)
        self.assertNotIn("](roofline.png)", md)
        self.assertTrue(all(row["of ceiling"] == "n/a" for row in markdown_table(md, "## Summary")))

    def test_position_profile_names_the_crossover(self):
        profiles = [json.loads(line) for line in (FIXTURE / "run.jsonl").read_text().splitlines()
                    if line.strip() and json.loads(line).get("kind") == "position_profile"]
        self.assertEqual(len(profiles), 1)
        self.assertIn(f"overtakes the matmuls at position {profiles[0]['attention_overtakes_matmuls_at']}", self.md)
        self.assertIn("](positions.png)", self.md)

    def test_empty_results_dir_exits_1(self):
        empty = self.tmp / "empty"
        empty.mkdir()
        result = run(REPORT, "--results", empty, "--out", empty / "out")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertFalse((empty / "out" / "REPORT.md").exists())


class CompareTest(unittest.TestCase):
    def test_speedups_match_the_fixture(self):
        a_path, b_path = FIXTURE / "run.jsonl", FIXTURE / "run_b.jsonl"
        result = run(COMPARE, a_path, b_path)
        self.assertEqual(result.returncode, 0, result.stderr)
        key = ("variant", "threads", "model")
        a, b = newest(records(a_path), key), newest(records(b_path), key)
        rows = {}
        for line in result.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("|") and cells[1].isdigit():
                rows[(cells[0], int(cells[1]), cells[2])] = cells
        self.assertEqual(set(rows), set(a) | set(b))
        both = 0
        for k, cells in rows.items():
            if k in a and k in b:
                if a[k]["status"] == b[k]["status"] == "ok":
                    both += 1
                    for col, field in ((5, "decode_tok_s"), (8, "prefill_tok_s")):
                        expected = b[k][field]["median"] / a[k][field]["median"]
                        self.assertAlmostEqual(number(cells[col]), expected, delta=0.0051, msg=f"{k} {field}")
            else:
                side = "only in A" if k in a else "only in B"
                self.assertEqual((cells[5], cells[8]), (side, side), k)
        self.assertGreater(both, 0)

    def test_missing_file_is_a_one_line_error(self):
        result = run(COMPARE, FIXTURE / "run.jsonl", FIXTURE / "no_such_run.jsonl")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertIn("no_such_run.jsonl", result.stderr)
        self.assertEqual(result.stdout, "")


if __name__ == "__main__":
    unittest.main()
