"""scripts/report.py and scripts/compare.py on the fixture in tests/fixtures/results and on subsets of it.

Run from the repository root: /usr/bin/python3 -m unittest tests/python/test_reports.py
Expected figures are computed here from the fixture files, independently of the scripts."""

import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import interpolated_gbs, markdown_table, number  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "results"
REPORT = ROOT / "scripts" / "report.py"
COMPARE = ROOT / "scripts" / "compare.py"
SUMMARY_BASELINES = ("c-runfast", "c-runomp", "numpy", "python")
# Bytes per weight of each format, and how a record's name tells its format (the report's documented rules).
BYTES = {"fp32": 4.0, "bf16": 2.0, "int8": 1.0625, "int4": 0.5625, "Q4_K": 144 / 256, "Q5_K": 176 / 256,
         "Q6_K": 210 / 256}
PEER_BYTES = dict(BYTES, fp16=2.0)


def run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def lines_of(path):
    out = []
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict):
            out.append(r)
    return out


def records(directory):
    """The e2e records of the report's machine: machine.json's CPU, else the newest record's."""
    every = [r for path in sorted(Path(directory).glob("*.jsonl")) for r in lines_of(path) if r.get("kind") == "e2e"]
    machine = Path(directory) / "machine.json"
    cpu = json.loads(machine.read_text()).get("cpu") if machine.exists() else None
    cpu = cpu or max(every, key=lambda r: r["timestamp"]).get("cpu")
    return [r for r in every if r.get("cpu") == cpu]


def newest(recs, fields):
    """{key: newest record}; the fixture's timestamps all share one format, so strings compare."""
    out = {}
    for r in recs:
        k = tuple(r[f] for f in fields)
        if k not in out or r["timestamp"] > out[k]["timestamp"]:
            out[k] = r
    return out


def ok_runs(directory):
    return [r for r in newest(records(directory), ("impl", "variant", "threads", "model")).values() if r["status"] == "ok"]


def fmt(r):
    if r["impl"] == "baseline":
        return "fp32"
    if r["impl"] == "peer":
        words = r["variant"].upper().split()
        for prefix, name in (("Q4_K", "Q4_K"), ("Q5_K", "Q5_K"), ("Q6_K", "Q6_K"), ("Q4", "int4"), ("Q8", "int8"), ("BF16", "bf16"), ("F16", "fp16"), ("F32", "fp32")):
            if any(w.startswith(prefix) for w in words):
                return name
        return "fp32"
    kernel = (r.get("matmul") or r["variant"]).replace("matmul.", "")
    parts = kernel.split("-")
    for k_type in ("q4_k", "q5_k", "q6_k"):
        if k_type in parts:
            return k_type.upper()
    return "int4" if "q4" in parts else "int8" if "q8" in parts else "bf16" if "bf16" in parts else "fp32"


def bytes_per_weight(r):
    return (PEER_BYTES if r["impl"] == "peer" else BYTES)[fmt(r)]


def decode(r):
    return r["decode_tok_s"]["median"]


def prefill(r):
    return r["prefill_tok_s"]["median"]


def expected_ceiling(directory, r):
    """Read bandwidth at the weight bytes the record streams, interpolated on log-log axes between the measured
    working sets either side (the nearest one outside them), divided by those bytes; None without machine.json."""
    path = Path(directory) / "machine.json"
    if not path.exists():
        return None
    model = [x for x in records(directory) if x["model"] == r["model"]]
    fp32 = [x["model_bytes"] / 4 for x in model if fmt(x) == "fp32"]
    weights = max(fp32) if fp32 else min(x["model_bytes"] / bytes_per_weight(x) for x in model)
    nbytes = min(r["model_bytes"], weights * bytes_per_weight(r))
    runs = [e for e in json.loads(path.read_text())["read_bandwidth"] if e["threads"] == r["threads"]]
    return interpolated_gbs(runs, nbytes) * 1e9 / nbytes


def png_size(path):
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise AssertionError(f"{path.name} is not a PNG image")
    return struct.unpack(">II", data[16:24])


def summary_lines(md):
    """The bullet lines REPORT.md opens with."""
    lines = md.split("\n\n", 2)[1].splitlines()
    assert all(line.startswith("- ") for line in lines), lines
    return [line[2:] for line in lines]


DECODE_LINE = re.compile(r"fastest (\w+) decode on (\S+): (\S+), ([\d.]+) tok/s at (\d+) threads?"
                         r"(?:, (\d+)% of the read ceiling)?((?:, [\d.]+× [^,]+)*)$")
