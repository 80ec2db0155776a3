#!/usr/bin/python3
"""report.py [--results DIR] [--out DIR]: plots and REPORT.md from the result records, kernel
benchmarks and machine limits of a results directory (formats: harness/SCHEMA.md)."""

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from results_io import load_position_profiles, load_jsonl, median, newest, num, ratio, warn  # noqa: E402
from report_peers import peer_section  # noqa: E402

BASELINES = ("c-runfast", "c-runomp", "numpy", "python")
SUMMARY_BASELINES = ("c-runfast", "numpy", "python")
OPS = ("qkv", "o", "ffn_up_gate", "ffn_down", "classifier",
       "attention", "rmsnorm", "rope", "softmax", "swiglu")
PHASES = (("decode_tok_s", "decode"), ("prefill_tok_s", "prefill"))
DPI = 110


class Results:
    """The newest record of each run configuration, and of each (impl, variant, threads, model)."""

    def __init__(self, records):
        self.records = list(newest(records, lambda r: (
            r["impl"], r["variant"], r["threads"], r["model"], r["prompt_tokens"], r["gen_tokens"])).values())
        latest = newest(self.records, lambda r: (r["impl"], r["variant"], r["threads"], r["model"]))
        self.index = {k: r for k, r in latest.items() if r["status"] == "ok"}
        self.models = list(dict.fromkeys(r["model"] for r in self.records))
        # variants slowest first: by decode tok/s at their lowest thread count
        lowest = {}
        for r in sorted(self.index.values(), key=lambda r: -r["threads"]):
            lowest[r["variant"]] = median(r, "decode_tok_s")
        self.rank = {v: i for i, v in enumerate(sorted(lowest, key=lowest.get))}

    def ok(self, model, impl):
        return sorted((r for (i, _, _, m), r in self.index.items() if i == impl and m == model),
                      key=lambda r: (self.rank[r["variant"]], r["threads"]))

    def baseline(self, name, model, threads):
        """The baseline's record at `threads`, else at 1 thread, else None."""
        return self.index.get(("baseline", name, threads, model)) or self.index.get(("baseline", name, 1, model))


def speedup(record, base):
    return ratio(median(record, "decode_tok_s"), median(base, "decode_tok_s")) if base else None


def bandwidth(machine, threads, nbytes):
    """Read GB/s at the smallest measured working set >= nbytes (else the largest measured)."""
    runs = [e for e in machine.get("read_bandwidth", []) if e["threads"] == threads]
    if not runs:
        return None
    fits = [e for e in runs if e["bytes"] >= nbytes]
    return (min(fits, key=lambda e: e["bytes"]) if fits else max(runs, key=lambda e: e["bytes"]))["gbs"]


def human_bytes(x, _pos=None):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if x < 1024 or unit == "GiB":
            return f"{x:.0f} {unit}" if x == int(x) else f"{x:.1f} {unit}"
        x /= 1024


def save(fig, path):
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def colors(names):
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


# ---- plots -----------------------------------------------------------------------------------

def plot_speedups(res, model, path):
    """Bars of each workbench run's decode speedup over each baseline; False when no baseline."""
    runs = res.ok(model, "workbench")
    bars = {}
    for name in BASELINES:
        bases = [res.baseline(name, model, r["threads"]) for r in runs]
        if any(bases):
            bars[name] = (bases, [speedup(r, b) for r, b in zip(runs, bases)])
    values = [s for _, ss in bars.values() for s in ss if s]
    if not runs or not values:
        return False
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(runs) + 2), 5.5))
    x = np.arange(len(runs))
    width = 0.8 / len(bars)
    palette = colors(BASELINES)
    log = max(values) / min(values) > 50
    for i, (name, (bases, ss)) in enumerate(bars.items()):
        same = all(b is None or b["threads"] == r["threads"] for r, b in zip(runs, bases))
        desc = "same threads" if same else "1 thread" if all(b is None or b["threads"] == 1 for b in bases) \
            else "same threads, else 1"
        xs = x + (i - (len(bars) - 1) / 2) * width
        heights = [s if s else np.nan for s in ss]
        ax.bar(xs, heights, width, color=palette[name], label=f"vs {name} ({desc})")
        for xi, s in zip(xs, ss):
            if s:
                ax.annotate(f"{num(s)}×", (xi, s), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, rotation=90)
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_xticks(x, [f"{r['variant']}\n{r['threads']} thr" for r in runs])
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.15)
    ax.set_ylabel("decode speedup (× baseline tok/s, median)" + (", log scale" if log else ""))
    ax.set_xlabel("workbench variant and thread count")
    ax.set_title(f"{model}: decode speedup of each workbench variant over the baselines")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3, which="both")
    save(fig, path)
    return True


