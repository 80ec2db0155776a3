#!/usr/bin/python3
"""report.py [--results DIR] [--out DIR]: REPORT.md and its figures from the result records, kernel
benchmarks and machine limits of a results directory (formats: harness/SCHEMA.md). Any subset of them
works; what is absent is named in the report."""

import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from results_io import (ceiling, load_position_profiles, load_jsonl, median, newest, num, ratio,  # noqa: E402
                        read_bandwidth, warn)
from report_batch import batch_section, load_batched  # noqa: E402

# K-quant formats keep their type's name: each has its own bytes per weight (4.5, 5.5 and 6.5625 bits).
FORMATS = ("fp32", "bf16", "int8", "int4", "Q6_K", "Q5_K", "Q4_K")
# The format and bytes per weight of each weight type records declare (weight_type, as GGUF names it); a
# workbench record's own bytes_per_weight, declared by its kernel, wins over the table's.
WEIGHT_TYPES = {"F32": ("fp32", 4.0), "BF16": ("bf16", 2.0), "F16": ("fp16", 2.0), "Q8_0": ("int8", 1.0625),
                "Q4_0": ("int4", 0.5625), "Q4_K": ("Q4_K", 0.5625), "Q5_K": ("Q5_K", 0.6875),
                "Q6_K": ("Q6_K", 0.8203125)}
# Kernel benchmarks carry no record: their format comes from a dash-separated part of the kernel's name
# (matmul.tbb-q8 -> q8), as do records written before weight_type; every other kernel computes in fp32.
KERNEL_FORMATS = {"q4": ("int4", 0.5625), "q8": ("int8", 1.0625), "bf16": ("bf16", 2.0),
                  "q4_k": WEIGHT_TYPES["Q4_K"], "q5_k": WEIGHT_TYPES["Q5_K"], "q6_k": WEIGHT_TYPES["Q6_K"]}
# A peer's format from the weight type its variant names ("llama.cpp Q8_0"), by the start of a word.
PEER_TYPES = (("Q4_K", "Q4_K", 0.5625), ("Q5_K", "Q5_K", 0.6875), ("Q6_K", "Q6_K", 0.8203125), ("Q4", "int4", 0.5625), ("Q8", "int8", 1.0625), ("BF16", "bf16", 2.0), ("F16", "fp16", 2.0),
              ("F32", "fp32", 4.0))
FP32 = ("fp32", 4.0)
# The probe's compute peak (machine.json key) that roofs each format; 4-bit weights are dotted as int8.
PEAKS = {"fp32": ("fma_gflops", "fp32 FMA"), "bf16": ("bf16_gflops", "bf16 dot"),
         "int8": ("int8_gops", "int8 VNNI"), "int4": ("int8_gops", "int8 VNNI"), "Q4_K": ("int8_gops", "int8 VNNI"),
         "Q5_K": ("int8_gops", "int8 VNNI"), "Q6_K": ("int8_gops", "int8 VNNI")}
FORMAT_COLORS = {"fp32": "tab:blue", "bf16": "tab:green", "int8": "tab:orange", "int4": "tab:red",
                 "Q4_K": "tab:brown", "Q5_K": "tab:pink", "Q6_K": "tab:olive",
                 "fp16": "tab:purple"}
BASELINE_COLOR = "0.6"
SUMMARY_BASELINES = ("c-runfast", "c-runomp", "numpy", "python")
OPS = ("qkv", "o", "ffn_up_gate", "ffn_down", "classifier", "attention", "rmsnorm", "rope", "softmax", "swiglu")
MATMUL_OPS = ("qkv", "o", "ffn_up_gate", "ffn_down", "classifier")
MARKERS = "os^Dv<>PXph*Hd8"
STALE_FIGURES = ("summary.png", "roofline.png", "bandwidth.png", "profile*.png", "threads.png", "positions.png",
                 "batch*.png", "speedup_*.png")
DPI = 110


# ---- what a record is --------------------------------------------------------------------------

def kernel_format(name):
    """(format, bytes per weight) of a matmul kernel or workbench variant name."""
    for part in name.removeprefix("matmul.").split("-"):
        if part in KERNEL_FORMATS:
            return KERNEL_FORMATS[part]
    return FP32