PREFILL_LINE = re.compile(r"fastest prefill on (\S+): (\S+) \((\w+)\), ([\d.]+) tok/s at (\d+) threads?"
                          r"((?:, [\d.]+× [^,]+)*)$")
BASELINE_LINE = re.compile(r"fp32 decode on (\S+) against the fastest baseline at (\d+) threads?: (\S+) ([\d.]+)× "
                           r"(\S+) \(([\d.]+) tok/s\)$")


def subset(name, keep=lambda r: True, edit=None, files=("*.jsonl", "*.json"), others=True):
    """A copy of the fixture in a temporary directory with only the e2e and batched records `keep` accepts, each passed
    through `edit`; other lines (position profiles, malformed lines) kept when `others`; only the files the
    globs name."""
    def make(tmp):
        out = tmp / name
        out.mkdir()
        for pattern in files:
            for path in FIXTURE.glob(pattern):
                if path.suffix != ".jsonl":
                    shutil.copy(path, out / path.name)
                    continue
                lines = []
                for line in path.read_text().splitlines():
                    try:
                        r = json.loads(line)
                    except ValueError:
                        r = None
                    if isinstance(r, dict) and r.get("kind") in ("e2e", "batched"):
                        if keep(r):
                            lines.append(json.dumps(edit(r) if edit else r))
                    elif others:
                        lines.append(line)
                (out / path.name).write_text("\n".join(lines) + "\n")
        return out
    return make