def plot_threads(res, path):
    """Decode and prefill tok/s against threads: one row of subplots per model."""
    fig, axes = plt.subplots(len(res.models), 2, figsize=(12, 4 * len(res.models)), squeeze=False)
    palette = colors(sorted(res.rank, key=res.rank.get))
    for row, model in zip(axes, res.models):
        for ax, (field, phase) in zip(row, PHASES):
            lines = {}
            for impl in ("workbench", "baseline"):
                for r in res.ok(model, impl):
                    lines.setdefault((impl, r["variant"]), []).append(r)
            threads = set()
            for (impl, variant), runs in lines.items():
                if impl == "baseline" and len(runs) < 2:
                    continue  # single-thread baselines are in the speedup plots
                threads.update(r["threads"] for r in runs)
                ax.errorbar([r["threads"] for r in runs], [median(r, field) for r in runs],
                            yerr=[r[field].get("stddev") or 0 for r in runs], marker="o", capsize=3,
                            linestyle="-" if impl == "workbench" else "--", color=palette[variant],
                            label=variant if impl == "workbench" else f"{variant} (baseline)")
            ax.set_xticks(sorted(threads))
            ax.set_ylim(bottom=0)
            ax.set_title(f"{model}: {phase}")
            ax.set_xlabel("threads")
            ax.set_ylabel(f"{phase} tok/s (median ± sd)")
            ax.grid(alpha=0.3)
    legend = {}
    for ax in axes.flat:
        legend.update(zip(*reversed(ax.get_legend_handles_labels())))
    fig.suptitle("Thread scaling")
    fig.tight_layout()
    fig.legend(legend.values(), legend.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9,
               title="variant")
    save(fig, path)


def plot_roofline(benches, machine, path):
    fig, (ax_bw, ax_roof) = plt.subplots(1, 2, figsize=(15, 6))
    palette = colors(sorted({b["kernel"] for b in benches}))
    markers = "o^sDv"
    thread_counts = sorted({b["threads"] for b in benches})
    groups = {}
    for b in benches:
        groups.setdefault((b["kernel"], b["threads"]), []).append(b)
    for (kernel, threads), bs in sorted(groups.items()):
        style = dict(color=palette[kernel], marker=markers[thread_counts.index(threads) % len(markers)],
                     s=45, label=f"{kernel}, {threads} thr", zorder=3)
        ax_bw.scatter([b["working_set"] for b in bs], [b["GBps"] for b in bs], **style)
        ax_roof.scatter([b["GFLOPS"] / b["GBps"] for b in bs], [b["GFLOPS"] for b in bs], **style)
        for b in bs:
            ax_bw.annotate(b["case"] + (f" m:{b['m']}" if b["m"] != 1 else ""), (b["working_set"], b["GBps"]),
                           xytext=(4, 3), textcoords="offset points", fontsize=6.5, color="0.25")

    curves = {}
    for e in sorted((machine or {}).get("read_bandwidth", []), key=lambda e: e["bytes"]):
        curves.setdefault(e["threads"], []).append(e)
    peaks = {t: ((machine or {}).get("fma_gflops") or {}).get(str(t)) for t in curves}
    intensities = [b["GFLOPS"] / b["GBps"] for b in benches]
    ai = np.geomspace(min(intensities) / 3, max([3 * max(intensities)] + [
        3 * peaks[t] / runs[-1]["gbs"] for t, runs in curves.items() if peaks[t]]), 200)
    grays = {t: str(0.55 * i / max(1, len(curves) - 1)) for i, t in enumerate(sorted(curves))}
    for t, runs in sorted(curves.items()):
        plural = "s" if t > 1 else ""
        ax_bw.plot([e["bytes"] for e in runs], [e["gbs"] for e in runs], "--", color=grays[t],
                   label=f"read bandwidth, {t} thread{plural}")
        if peaks[t]:
            for e, style, which in ((runs[-1], "--", "largest"), (runs[0], ":", "smallest")):
                ax_roof.plot(ai, np.minimum(peaks[t], e["gbs"] * ai), style, color=grays[t],
                             label=f"{t} thread{plural}: {peaks[t]:g} GFLOP/s, {e['gbs']:g} GB/s ({which} working set)")

    ax_bw.set_xscale("log", base=4)
    ax_bw.set_yscale("log")
    ax_bw.xaxis.set_major_formatter(FuncFormatter(human_bytes))
    ax_bw.set_xlabel("working set (bytes, log)")
    ax_bw.set_ylabel("weight bytes read (GB/s, log)")
    ax_bw.set_title("Matmul bandwidth against working set")
    ax_roof.set_xscale("log")
    ax_roof.set_yscale("log")
    ax_roof.set_xlabel("arithmetic intensity (flop per weight byte, log)")
    ax_roof.set_ylabel("GFLOP/s (log)")
    ax_roof.set_title("Matmul roofline")
    for ax in (ax_bw, ax_roof):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7.5, loc="lower left" if ax is ax_bw else "lower right")
    fig.tight_layout()
    save(fig, path)