def number_format(record):
    """(format, bytes per weight) of the weights a record's run computes with."""
    declared = WEIGHT_TYPES.get(record.get("weight_type") or "")
    if declared:
        return declared[0], record.get("bytes_per_weight") or declared[1]
    if record["impl"] == "peer":
        for word in record["variant"].upper().split():
            for prefix, fmt, bpw in PEER_TYPES:
                if word.startswith(prefix):
                    return fmt, bpw
        return FP32
    if record["impl"] == "workbench":
        return kernel_format(record.get("matmul") or record["variant"])
    return FP32


def threads_text(t):
    return f"{t} thread" + ("s" if t != 1 else "")


def rate(x):
    """tok/s or GFLOP/s for prose and bar labels: 67.0, 896, 0.93."""
    if x is None:
        return "n/a"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def times(x):
    return "n/a" if x is None else f"{x:.2f}×" if x < 10 else f"{x:.1f}×" if x < 100 else f"{x:.0f}×"


class Results:
    """The newest record of each configuration, and the newest ok one of each (impl, variant, threads, model)."""

    def __init__(self, records):
        self.records = list(newest(records, lambda r: (
            r["impl"], r["variant"], r["threads"], r["model"], r["prompt_tokens"], r["gen_tokens"])).values())
        latest = newest(self.records, lambda r: (r["impl"], r["variant"], r["threads"], r["model"]))
        self.ok = [r for r in latest.values() if r["status"] == "ok"]
        by_model = {}
        for r in self.records:
            by_model.setdefault(r["model"], []).append(r)
        self.params = {m: weights_of(rs) for m, rs in by_model.items()}
        self.models = sorted(by_model, key=lambda m: -self.params[m])  # largest first

    def runs(self, model=None, impl=None, fmt=None, threads=None):
        return [r for r in self.ok if (model is None or r["model"] == model) and (impl is None or r["impl"] == impl)
                and (fmt is None or number_format(r)[0] == fmt) and (threads is None or r["threads"] == threads)]

    def best(self, field, **where):
        return max(self.runs(**where), key=lambda r: median(r, field), default=None)

    def baseline(self, name, model, threads):
        """The baseline's record at `threads`, else at 1 thread, else None."""
        for t in (threads, 1):
            found = self.runs(model=model, impl="baseline", threads=t)
            found = [r for r in found if r["variant"] == name]
            if found:
                return found[0]
        return None

    def peers(self, like):
        """The ok peer records of `like`'s model, thread count and number format."""
        return [r for r in self.runs(model=like["model"], impl="peer", threads=like["threads"])
                if number_format(r)[0] == number_format(like)[0]]

    def streamed(self, record):
        """Weight bytes one decode step of the record streams. model_bytes of older records counts fp32
        weights for every variant, so the format's bytes per weight bound it."""
        return min(record["model_bytes"], self.params[record["model"]] * number_format(record)[1])


def weights_of(records):
    """Matmul weights of a model: fp32 records' model_bytes / 4, else the smallest model_bytes / bytes per weight."""
    fp32 = [r["model_bytes"] / 4 for r in records if number_format(r)[0] == "fp32"]
    return max(fp32) if fp32 else min(r["model_bytes"] / number_format(r)[1] for r in records)


def record_ceiling(res, machine, record):
    """Decode tok/s the read bandwidth allows for the weight bytes the record streams, or None."""
    return ceiling(machine, record["threads"], res.streamed(record))


def peak(machine, fmt, threads, isa=None):
    """The peak of the unit a kernel of this format runs on: at its instruction-set level (bench_kernels' label)
    when machine.json measured that level, else the best level's."""
    key = PEAKS.get(fmt, ("", ""))[0]
    level = ((machine or {}).get("levels") or {}).get(isa or "") or {}
    if fmt == "bf16" and level and key not in level:
        key = "fma_gflops"  # below avx512-bf16, bf16 weights are widened and multiplied on the FMA units
    value = (level.get(key) or (machine or {}).get(key) or {}).get(str(threads))
    return value if isinstance(value, (int, float)) and value > 0 else None


# ---- figure helpers ----------------------------------------------------------------------------