class ReportCase:
    """The report of one results directory: it runs, says what is absent, draws what is present, and its
    summary lines and tables hold the numbers computed here from the same records."""
    make = None  # tmp -> results directory
    absent = ()  # parts the report must name as absent

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        cls.results = FIXTURE if cls.make is None else cls.make(cls.tmp)
        cls.out = cls.tmp / "out"
        cls.result = run(REPORT, "--results", cls.results, "--out", cls.out)
        report = cls.out / "REPORT.md"
        cls.md = report.read_text() if report.exists() else ""
        cls.ok = ok_runs(cls.results)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def assertClose(self, cell, expected, rel=0.01, msg=None):
        self.assertAlmostEqual(number(cell), expected, delta=abs(expected) * rel, msg=msg)

    def test_runs_and_draws_every_figure_it_names(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertNotIn("Traceback", self.result.stderr)
        named = re.findall(r"\]\(([\w.-]+\.png)\)", self.md)
        self.assertTrue(named)
        for name in named:
            path = self.out / name
            self.assertTrue(path.exists(), name)
            self.assertIn(f"wrote {path}", self.result.stderr)
            width, height = png_size(path)
            self.assertGreaterEqual(width, 300, name)
            self.assertGreaterEqual(height, 200, name)
        self.assertEqual(sorted(p.name for p in self.out.glob("*.png")), sorted(named))

    def test_names_what_is_absent(self):
        said = re.search(r"Not in these results: (.*)\.$", self.md, re.MULTILINE)
        self.assertEqual(set(said.group(1).split(", ")) if said else set(), set(self.absent), self.md[:1500])

    def test_opens_with_a_summary_computed_from_the_records(self):
        lines = summary_lines(self.md)
        self.assertLessEqual(len(lines), 5)
        workbench = [r for r in self.ok if r["impl"] == "workbench"]
        if not workbench:
            self.assertEqual(lines, ["no successful workbench runs in these records"])
            return
        fp32_bytes = {}
        for r in records(self.results):
            if fmt(r) == "fp32":
                fp32_bytes[r["model"]] = max(fp32_bytes.get(r["model"], 0), r["model_bytes"])
        model = max({r["model"] for r in workbench}, key=lambda m: fp32_bytes[m])
        mine = [r for r in workbench if r["model"] == model]
        decode_lines = [DECODE_LINE.match(line) for line in lines if line.startswith("fastest") and " decode " in line]
        formats = [f for f in ("fp32", "bf16", "int8", "int4", "Q6_K", "Q5_K", "Q4_K") if any(fmt(r) == f for r in mine)]
        self.assertEqual([m.group(1) for m in decode_lines if m], formats[:len(decode_lines)], lines)
        self.assertTrue(all(decode_lines), lines)
        for m in decode_lines:
            best = max((r for r in mine if fmt(r) == m.group(1)), key=decode)
            where = f"{m.group(1)} line: {m.group(0)}"
            self.assertEqual((m.group(2), m.group(3), int(m.group(5))), (model, best["variant"], best["threads"]),
                             where)
            self.assertAlmostEqual(float(m.group(4)), decode(best), delta=decode(best) * 0.006, msg=where)
            ceiling = expected_ceiling(self.results, best)
            if ceiling is None:
                self.assertIsNone(m.group(6), where)
            else:
                self.assertAlmostEqual(int(m.group(6)), 100 * decode(best) / ceiling, delta=0.51, msg=where)
            peers = sorted((r for r in self.ok if r["impl"] == "peer" and r["model"] == model
                            and r["threads"] == best["threads"] and fmt(r) == fmt(best)), key=lambda r: r["variant"])
            said = re.findall(r", ([\d.]+)× ([^,]+)", m.group(7))
            self.assertEqual([name for _, name in said], [p["variant"] for p in peers], where)
            for (times, _), peer in zip(said, peers):
                expected = decode(best) / decode(peer)
                self.assertAlmostEqual(float(times), expected, delta=0.006 * expected, msg=where)
        prefill_line = next(line for line in lines if line.startswith("fastest prefill"))
        m = PREFILL_LINE.match(prefill_line)
        self.assertTrue(m, prefill_line)
        best = max(mine, key=prefill)
        self.assertEqual((m.group(1), m.group(2), m.group(3), int(m.group(5))),
                         (model, best["variant"], fmt(best), best["threads"]), prefill_line)
        self.assertAlmostEqual(float(m.group(4)), prefill(best), delta=prefill(best) * 0.006)
        baseline_lines = [BASELINE_LINE.match(line) for line in lines if "against the fastest baseline" in line]
        fp32 = max((r for r in mine if fmt(r) == "fp32"), key=decode, default=None)
        bases = [r for r in self.ok if r["impl"] == "baseline" and r["model"] == model
                 and fp32 and r["threads"] == fp32["threads"]]
        if baseline_lines:
            m = baseline_lines[0]
            base = max(bases, key=decode)
            self.assertEqual((m.group(3), m.group(5), int(m.group(2))),
                             (fp32["variant"], base["variant"], fp32["threads"]))
            expected = decode(fp32) / decode(base)
            self.assertAlmostEqual(float(m.group(4)), expected, delta=0.006 * expected)
        else:  # left out only for want of room or of a baseline
            self.assertTrue(len(lines) == 5 or not bases, lines)

    def test_format_table_has_the_best_of_each_format(self):
        rows = markdown_table(self.md, "### Best workbench variant of each number format")
        workbench = [r for r in self.ok if r["impl"] == "workbench"]
        keys = {(r["model"], r["threads"], fmt(r)) for r in workbench}
        self.assertEqual({(row["model"], int(row["threads"]), row["format"]) for row in rows}, keys)
        for row in rows:
            where = f"{row['model']} {row['threads']} {row['format']}"
            mine = [r for r in workbench if (r["model"], r["threads"], fmt(r)) == (row["model"], int(row["threads"]),
                                                                                 row["format"])]
            best = max(mine, key=decode)
            self.assertEqual(row["decode: best variant"], best["variant"], where)
            self.assertClose(row["decode tok/s"], decode(best), msg=where)
            self.assertEqual(row["prefill: best variant"], max(mine, key=prefill)["variant"], where)
            ceiling = expected_ceiling(self.results, best)
            if ceiling is None:
                self.assertEqual(row["of ceiling"], "n/a", where)
            else:
                self.assertClose(row["read ceiling tok/s"], ceiling, msg=where)
                self.assertAlmostEqual(number(row["of ceiling"]), 100 * decode(best) / ceiling, delta=0.51, msg=where)
            for name in SUMMARY_BASELINES:
                column = f"decode vs {name}"
                base = [r for r in self.ok if (r["impl"], r["variant"], r["model"]) == ("baseline", name, row["model"])]
                base = next((r for t in (best["threads"], 1) for r in base if r["threads"] == t), None)
                if not any(r["impl"] == "baseline" and r["variant"] == name for r in self.ok):
                    self.assertNotIn(column, row)
                elif base:
                    self.assertClose(row[column], decode(best) / decode(base), msg=f"{where} {column}")
                else:
                    self.assertEqual(row[column], "n/a")

    def test_full_table_has_the_newest_record_of_each_configuration(self):
        latest = newest(records(self.results),
                        ("impl", "variant", "threads", "model", "prompt_tokens", "gen_tokens"))
        rows = markdown_table(self.md, "### All records")
        self.assertEqual(len(rows), len(latest))
        got = {(row["model"], row["impl"], row["variant"], int(row["threads"]), int(row["prompt"]), int(row["gen"])): row
               for row in rows}
        for (impl, variant, threads, model, prompt, gen), r in latest.items():
            row = got[(model, impl, variant, threads, prompt, gen)]
            self.assertEqual(row["status"], r["status"])
            self.assertEqual(row["format"], fmt(r))
            if r["status"] == "ok":
                self.assertClose(row["decode tok/s (median ± sd)"].split(" ± ")[0], decode(r))


class FullFixture(ReportCase, unittest.TestCase):
    """Every part: workbench runs of all four formats, baselines, peers, batches, profiles, kernels, machine."""

    def test_figures_of_every_part(self):
        for name in ("summary.png", "roofline.png", "bandwidth.png", "threads.png", "positions.png",
                     "batch_stories110M.png", "batch_stories15M.png", "profile_stories110M.png", "profile_stories15M.png"):
            self.assertIn(f"]({name})", self.md)

    def test_depth_section_has_a_row_per_newest_depth_record(self):
        self.assertIn("](depth_stories15M_2t.png)", self.md)
        depth = [json.loads(line) for line in (FIXTURE / "depth.jsonl").read_text().splitlines()]
        rows = markdown_table(self.md, "### stories15M, 2 threads")
        self.assertEqual(len(rows), len(depth))
        for r in depth:
            row = next(x for x in rows if (x["variant"], x["KV"], int(x["depth"])) == (r["variant"], r["kv_type"], r["depth"]))
            self.assertAlmostEqual(number(row["tg tok/s"]), r["decode_tok_s"]["median"], delta=0.5 + 0.005 * r["decode_tok_s"]["median"])
            zero = next(x for x in depth if (x["variant"], x["kv_type"], x["depth"]) == (r["variant"], r["kv_type"], 0))
            self.assertAlmostEqual(number(row["of depth 0"]), 100 * r["decode_tok_s"]["median"] / zero["decode_tok_s"]["median"], delta=0.51)
            self.assertEqual(row["prompt of depth tok/s"] == "n/a", r["depth"] == 0)

    def test_peers_sit_in_the_summary_and_the_table(self):
        self.assertIn("llama.cpp F32", summary_lines(self.md)[0])
        rows = markdown_table(self.md, "### Best workbench variant of each number format")
        row = next(r for r in rows if (r["model"], r["threads"], r["format"]) == ("stories110M", "2", "int8"))
        peer = next(r for r in self.ok if r["variant"] == "llama.cpp Q8_0" and r["threads"] == 2)
        best = max((r for r in self.ok if r["impl"] == "workbench" and r["model"] == "stories110M"
                    and r["threads"] == 2 and fmt(r) == "int8"), key=decode)
        self.assertEqual(row["decode vs peers"], f"{decode(best) / decode(peer):.2f}× llama.cpp Q8_0")

    def test_position_profile_names_the_crossover(self):
        profiles = [r for r in lines_of(FIXTURE / "run.jsonl") if r.get("kind") == "position_profile"]
        self.assertEqual(len(profiles), 1)
        self.assertIn(f"overtakes the matmuls at position {profiles[0]['attention_overtakes_matmuls_at']}", self.md)

    def test_every_probe_peak_is_in_the_machine_table(self):
        machine = json.loads((FIXTURE / "machine.json").read_text())
        rows = {row[""]: row["value"] for row in markdown_table(self.md, "### Machine and build")}
        for key, what in (("fma_gflops", "fp32 FMA peak"), ("bf16_gflops", "bf16 dot peak"),
                          ("int8_gops", "int8 VNNI peak")):
            for t, v in machine[key].items():
                self.assertIn(f"{v:.0f} at {t} thread", rows[what])


OTHER_CPU = "Intel(R) Xeon(R) Other"


class OtherMachinesLeftOut(ReportCase, unittest.TestCase):
    """Records of another CPU beside the fixture's (a committed run of another machine, then `make bench` here):
    the report is of machine.json's CPU alone, says what it left out, and none of the other CPU's numbers (ten
    times faster, peers included) reach a summary line or a table."""

    @staticmethod
    def make(tmp):
        out = subset("two_machines")(tmp)
        foreign = []
        for r in records(out):
            r = dict(r, cpu=OTHER_CPU, timestamp="2030-01-01T00:00:00Z")
            for field in ("prefill_tok_s", "decode_tok_s"):
                if isinstance(r.get(field), dict) and r[field].get("median") is not None:
                    r[field] = dict(r[field], median=10 * r[field]["median"])
            foreign.append(json.dumps(r))
        (out / "other.jsonl").write_text("\n".join(foreign) + "\n")
        bench = json.loads((out / "bench_kernels.json").read_text())
        bench.setdefault("context", {})["cpu"] = OTHER_CPU
        (out / "bench_kernels_other.json").write_text(json.dumps(bench))
        return out

    def setUp(self):
        self.ok = ok_runs(FIXTURE)  # the fixture's own records are what the report must hold

    def test_names_what_it_left_out(self):
        n = len(records(FIXTURE))
        self.assertIn(f"Records of other machines left out: {n} of {OTHER_CPU}", self.md)
        self.assertIn("kernel benchmarks of other CPUs", self.md)
        self.assertIn("all run on AMD EPYC 9B14", self.md)


class WithoutBaselines(ReportCase, unittest.TestCase):
    make = subset("no_baselines", keep=lambda r: r["impl"] != "baseline")
    absent = ("baselines",)


class WithoutPeers(ReportCase, unittest.TestCase):
    make = subset("no_peers", keep=lambda r: r["impl"] != "peer")
    absent = ("peers",)

    def test_no_peer_column_or_ratio(self):
        self.assertNotIn("decode vs peers", self.md)
        self.assertFalse(any("llama.cpp" in line for line in summary_lines(self.md)))


class WithoutProfiles(ReportCase, unittest.TestCase):
    make = subset("no_profile", edit=lambda r: {**r, "profile": None}, others=False)
    absent = ("per-op profiles", "position profile", "depth runs")

    def test_says_the_profile_is_skipped(self):
        self.assertIn("No records with a profile; profile skipped.", self.md)
        self.assertIn("No position profile", self.md)


class OneModel(ReportCase, unittest.TestCase):
    make = subset("one_model", keep=lambda r: r["model"] == "stories15M")
    absent = ()


class WithoutBatches(ReportCase, unittest.TestCase):
    make = subset("no_batches", keep=lambda r: r["kind"] == "e2e")
    absent = ("batched runs",)

    def test_says_there_are_no_batches(self):
        self.assertIn("No batched runs", self.md)
        self.assertFalse(list(self.out.glob("batch*.png")))


class WithoutBf16Peak(ReportCase, unittest.TestCase):
    """A machine.json older than the probe's bf16 key: the bf16 panel has no compute roof, and says so."""

    @staticmethod
    def make(tmp):
        out = subset("no_bf16_peak")(tmp)
        machine = json.loads((out / "machine.json").read_text())
        del machine["bf16_gflops"]
        (out / "machine.json").write_text(json.dumps(machine))
        return out

    def test_the_peak_reads_not_measured(self):
        rows = {row[""]: row["value"] for row in markdown_table(self.md, "### Machine and build")}
        self.assertEqual(rows["bf16 dot peak"], "not measured")


class WithoutKernelsOrMachine(ReportCase, unittest.TestCase):
    make = subset("bare", files=("run.jsonl",))
    absent = ("peers", "batched runs", "depth runs", "kernel benchmarks (bench_kernels*.json)", "machine limits (machine.json)")

    def test_roofline_skipped_and_ceilings_unknown(self):
        self.assertFalse((self.out / "roofline.png").exists())
        self.assertIn("roofline skipped", self.md)
        rows = markdown_table(self.md, "### Best workbench variant of each number format")
        self.assertTrue(rows)
        self.assertTrue(all(row["of ceiling"] == "n/a" for row in rows))


class OnlyBaselines(ReportCase, unittest.TestCase):
    make = subset("only_baselines", keep=lambda r: r["impl"] == "baseline", files=("run.jsonl", "*.json"))
    absent = ("workbench runs", "peers", "batched runs", "depth runs", "per-op profiles")


class MalformedLines(unittest.TestCase):
    def test_are_skipped_with_a_warning(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "malformed"
            shutil.copytree(FIXTURE, results)
            with open(results / "run.jsonl", "a") as f:
                f.write('{"schema": 1, "kind": "e2e", "variant": \n[1, 2]\n{"kind": "e2e", "variant": "simd"}\n')
            result = run(REPORT, "--results", results, "--out", results / "out")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertNotIn("Traceback", result.stderr)
            self.assertEqual(result.stderr.count("skipped malformed"), 3, result.stderr)
            clean = run(REPORT, "--results", FIXTURE, "--out", Path(tmp) / "clean")
            self.assertEqual(clean.returncode, 0, clean.stderr)
            heading = "### Best workbench variant of each number format"
            self.assertEqual(markdown_table((results / "out" / "REPORT.md").read_text(), heading),
                             markdown_table((Path(tmp) / "clean" / "REPORT.md").read_text(), heading))

    def test_empty_results_dir_exits_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            empty = Path(tmp)
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
        a = newest([r for r in lines_of(a_path) if r.get("kind") == "e2e"], key)
        b = newest([r for r in lines_of(b_path) if r.get("kind") == "e2e"], key)
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