def plot_profile(runs, models, rank, path):
    ops = list(OPS) + sorted({k for r in runs for k in r["profile"]} - set(OPS))
    palette = colors(ops)
    models = [m for m in models if any(r["model"] == m for r in runs)]
    fig, axes = plt.subplots(1, len(models), figsize=(max(8, 5 * len(models)), 5.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = sorted((r for r in runs if r["model"] == model), key=lambda r: (rank.get(r["variant"], -1), r["threads"]))
        x = np.arange(len(mine))
        bottom = np.zeros(len(mine))
        for op in ops:
            ms = np.array([r["profile"].get(op, 0.0) for r in mine])
            ax.bar(x, ms, 0.6, bottom=bottom, color=palette[op], label=op)
            bottom += ms
        for xi, total in zip(x, bottom):
            ax.annotate(f"{total:.3g} ms", (xi, total), xytext=(0, 2), textcoords="offset points",
                        ha="center", fontsize=8)
        ax.set_xticks(x, [f"{r['variant']}\n{r['threads']} thr" for r in mine])
        ax.margins(y=0.08)
        ax.set_title(model)
        ax.set_xlabel("variant and thread count")
        ax.set_ylabel("ms per decoded token")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               title="operation")
    fig.suptitle("Per-operation time per token (profiled runs)")
    fig.tight_layout()
    save(fig, path)


MATMUL_OPS = ("qkv", "o", "ffn_up_gate", "ffn_down", "classifier")


def plot_positions(profile, path):
    """Attention against all matmuls per decode step, by position, with the crossover marked."""
    pos = np.array(profile["positions"])
    matmuls = sum(np.array(profile["ms"].get(op, [0.0] * len(pos))) for op in MATMUL_OPS)
    attention = np.array(profile["ms"].get("attention", [0.0] * len(pos)))
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(pos, matmuls, "o-", label="all matmuls")
    ax.plot(pos, attention, "s-", label="attention")
    cross = profile.get("attention_overtakes_matmuls_at")
    if cross:
        ax.axvline(cross, color="grey", linestyle="--")
        ax.annotate(f"attention overtakes\nat position {cross}", (cross, ax.get_ylim()[1] * 0.9),
                    xytext=(6, 0), textcoords="offset points", fontsize=9, va="top")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("decode position (tokens already in the KV cache)")
    ax.set_ylabel("ms per decode step")
    ax.set_title(f"{profile['model']} shape, {profile['variant']}, {profile['threads']} thread(s): "
                 "where attention overtakes the matmuls")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    save(fig, path)


# ---- inputs ----------------------------------------------------------------------------------

def load_benchmarks(paths):
    """Matmul iterations of Google Benchmark JSON files, with the name's parts parsed, and a
    description of each file read."""
    out, sources = [], []
    for path in paths:
        try:
            data = json.loads(path.read_text())
            entries = data.get("benchmarks", [])
            sources.append(f"{path.name} ({data.get('context', {}).get('date', 'undated')})")
        except (OSError, ValueError, AttributeError) as e:
            warn(f"{path}: skipped unreadable benchmark file ({e})")
            continue
        for b in entries:
            if not isinstance(b, dict) or b.get("run_type", "iteration") != "iteration":
                continue
            parts = str(b.get("name", "")).split("/")
            fields = dict(p.split(":", 1) for p in parts[2:] if ":" in p)
            counters = [b.get(k) for k in ("GFLOPS", "GBps", "working_set")]
            if not parts[0].startswith("matmul") or len(parts) < 2 or \
                    not all(isinstance(c, (int, float)) and c > 0 for c in counters):
                continue
            try:
                m, threads = int(fields.get("m", 1)), int(fields.get("threads", b.get("threads", 1)))
            except ValueError:
                continue
            out.append(dict(kernel=parts[0], case=parts[1], m=m, threads=threads,
                            GFLOPS=counters[0], GBps=counters[1], working_set=counters[2]))
    return out, sources


def load_machine(path):
    if not path.exists():
        return None
    try:
        machine = json.loads(path.read_text())
        if not isinstance(machine.get("fma_gflops"), dict):
            machine["fma_gflops"] = {}
        machine["read_bandwidth"] = [e for e in machine.get("read_bandwidth", [])
                                     if all(isinstance(e.get(k), (int, float)) for k in ("bytes", "threads", "gbs"))]
        return machine
    except (OSError, ValueError, AttributeError) as e:
        warn(f"{path}: ignored unreadable machine file ({e})")
        return None


# ---- REPORT.md -------------------------------------------------------------------------------

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def distinct(values):
    return ", ".join(dict.fromkeys(v for v in values if v)) or "n/a"


def machine_section(res, machine, bench_sources):
    wb = [r for r in res.records if r["impl"] == "workbench"]
    times = sorted(r["_time"] for r in res.records)
    rows = [("cpu", machine["cpu"] if machine and machine.get("cpu") else distinct(r.get("cpu") for r in res.records)),
            ("host", distinct(r.get("host") for r in res.records)),
            ("workbench compiler", distinct(r.get("compiler") for r in wb)),
            ("workbench flags", distinct(f"`{r['flags']}`" for r in wb if r.get("flags"))),
            ("git sha", distinct(r.get("git_sha") for r in res.records)),
            ("runs (UTC)", f"{times[0]:%Y-%m-%d %H:%M} to {times[-1]:%Y-%m-%d %H:%M}")]
    for name in dict.fromkeys(r["variant"] for r in res.records if r["impl"] == "baseline"):
        r = next(r for r in res.records if r["variant"] == name)
        rows.append((f"baseline {name}", " ".join(x for x in (r.get("compiler"), f"`{r['flags']}`" if r.get("flags") else "") if x)))
    rows.append(("kernel benchmarks", distinct(bench_sources)))
    return ["## Machine and build", ""] + table(("", "value"), rows)


def ceiling_of(machine, record):
    """Decode tok/s the read bandwidth allows for a record's fp32 weights (model_bytes), or None."""
    gbs = bandwidth(machine, record["threads"], record["model_bytes"]) if machine else None
    return gbs * 1e9 / record["model_bytes"] if gbs else None


def summary_section(res, machine):
    rows, fp32_rows = [], []
    for model in res.models:
        runs = res.ok(model, "workbench")
        for threads in sorted({r["threads"] for r in runs}):
            mine = [r for r in runs if r["threads"] == threads]
            best = max(mine, key=lambda r: median(r, "decode_tok_s"))
            decode = median(best, "decode_tok_s")
            # model_bytes counts fp32 weights: a ceiling only means something for a variant that streams them.
            ceiling = ceiling_of(machine, best) if best.get("agreement") is None else None
            rows.append([model, threads, best["variant"], num(decode), num(median(best, "prefill_tok_s"))]
                        + [f"{num(s)}×" if s else "n/a"
                           for s in (speedup(best, res.baseline(b, model, threads)) for b in SUMMARY_BASELINES)]
                        + [num(ceiling), f"{100 * decode / ceiling:.0f}%" if ceiling else "n/a"])
            exact = [r for r in mine if r.get("agreement") is None]
            if exact:
                fp32 = max(exact, key=lambda r: median(r, "decode_tok_s"))
                c = ceiling_of(machine, fp32)
                fp32_rows.append([model, threads, fp32["variant"], num(median(fp32, "decode_tok_s")), num(c),
                                  f"{100 * median(fp32, 'decode_tok_s') / c:.0f}%" if c else "n/a"])
    header = ["model", "threads", "best variant", "decode tok/s", "prefill tok/s"] + \
        [f"vs {b}" for b in SUMMARY_BASELINES] + ["ceiling tok/s", "of ceiling"]
    return ["## Summary", ""] + table(header, rows) + [
        "",
        "Best = highest median decode tok/s among the workbench variants. Speedups are ratios of median "
        "decode tok/s against the baseline at the same thread count, or at 1 thread when it has no run "
        "at that count. Ceiling = read bandwidth ÷ model_bytes (the fp32 weights a decode step streams), "
        "with the bandwidth measured (machine.json) at the smallest working set ≥ model_bytes for that "
        "thread count, or at the largest one measured if none is that large; n/a for int8 and bf16 "
        "variants, which stream fewer bytes.", "",
        "## Best fp32 variant against the read-bandwidth ceiling", ""] + table(
        ["model", "threads", "variant", "decode tok/s", "ceiling tok/s", "of ceiling"], fp32_rows)


def records_section(res):
    def rate(r, field):
        m = median(r, field)
        sd = r[field].get("stddev")
        return num(m) if m is None or not sd else f"{num(m)} ± {num(sd)}"
    rows = [[r["model"], r["impl"], r["variant"], r["threads"], r["prompt_tokens"], r["gen_tokens"],
             rate(r, "prefill_tok_s"), rate(r, "decode_tok_s"), num(median(r, "ttft_ms")), r["status"]]
            for r in sorted(res.records, key=lambda r: (res.models.index(r["model"]), r["impl"] != "workbench",
                                                        r["variant"], r["threads"], r["prompt_tokens"], r["gen_tokens"]))]
    header = ["model", "impl", "variant", "threads", "prompt", "gen", "prefill tok/s", "decode tok/s (median ± sd)",
              "TTFT ms", "status"]
    return ["## All records", "", "The newest record of each configuration.", ""] + table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=None, help="default: <results>/report")
    args = parser.parse_args()
    out = args.out or args.results / "report"

    records, positions = [], []
    for path in sorted(args.results.glob("*.jsonl")):
        try:
            records += load_jsonl(path)
            positions += load_position_profiles(path)
        except (OSError, UnicodeDecodeError) as e:
            warn(f"{path}: skipped unreadable file ({e})")
    if not records:
        warn(f"no e2e records in {args.results}")
        return 1
    res = Results(records)
    machine = load_machine(args.results / "machine.json")
    benches, bench_sources = load_benchmarks(sorted(args.results.glob("bench_kernels*.json")))
    out.mkdir(parents=True, exist_ok=True)

    md = ["# Llama kernel workbench: results report", "",
          f"From `{args.results}`: {len(res.records)} records, {len(benches)} matmul kernel benchmarks"
          + ("" if machine else ", no machine.json") + ".", ""]
    md += machine_section(res, machine, bench_sources) + [""]
    md += summary_section(res, machine) + [""]
    written = []

    def figure(title, name, drawn, note):
        path = out / name
        if drawn:
            written.append(path)
            return [f"![{title}]({name})", ""]
        path.unlink(missing_ok=True)
        warn(f"skipped {name}: {note}")
        return [f"*{note}*", ""]

    md += ["## Decode speedups", ""]
    for model in res.models:
        name = f"speedup_{model}.png"
        md += figure(f"{model} decode speedups", name, plot_speedups(res, model, out / name),
                     f"No workbench and baseline runs of {model} to compare.")
    md += ["## Thread scaling", ""]
    plot_threads(res, out / "threads.png")
    md += figure("thread scaling", "threads.png", True, "")
    md += ["## Kernel roofline", ""]
    if benches:
        plot_roofline(benches, machine, out / "roofline.png")
    md += figure("matmul roofline", "roofline.png", bool(benches),
                 "No matmul kernel benchmarks (bench_kernels*.json); roofline skipped.")
    md += ["## Per-op profile", ""]
    profiled = [r for r in res.records if r["status"] == "ok" and r.get("profile")]
    if profiled:
        plot_profile(profiled, res.models, res.rank, out / "profile.png")
    md += figure("per-op profile", "profile.png", bool(profiled), "No records with a profile; profile skipped.")
    md += ["## Attention against the matmuls by position", ""]
    if positions:
        latest = max(positions, key=lambda p: p["_time"])
        plot_positions(latest, out / "positions.png")
        cross = latest.get("attention_overtakes_matmuls_at")
        md += [f"Decode steps of the {latest['model']} shape ({latest['variant']}, {latest['threads']} thread(s)): "
               + (f"attention overtakes the matmuls at position {cross}." if cross else
                  f"attention stays below the matmuls up to position {latest['positions'][-1]}."), ""]
    md += figure("attention vs matmuls by position", "positions.png", bool(positions),
                 "No position profile (bench_all --profile); skipped.")
    md += peer_section(res.records, res.models, machine, bandwidth, out, figure)
    md += records_section(res)

    (out / "REPORT.md").write_text("\n".join(md) + "\n")
    written.append(out / "REPORT.md")
    for path in written:
        warn(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