def save(fig, path):
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def spread(positions, gap, low, high):
    """Label positions as near the given ones as possible, at least `gap` apart, inside [low, high]
    when they fit (the order of the inputs is kept)."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    out = list(positions)
    last = low - gap
    for i in order:
        last = out[i] = max(positions[i], last + gap, low)
    last = high + gap
    for i in reversed(order):
        last = out[i] = min(out[i], last - gap)
    return out


def human_bytes(x, _pos=None):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if x < 1024 or unit == "GiB":
            return f"{x:.0f} {unit}" if x == int(x) else f"{x:.1f} {unit}"
        x /= 1024


def label_column(ax, points, x_axes=0.66, fontsize=7.5):
    """Texts in a column at x_axes (axes fraction), each at the height of its (x, y, text) data point
    where room allows, with a leader line to it: no two overlap."""
    if not points:
        return
    to_axes = ax.transAxes.inverted()
    ys = [to_axes.transform(ax.transData.transform((x, y)))[1] for x, y, _ in points]
    gap = 1.35 * fontsize / 72 * ax.figure.dpi / ax.get_window_extent().height
    for (x, y, text), ty in zip(points, spread(ys, gap, 0.03, 0.97)):
        ax.annotate(text, (x, y), xytext=(x_axes, ty), textcoords="axes fraction", fontsize=fontsize,
                    va="center", ha="left", bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.85),
                    arrowprops=dict(arrowstyle="-", color="0.55", linewidth=0.6, shrinkA=0, shrinkB=3))


# ---- the summary figure ------------------------------------------------------------------------

def summary_rows(res, model, threads, field):
    """(label, value, colour, hatch, ceiling) bars of one thread count: the best workbench variant of each
    format, then the peers and the baselines at that count."""
    rows = []
    for fmt in FORMATS:
        best = res.best(field, model=model, impl="workbench", fmt=fmt, threads=threads)
        if best:
            rows.append((f"best {fmt}: {best['variant']}", best, FORMAT_COLORS[fmt], None))
    for r in sorted(res.runs(model=model, impl="peer", threads=threads), key=lambda r: r["variant"]):
        if median(r, field) is None:
            continue  # a peer that does not report this rate (llama2.c's prefill)
        rows.append((f"{r['variant']} (peer)", r, FORMAT_COLORS.get(number_format(r)[0], "tab:gray"), "///"))
    for r in sorted(res.runs(model=model, impl="baseline", threads=threads), key=lambda r: -median(r, field)):
        rows.append((f"{r['variant']} (baseline)", r, BASELINE_COLOR, None))
    return rows


def plot_summary(res, machine, path):
    models = [m for m in res.models if res.runs(model=m)]
    groups = {m: sorted({r["threads"] for r in res.runs(model=m)}) for m in models}
    heights = [sum(len(summary_rows(res, m, t, "decode_tok_s")) + 1 for t in groups[m]) for m in models]
    fig, axes = plt.subplots(len(models), 2, figsize=(15, 1.2 + 0.27 * sum(heights) + 0.5 * len(models)),
                             gridspec_kw=dict(height_ratios=[h + 2 for h in heights]), squeeze=False)
    later = []
    for row, model in zip(axes, models):
        for ax, (field, phase) in zip(row, (("decode_tok_s", "decode"), ("prefill_tok_s", "prefill"))):
            y, ticks, labels, bars = 0, [], [], []
            for t in groups[model]:
                ticks.append(y)
                labels.append(threads_text(t))
                y += 1
                for label, r, color, hatch in summary_rows(res, model, t, field):
                    c = record_ceiling(res, machine, r) if phase == "decode" and r["impl"] != "baseline" else None
                    bars.append((y, median(r, field), color, hatch, c))
                    ticks.append(y)
                    labels.append(label)
                    y += 1
            top = max(v for _, v, *_ in bars)
            reach = max([top] + [c for *_, c in bars if c and c < 2 * top])
            for yi, value, color, hatch, c in bars:
                ax.barh(yi, value, 0.72, color=color, hatch=hatch, edgecolor="white" if hatch else None)
                if c and c <= reach:
                    ax.plot([c, c], [yi - 0.45, yi + 0.45], color="black", linewidth=2.2, solid_capstyle="butt")
            later.append((ax, bars, reach))
            ax.set_yticks(ticks, labels, fontsize=8.5)
            for tick, label in zip(ax.get_yticklabels(), labels):
                if label.endswith(("thread", "threads")) and label[0].isdigit():
                    tick.set_fontweight("bold")
            ax.set_ylim(y - 0.4, -0.6)
            ax.set_xlim(0, reach * 1.42)
            ax.set_xlabel(f"{phase} tok/s (median)")
            ax.set_title(f"{model}: {phase}", fontsize=11, loc="left")
            ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Best workbench variant of each number format beside the peers (hatched) and baselines (grey);  "
                 "▌ = read-bandwidth ceiling for the bar's bytes per weight", fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 1, 0.99), h_pad=2.5)
    for ax, bars, reach in later:
        for yi, value, _, _, c in bars:
            bar_values(ax, yi, value, c if c and c <= reach else None, 100 * value / c if c else None)
    save(fig, path)


def bar_values(ax, y, value, tick, percent, fontsize=8):
    """The value at a bar's end and its share of the ceiling beyond the ceiling tick; both after the tick when
    it stands where the value's text would go."""
    value_text = rate(value)
    share = f"({percent:.0f}% of ceiling)" if percent is not None else ""
    px = lambda x: ax.transData.transform((x, y))[0]  # noqa: E731
    text_pt = 0.62 * fontsize * (len(value_text) + 1) + 3
    if tick is None or px(tick) > px(value) + text_pt / 72 * ax.figure.dpi:
        ax.annotate(value_text, (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=fontsize)
        if share:
            ax.annotate(share, (tick if tick is not None else value, y), xytext=(4 if tick is not None else text_pt, 0),
                        textcoords="offset points", va="center", fontsize=fontsize, color="0.3")
    else:
        ax.annotate(f"{value_text}  {share}", (max(value, tick), y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=fontsize)


# ---- kernel figures ----------------------------------------------------------------------------

def plot_roofline(benches, machine, path):
    """One panel per (thread count, number format): each kernel's matmul benchmarks against the format's
    compute peak and the read bandwidth of DRAM and of a 1 MiB working set."""
    formats = [f for f in FORMATS if any(b["format"] == f for b in benches)]
    thread_counts = sorted({b["threads"] for b in benches})
    kernels = sorted({b["kernel"] for b in benches}, key=lambda k: (FORMATS.index(kernel_format(k)[0]), k))
    marker = {k: MARKERS[i % len(MARKERS)] for i, k in enumerate(kernels)}
    ms = sorted({b["m"] for b in benches})
    cmap = plt.get_cmap("viridis")
    color = {m: cmap(0.85 * i / max(1, len(ms) - 1)) for i, m in enumerate(ms)}
    fig, axes = plt.subplots(len(thread_counts), len(formats), figsize=(5.4 * len(formats), 4.6 * len(thread_counts)),
                             squeeze=False)
    later = []  # texts placed from display coordinates, once the layout is final
    for row, t in zip(axes, thread_counts):
        for ax, fmt in zip(row, formats):
            mine = [b for b in benches if b["threads"] == t and b["format"] == fmt]
            if not mine:
                ax.axis("off")
                ax.text(0.5, 0.5, f"{fmt}, {threads_text(t)}:\nno kernel benchmarked", transform=ax.transAxes,
                        ha="center", va="center", color="0.4")
                continue
            unit = "GOP/s" if PEAKS[fmt][0] == "int8_gops" else "GFLOP/s"
            top = peak(machine, fmt, t, mine[0].get("isa"))
            dram, cache = read_bandwidth(machine, t, float("inf")), roof_bandwidth(machine, t, 1 << 20)
            roofs = [f"{PEAKS[fmt][1]} peak {top:.0f}" if top else f"no {PEAKS[fmt][0]} in machine.json"]
            roofs += [f"{name} {gbs:.0f} GB/s" for gbs, name in ((dram, "DRAM"), (cache, "1 MiB")) if gbs]
            ax.set_title(f"{fmt}, {threads_text(t)}\n", fontsize=10.5)
            ax.text(0.5, 1.02, "roofs: " + " · ".join(roofs) + ("  (- - DRAM, ··· 1 MiB)" if dram else ""),
                    transform=ax.transAxes, ha="center", va="bottom", fontsize=7.5, color="0.3")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(alpha=0.25, which="both")
            ax.set_xlabel(f"{'op' if unit == 'GOP/s' else 'flop'}s per weight byte (log)")
            ax.set_ylabel(f"{unit} (log)")
            names = sorted({b["kernel"] for b in mine}, key=kernels.index)
            intensity = [b["GFLOPS"] / b["GBps"] for b in mine]
            lo, hi = min(intensity) / 2.5, max(intensity) * 2.5
            x_hi = math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) / 0.58)  # the labels take the right part
            ys = [b["GFLOPS"] for b in mine] + ([top] if top else [])
            ax.set_xlim(lo, x_hi)
            ax.set_ylim(min(ys) / 3, max(ys) * 2)
            x = np.geomspace(lo, x_hi, 200)
            for gbs, style in ((dram, "--"), (cache, ":")):
                if gbs:
                    ax.plot(x, np.minimum(top, gbs * x) if top else gbs * x, style, color="0.25", linewidth=1.2)
            labels, outliers = [], []
            for i, k in enumerate(names):
                shift = 1.13 ** (i - (len(names) - 1) / 2)  # kernels side by side around each intensity
                pts = [b for b in mine if b["kernel"] == k]
                ax.scatter([shift * b["GFLOPS"] / b["GBps"] for b in pts], [b["GFLOPS"] for b in pts],
                           marker=marker[k], c=[color[b["m"]] for b in pts], s=34, alpha=0.85,
                           edgecolors="black", linewidths=0.4, zorder=3)
                name = k.removeprefix("matmul.")
                best = max(pts, key=lambda b: b["GFLOPS"])
                roof = roof_at(machine, fmt, t, best)
                labels.append((shift * best["GFLOPS"] / best["GBps"], best["GFLOPS"],
                               f"{name} {rate(best['GFLOPS'])} at m {best['m']}"
                               + (f", {100 * best['GFLOPS'] / roof:.0f}% of roof" if roof else "")))
                for b in pts:  # well above its own roof: the probe or the counter is off
                    roof = roof_at(machine, fmt, t, b)
                    if roof and b["GFLOPS"] > 1.25 * roof and b is not best:
                        outliers.append((b["GFLOPS"] / roof, (shift * b["GFLOPS"] / b["GBps"], b["GFLOPS"],
                                         f"{name} {b['case']} m {b['m']}: {b['GFLOPS'] / roof:.1f}× roof")))
            labels += [label for _, label in sorted(outliers, reverse=True)[:3]]
            later.append(lambda ax=ax, labels=labels: label_column(ax, labels, x_axes=0.61))
    handles = [Line2D([], [], marker=marker[k], linestyle="", color="white", markeredgecolor="black", markersize=7,
                      label=k) for k in kernels]
    handles += [Line2D([], [], marker="s", linestyle="", color=color[m], markersize=8, label=f"m = {m}") for m in ms]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=8.5, frameon=False)
    fig.suptitle("Matmul kernels against their roofs: shape = kernel, colour = activation rows m, "
                 "label = each kernel's best point", fontsize=11)
    fig.tight_layout(rect=(0, 0.035 * math.ceil(len(handles) / 8) / len(thread_counts) * 2, 1, 1))
    for place in later:
        place()
    save(fig, path)


