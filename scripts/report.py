#!/usr/bin/python3
"""report.py [--results DIR] [--out DIR]: REPORT.md and its figures from the result records, kernel
benchmarks and machine limits of a results directory (formats: harness/SCHEMA.md). Any subset of them
works; what is absent is named in the report. What a record is: report_records.py; the figures:
report_figures.py; the batched section: report_batch.py."""

import argparse
import statistics
import sys
from pathlib import Path

from report_batch import batch_section, load_batched
from report_depth import depth_section, load_depth
from report_figures import (STALE_FIGURES, plot_bandwidth, plot_positions, plot_profile, plot_roofline,
                            plot_summary, plot_threads)
from report_records import (FORMATS, MATMUL_OPS, PEAKS, SUMMARY_BASELINES, Results, load_benchmarks, load_machine,
                            number_format, one_machine, rate, record_ceiling, threads_text, times)
from results_io import load_jsonl, load_position_profiles, median, num, ratio, warn

# ---- REPORT.md ---------------------------------------------------------------------------------

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def distinct(values):
    return ", ".join(dict.fromkeys(v for v in values if v)) or "n/a"


def versus(res, a, b, field):
    """a against b: the median of their per-round ratios when both ran in A/B rounds of one run, with the range
    when there are several ("1.02× [0.97–1.08×, 3 rounds]"), else the ratio of the two records."""
    per_round = res.round_ratios(a, b, field)
    if len(per_round) > 1:
        return f"{times(statistics.median(per_round))} [{times(min(per_round))[:-1]}–{times(max(per_round))}, " \
               f"{len(per_round)} rounds]"
    return times(per_round[0] if per_round else ratio(median(a, field), median(b, field)))


def against_peers(res, record, field="decode_tok_s"):
    return ", ".join(f"{versus(res, record, p, field)} {p['variant']}"
                     for p in sorted(res.peers(record), key=lambda p: p["variant"]) if median(p, field) is not None)


def headline(res, machine, positions):
    """Up to five sentences from the data: the fastest decode of (up to four) formats on the largest model, its
    fastest prefill, fp32 against the fastest baseline, where decode time goes, where attention takes over."""
    models = [m for m in res.models if res.runs(model=m, impl="workbench")]
    if not models:
        return ["no successful workbench runs in these records"]
    model = models[0]
    lines = []
    for fmt in FORMATS:
        best = res.best("decode_tok_s", model=model, impl="workbench", fmt=fmt)
        if not best:
            continue
        parts = [f"fastest {fmt} decode on {model}: {best['variant']}, {rate(median(best, 'decode_tok_s'))} tok/s "
                 f"at {threads_text(best['threads'])}"]
        c = record_ceiling(res, machine, best)
        if c:
            parts.append(f"{100 * median(best, 'decode_tok_s') / c:.0f}% of the read ceiling")
        if res.peers(best):
            parts.append(against_peers(res, best))
        lines.append(", ".join(parts))
    del lines[4:]  # the first four formats in FORMATS' order, so the prefill sentence always has its place
    best = res.best("prefill_tok_s", model=model, impl="workbench")
    lines.append(", ".join([f"fastest prefill on {model}: {best['variant']} ({number_format(best)[0]}), "
                            f"{rate(median(best, 'prefill_tok_s'))} tok/s at {threads_text(best['threads'])}"]
                           + ([against_peers(res, best, "prefill_tok_s")] if res.peers(best) else [])))
    fp32 = res.best("decode_tok_s", model=model, impl="workbench", fmt="fp32")
    if fp32:
        bases = res.runs(model=model, impl="baseline", threads=fp32["threads"])
        base = max(bases, key=lambda r: median(r, "decode_tok_s"), default=None)
        if base:
            speedup = ratio(median(fp32, "decode_tok_s"), median(base, "decode_tok_s"))
            lines.append(f"fp32 decode on {model} against the fastest baseline at {threads_text(fp32['threads'])}: "
                         f"{fp32['variant']} {times(speedup)} {base['variant']} "
                         f"({rate(median(base, 'decode_tok_s'))} tok/s)")
    profiled = [r for r in res.runs(model=model, impl="workbench") if r.get("profile")]
    if profiled:
        r = max(profiled, key=lambda r: median(r, "decode_tok_s"))
        total = sum(r["profile"].values())
        if total > 0:
            share = {op: 100 * r["profile"].get(op, 0.0) / total for op in ("classifier", "attention")}
            matmuls = 100 * sum(r["profile"].get(op, 0.0) for op in MATMUL_OPS) / total
            lines.append(f"where decode time goes on {model} ({r['variant']}, {threads_text(r['threads'])}, "
                         f"{total:.3g} ms per token): matmuls {matmuls:.0f}% (the classifier alone "
                         f"{share['classifier']:.0f}%), attention {share['attention']:.0f}%")
    if positions:
        p = max(positions, key=lambda p: p["_time"])
        cross = p.get("attention_overtakes_matmuls_at")
        lines.append(f"attention overtakes all the matmuls at position {cross} ({p['model']} shape, {p['variant']})"
                     if cross else f"attention stays below the matmuls up to position {p['positions'][-1]} "
                     f"({p['model']} shape, {p['variant']})")
    return lines[:5]