def roof_bandwidth(machine, threads, nbytes):
    """Read GB/s at the largest measured working set <= nbytes (else the smallest measured): an upper
    bound for a matrix of nbytes, as a roof must be."""
    runs = [e for e in (machine or {}).get("read_bandwidth", []) if e["threads"] == threads]
    if not runs:
        return None
    fits = [e for e in runs if e["bytes"] <= nbytes]
    return (max(fits, key=lambda e: e["bytes"]) if fits else min(runs, key=lambda e: e["bytes"]))["gbs"]


def roof_at(machine, fmt, threads, bench):
    """The attainable rate of one benchmark: its format's peak or the read bandwidth of its working set."""
    gbs = roof_bandwidth(machine, threads, bench["working_set"])
    if not gbs:
        return None
    memory = gbs * bench["GFLOPS"] / bench["GBps"]
    top = peak(machine, fmt, threads, bench.get("isa"))
    return min(top, memory) if top else memory


def plot_bandwidth(benches, machine, path):
    """Decode-shaped matmuls (m = 1): weight GB/s against working set beside the probe's read bandwidth."""
    decode = [b for b in benches if b["m"] == 1]
    thread_counts = sorted({b["threads"] for b in decode})
    kernels = sorted({b["kernel"] for b in decode}, key=lambda k: (FORMATS.index(kernel_format(k)[0]), k))
    marker = {k: MARKERS[i % len(MARKERS)] for i, k in enumerate(kernels)}
    fig, axes = plt.subplots(1, len(thread_counts), figsize=(7 * len(thread_counts), 5), squeeze=False)
    for ax, t in zip(axes[0], thread_counts):
        curve = sorted((e for e in (machine or {}).get("read_bandwidth", []) if e["threads"] == t),
                       key=lambda e: e["bytes"])
        if curve:
            ax.plot([e["bytes"] for e in curve], [e["gbs"] for e in curve], "--", color="0.3",
                    label="probe: read bandwidth")
        for k in kernels:
            pts = [b for b in decode if b["kernel"] == k and b["threads"] == t]
            if pts:
                ax.scatter([b["working_set"] for b in pts], [b["GBps"] for b in pts], marker=marker[k], s=36,
                           color=FORMAT_COLORS[kernel_format(k)[0]], edgecolors="black", linewidths=0.4,
                           label=k, zorder=3)
        ax.set_xscale("log", base=4)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(human_bytes))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
        ax.set_xlabel("weight bytes of the matrix (working set, log)")
        ax.set_ylabel("weight GB/s (log)")
        ax.set_title(f"m = 1, {threads_text(t)}")
        ax.grid(alpha=0.25, which="both")
    legend = {}
    for ax in axes[0]:
        legend.update(zip(*reversed(ax.get_legend_handles_labels())))
    fig.suptitle("Decode matmuls: weight bytes read per second against working set (colour = number format)")
    fig.tight_layout()
    fig.legend(legend.values(), legend.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    save(fig, path)


# ---- run figures -------------------------------------------------------------------------------

def plot_profile(runs, model, path):
    """Horizontal bars of each profiled run's decode step, 100% wide: each operation's share, the total at the end."""
    runs = sorted(runs, key=lambda r: sum(r["profile"].values()))
    ops = [op for op in list(OPS) + sorted({k for r in runs for k in r["profile"]} - set(OPS))
           if any(r["profile"].get(op, 0) > 0 for r in runs)]
    cmap = plt.get_cmap("tab20")
    palette = {op: cmap((2 * i) % 20 + (i >= 10)) for i, op in enumerate(list(OPS) + [o for o in ops if o not in OPS])}
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.34 * len(runs)))
    width_px = 0.8 * 12 * fig.dpi  # the axes' share of the figure, before saving
    fits = lambda text, share: share * width_px >= 0.6 * 7.5 / 72 * fig.dpi * len(text) + 6  # noqa: E731
    for y, r in enumerate(runs):
        total = sum(r["profile"].values())
        left = 0.0
        for op in ops:
            share = r["profile"].get(op, 0.0) / total if total else 0.0
            ax.barh(y, share, 0.74, left=left, color=palette[op], edgecolor="white", linewidth=0.5,
                    label=op if y == 0 else None)
            text = next((t for t in (f"{op} {100 * share:.0f}%", f"{100 * share:.0f}%") if fits(t, share)), None)
            if text and share >= 0.03:
                ax.text(left + share / 2, y, text, ha="center", va="center", fontsize=7.5,
                        color="white" if sum(palette[op][:3]) < 1.6 else "black")
            left += share
        ax.text(1.01, y, f"{total:.3g} ms", va="center", fontsize=8.5)
    ax.set_yticks(range(len(runs)), [f"{r['variant']}, {threads_text(r['threads'])}" for r in runs], fontsize=8.5)
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    ax.set_xlabel("share of a decode step (total ms per token at the right)")
    ax.set_title(f"{model}: where a decode step's time goes (profiled runs, fastest first)", loc="left", pad=24)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(ops), 10), fontsize=8, frameon=False,
              handlelength=1.2, columnspacing=1.0, borderaxespad=0.2)
    save(fig, path)