def formats_section(res, machine):
    """Per model and thread count, the best workbench variant of each format, decode and prefill."""
    bases = [b for b in SUMMARY_BASELINES if any(r["variant"] == b for r in res.runs(impl="baseline"))]
    peers = bool(res.runs(impl="peer"))
    rows = []
    for model in res.models:
        for t in sorted({r["threads"] for r in res.runs(model=model, impl="workbench")}):
            for fmt in FORMATS:
                dec = res.best("decode_tok_s", model=model, impl="workbench", fmt=fmt, threads=t)
                if not dec:
                    continue
                pre = res.best("prefill_tok_s", model=model, impl="workbench", fmt=fmt, threads=t)
                c = record_ceiling(res, machine, dec)
                d = median(dec, "decode_tok_s")
                rows.append([model, t, fmt, dec["variant"], num(d), num(c), f"{100 * d / c:.0f}%" if c else "n/a",
                             pre["variant"], num(median(pre, "prefill_tok_s"))]
                            + [versus(res, dec, b, "decode_tok_s") if (b := res.baseline(n, model, t)) else "n/a"
                               for n in bases]
                            + ([against_peers(res, dec) or "n/a"] if peers else []))
    header = ["model", "threads", "format", "decode: best variant", "decode tok/s", "read ceiling tok/s",
              "of ceiling", "prefill: best variant", "prefill tok/s"] + [f"decode vs {b}" for b in bases] + (
        ["decode vs peers"] if peers else [])
    return ["### Best workbench variant of each number format", ""] + table(header, rows) + [
        "",
        "Best = highest median tok/s among the workbench variants of that format (decode and prefill chosen apart). "
        "Read ceiling = read bandwidth ÷ the weight bytes a decode step streams (the model's weights × the format's "
        "bytes per weight the records declare: fp32 4, bf16 2, Q8_0 1.0625, Q4_0 0.5625, Q6_K 0.82, Q5_K 0.69, Q4_K 0.5625), with the read "
        "bandwidth `probe_machine` measured at that thread count interpolated on log(bytes) between the working sets "
        "either side of those bytes (a set that partly fits the last cache reads faster than DRAM; each size credited "
        "the best rate of it or any larger size, and `make bench` keeps the better of a probe before and after its runs). "
        "Baseline ratios are against the "
        "baseline at the same thread count, or at 1 thread when it has no run at that count; peer ratios against "
        "the peers of the same format at the same thread count. Where the records come from `bench_all --rounds K`, "
        "a ratio is the median of the ratios within each round (runs minutes apart), with their range in brackets."]


def machine_section(res, machine, bench_sources):
    wb = [r for r in res.records if r["impl"] == "workbench"]
    stamps = sorted(r["_time"] for r in res.records)
    rows = [("cpu", machine["cpu"] if machine and machine.get("cpu") else distinct(r.get("cpu") for r in res.records)),
            ("host", distinct(r.get("host") for r in res.records)),
            ("workbench compiler", distinct(r.get("compiler") for r in wb)),
            ("workbench flags", distinct(f"`{r['flags']}`" for r in wb if r.get("flags"))),
            ("git sha", distinct(r.get("git_sha") for r in res.records)),
            ("runs (UTC)", f"{stamps[0]:%Y-%m-%d %H:%M} to {stamps[-1]:%Y-%m-%d %H:%M}")]
    for impl in ("baseline", "peer"):
        for name in dict.fromkeys(r["variant"] for r in res.records if r["impl"] == impl):
            r = next(r for r in res.records if r["variant"] == name and r["impl"] == impl)
            how = " ".join(x for x in (r.get("compiler"), f"`{r['flags']}`" if r.get("flags") else "") if x)
            if isinstance(r.get("peer"), dict):  # a peer's own build: its binary and version
                how = f"`{r['peer'].get('binary', '')}` {r['peer'].get('version', '')}".strip()
            rows.append((f"{impl} {name}", how or "n/a"))
    if machine:
        for key, what in dict.fromkeys(PEAKS.values()):  # each unit once (int4 and the K formats use int8's)
            rows.append((f"{what} peak", ", ".join(f"{v:.0f} at {threads_text(int(t))}"
                                                   for t, v in sorted(machine[key].items())) or "not measured"))
    rows.append(("kernel benchmarks", distinct(bench_sources)))
    return ["### Machine and build", ""] + table(("", "value"), rows)