def line_colors(keys):
    """A distinct colour per key: tab10's, then tab20's light ones."""
    dark, light = plt.get_cmap("tab10"), plt.get_cmap("tab20")
    return {k: dark(i) if i < 10 else light((2 * (i - 10) + 1) % 20) for i, k in enumerate(keys)}


def line_labels(ax, ends):
    """Direct labels at the right end of each line: (x, y, text, colour) with no two overlapping."""
    if not ends:
        return
    to_axes = ax.transAxes.inverted()
    ys = [to_axes.transform(ax.transData.transform((x, y)))[1] for x, y, _, _ in ends]
    gap = 1.3 * 8 / 72 * ax.figure.dpi / ax.get_window_extent().height
    for (x, y, text, color), ty in zip(ends, spread(ys, gap, 0.0, 1.0)):
        ax.annotate(text, (x, y), xytext=(1.02, ty), textcoords="axes fraction", fontsize=8, va="center",
                    color=color, arrowprops=dict(arrowstyle="-", color=color, linewidth=0.5, alpha=0.6))


def plot_threads(res, path):
    """Decode and prefill tok/s against threads, one row per model, every line labelled at its end."""
    models = [m for m in res.models if res.runs(model=m)]
    fig, axes = plt.subplots(len(models), 2, figsize=(13, 4.2 * len(models)), squeeze=False)
    later = []
    counts = {}
    for r in res.runs():
        counts.setdefault((r["impl"], r["variant"], r["model"]), set()).add(r["threads"])
    palette = line_colors(sorted({k[:2] for k, ts in counts.items() if len(ts) > 1},
                                 key=lambda k: (k[0] != "workbench", k)))
    for row, model in zip(axes, models):
        lines = {}
        for r in sorted(res.runs(model=model), key=lambda r: r["threads"]):
            lines.setdefault((r["impl"], r["variant"]), []).append(r)
        lines = {k: rs for k, rs in lines.items() if len(rs) > 1}
        for ax, (field, phase) in zip(row, (("decode_tok_s", "decode"), ("prefill_tok_s", "prefill"))):
            ends = []
            for (impl, variant), rs in sorted(lines.items()):
                if any(median(r, field) is None for r in rs):
                    continue  # a peer that does not report this rate (llama2.c's prefill)
                color = palette[(impl, variant)]
                xs, ys = [r["threads"] for r in rs], [median(r, field) for r in rs]
                ax.plot(xs, ys, "o-" if impl == "workbench" else "s--", color=color, markersize=4)
                ends.append((xs[-1], ys[-1], variant + ("" if impl == "workbench" else f" ({impl})"), color))
            ax.set_xticks(sorted({r["threads"] for rs in lines.values() for r in rs}))
            ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.05)
            ax.set_title(f"{model}: {phase}", loc="left")
            ax.set_xlabel("threads")
            ax.set_ylabel(f"{phase} tok/s (median)")
            ax.grid(alpha=0.3)
            if not lines:
                ax.text(0.5, 0.5, "no variant ran at more than one thread count", transform=ax.transAxes,
                        ha="center")
            later.append((ax, ends))
    fig.suptitle("Thread scaling (solid: workbench variants; dashed: baselines and peers)")
    fig.tight_layout(w_pad=12, rect=(0, 0, 1, 0.985))
    for ax, ends in later:
        line_labels(ax, ends)
    save(fig, path)


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
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("decode position (tokens already in the KV cache)")
    ax.set_ylabel("ms per decode step")
    ax.set_title(f"{profile['model']} shape, {profile['variant']}, {threads_text(profile['threads'])}: "
                 "where attention overtakes the matmuls")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    save(fig, path)