def records_section(res):
    def cell(r, field):
        m = median(r, field)
        sd = r[field].get("stddev")
        return num(m) if m is None or not sd else f"{num(m)} ± {num(sd)}"
    impls = ("workbench", "peer", "baseline")
    order = sorted(res.records, key=lambda r: (
        res.models.index(r["model"]), impls.index(r["impl"]) if r["impl"] in impls else len(impls), r["variant"],
        r["threads"], r["prompt_tokens"], r["gen_tokens"]))
    rows = [[r["model"], r["impl"], r["variant"], number_format(r)[0], r["threads"], r["prompt_tokens"], r["gen_tokens"], cell(r, "prefill_tok_s"), cell(r, "decode_tok_s"),
               num(median(r, "ttft_ms")), r["status"]] for r in order]
    header = ["model", "impl", "variant", "format", "threads", "prompt", "gen", "prefill tok/s", "decode tok/s (median ± sd)", "TTFT ms", "status"]
    return ["### All records", "", "The newest record of each configuration.", ""] + table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=None, help="default: <results>/report")
    args = parser.parse_args()
    out = args.out or args.results / "report"

    records, positions, batched, depth = [], [], [], []
    for path in sorted(args.results.glob("*.jsonl")):
        try:
            records += load_jsonl(path)
            positions += load_position_profiles(path)
            batched += load_batched(path)
            depth += load_depth(path)
        except (OSError, UnicodeDecodeError) as e:
            warn(f"{path}: skipped unreadable file ({e})")
    if not records:
        warn(f"no e2e records in {args.results}")
        return 1
    machine = load_machine(args.results / "machine.json")
    benches, bench_sources = load_benchmarks(sorted(args.results.glob("bench_kernels*.json")))
    cpu, records, positions, batched, benches, left_out = one_machine(records, positions, batched, benches, machine)
    depth = [r for r in depth if not cpu or r.get("cpu") == cpu]
    if left_out:
        warn(left_out)
    if not records:
        warn(f"no e2e records of {cpu} in {args.results}")
        return 1
    res = Results(records)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in STALE_FIGURES:  # figures of an earlier report that this one may not draw
        for old in out.glob(pattern):
            old.unlink()
    profiled = [r for r in res.ok if r.get("profile") and sum(r["profile"].values()) > 0]

    absent = [what for what, missing in (
        ("successful runs", not res.ok), ("workbench runs", not res.runs(impl="workbench")),
        ("baselines", not res.runs(impl="baseline")), ("peers", not res.runs(impl="peer")),
        ("batched runs", not any(r["status"] == "ok" for r in batched)),
        ("depth runs", not any(r["status"] == "ok" for r in depth)), ("per-op profiles", not profiled), ("position profile", not positions),
        ("kernel benchmarks (bench_kernels*.json)", not benches), ("machine limits (machine.json)", not machine))
        if missing]
    md = ["# Llama kernel workbench: results report", ""]
    md += [f"- {line}" for line in headline(res, machine, positions)] + [""]
    md += [f"From `{args.results}`: {len(res.records)} records of {len(res.models)} model(s) "
           f"({', '.join(res.models)}), {len(benches)} matmul kernel benchmarks"
           + (f", all run on {cpu}" if cpu else "") + ". "
           + (f"Not in these results: {', '.join(absent)}." if absent else "Every part is present.")
           + (f"\n{left_out}" if left_out else ""), ""]
    written = []

    def figure(title, name, draw, note, caption=""):
        if draw is None:
            warn(f"skipped {name}: {note}")
            return [f"*{note}*", ""]
        draw(out / name)
        written.append(out / name)
        return [f"![{title}]({name})", ""] + ([caption, ""] if caption else [])

    md += ["## Figures", "", "### Best of each number format", ""]
    md += figure("best variant of each number format", "summary.png",
                 (lambda p: plot_summary(res, machine, p)) if res.ok else None, "No successful runs to summarise.",
                 "Per model and thread count: the fastest workbench variant of each number format, the peers and "
                 "the baselines, decode and prefill. The black tick on a decode bar is the read-bandwidth ceiling "
                 "for that bar's weight bytes" + ("" if machine else " (none drawn: no machine.json)") + ".")
    md += ["### Matmul kernels against their roofs", ""]
    md += figure("matmul roofline per number format", "roofline.png",
                 (lambda p: plot_roofline(benches, machine, p)) if benches else None,
                 "No matmul kernel benchmarks (bench_kernels*.json); roofline skipped.",
                 "One panel per number format and thread count; x = operations per weight byte (2·m ÷ bytes per "
                 "weight), so each activation-row count m sits at its own intensity, kernels side by side around it. "
                 "Roofs: the format's compute peak (`probe_machine`) and the read bandwidth of DRAM and of a 1 MiB "
                 "working set. Each kernel's best point is labelled with its share of the roof for its working set."
                 + ("" if machine else " No machine.json: no roofs drawn."))
    md += figure("decode matmul bandwidth against working set", "bandwidth.png",
                 (lambda p: plot_bandwidth(benches, machine, p)) if any(b["m"] == 1 for b in benches) else None,
                 "No m = 1 matmul benchmarks; bandwidth figure skipped.")
    md += ["### Where decode time goes", ""]
    if not profiled:
        md += figure("per-op profile", "profile.png", None, "No records with a profile; profile skipped.")
    for model in res.models:
        mine = [r for r in profiled if r["model"] == model]
        if mine:
            md += figure(f"{model} per-op profile", f"profile_{model}.png",
                         lambda p, mine=mine, model=model: plot_profile(mine, model, p), "")
    md += ["### Thread scaling", ""]
    md += figure("thread scaling", "threads.png",
                 (lambda p: plot_threads(res, p)) if res.ok else None, "No successful runs; thread scaling skipped.")
    md += ["### Attention against the matmuls by position", ""]
    if positions:
        latest = max(positions, key=lambda p: p["_time"])
        cross = latest.get("attention_overtakes_matmuls_at")
        md += [f"Decode steps of the {latest['model']} shape ({latest['variant']}, {threads_text(latest['threads'])}): "
               + (f"attention overtakes the matmuls at position {cross}." if cross else
                  f"attention stays below the matmuls up to position {latest['positions'][-1]}."), ""]
    md += figure("attention vs matmuls by position", "positions.png",
                 (lambda p: plot_positions(max(positions, key=lambda p: p["_time"]), p)) if positions else None,
                 "No position profile (bench_all --profile); skipped.")
    for mine, section, title, what, program in ((batched, batch_section, "Batched decoding", "batched", "bench_batched"),
                                                (depth, depth_section, "Decode at depth", "depth", "bench_depth")):
        if any(r["status"] == "ok" for r in mine):
            lines, paths = section(mine, machine, out)
            md += lines
            written += paths
        else:
            warn(f"skipped the {what} section: no {program} records")
            md += [f"## {title}", "", f"*No {what} runs ({program} records); skipped.*", ""]
    md += ["## Tables", ""]
    md += formats_section(res, machine) + [""]
    md += machine_section(res, machine, bench_sources) + [""]
    md += records_section(res)

    (out / "REPORT.md").write_text("\n".join(md) + "\n")
    written.append(out / "REPORT.md")
    for path in written:
        warn(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