# ---- inputs ------------------------------------------------------------------------------------

def load_benchmarks(paths):
    """Matmul iterations of Google Benchmark JSON files, with the name's parts parsed, and a
    description of each file read."""
    out, sources = [], []
    for path in paths:
        try:
            data = json.loads(path.read_text())
            entries = data.get("benchmarks", [])
            sources.append(f"{path.name} ({data.get('context', {}).get('date', 'undated')})")
            cpu = data.get("context", {}).get("cpu")
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
            out.append(dict(kernel=parts[0], case=parts[1], m=m, threads=threads, format=kernel_format(parts[0])[0],
                            GFLOPS=counters[0], GBps=counters[1], working_set=counters[2], isa=b.get("label") or None,
                            cpu=cpu))
    return out, sources


def one_machine(records, positions, batched, benches, machine):
    """A report is of one CPU: machine.json's (the probe of the latest `make bench`), else the newest record's.
    Returns that CPU, the e2e, position and batched records and kernel benchmarks run on it, and a sentence naming
    what was left out (records of other CPUs stay in the results directory as history)."""
    cpu = (machine or {}).get("cpu") or max(records, key=lambda r: r["_time"]).get("cpu")
    if not cpu:
        return None, records, positions, batched, benches, ""
    others = {}
    for r in records + positions + batched:
        if r.get("cpu") != cpu:
            others[r.get("cpu") or "no CPU named"] = others.get(r.get("cpu") or "no CPU named", 0) + 1
    other_benches = [b for b in benches if b.get("cpu") not in (None, cpu)]
    kept = [[r for r in group if r.get("cpu") == cpu] for group in (records, positions, batched)]
    said = ""
    if others or other_benches:
        parts = [f"{n} of {name}" for name, n in sorted(others.items())]
        if other_benches:
            parts.append(f"{len(other_benches)} kernel benchmarks of other CPUs")
        said = f"Records of other machines left out: {', '.join(parts)}."
    return cpu, kept[0], kept[1], kept[2], [b for b in benches if b not in other_benches], said


def load_machine(path):
    if not path.exists():
        return None
    try:
        machine = json.loads(path.read_text())
        for key, _ in PEAKS.values():
            if not isinstance(machine.get(key), dict):
                machine[key] = {}
        machine["read_bandwidth"] = [e for e in machine.get("read_bandwidth", [])
                                     if all(isinstance(e.get(k), (int, float)) for k in ("bytes", "threads", "gbs"))]
        return machine
    except (OSError, ValueError, AttributeError) as e:
        warn(f"{path}: ignored unreadable machine file ({e})")
        return None


# ---- REPORT.md ---------------------------------------------------------------------------------

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def distinct(values):
    return ", ".join(dict.fromkeys(v for v in values if v)) or "n/a"


def against_peers(res, record, field="decode_tok_s"):
    return ", ".join(f"{times(ratio(median(record, field), median(p, field)))} {p['variant']}"
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
                            + [times(ratio(d, median(b, "decode_tok_s"))) if (b := res.baseline(n, model, t)) else "n/a"
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
        "either side of those bytes (a set that partly fits the last cache reads faster than DRAM). Baseline ratios are against the "
        "baseline at the same thread count, or at 1 thread when it has no run at that count; peer ratios against "
        "the peers of the same format at the same thread count."]


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

    records, positions, batched = [], [], []
    for path in sorted(args.results.glob("*.jsonl")):
        try:
            records += load_jsonl(path)
            positions += load_position_profiles(path)
            batched += load_batched(path)
        except (OSError, UnicodeDecodeError) as e:
            warn(f"{path}: skipped unreadable file ({e})")
    if not records:
        warn(f"no e2e records in {args.results}")
        return 1
    machine = load_machine(args.results / "machine.json")
    benches, bench_sources = load_benchmarks(sorted(args.results.glob("bench_kernels*.json")))
    cpu, records, positions, batched, benches, left_out = one_machine(records, positions, batched, benches, machine)
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
        ("batched runs", not any(r["status"] == "ok" for r in batched)), ("per-op profiles", not profiled), ("position profile", not positions),
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
    if any(r["status"] == "ok" for r in batched):
        lines, paths = batch_section(batched, machine, out)
        md += lines
        written += paths
    else:
        warn("skipped the batched section: no bench_batched records")
        md += ["## Batched decoding", "", "*No batched runs (bench_batched records); skipped.*", ""]
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
