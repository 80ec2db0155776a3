"""The report's figures: the best of each number format, matmul kernels against their roofs, decode bandwidth by
working set, per-op profiles, thread scaling and attention against the matmuls by position."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from report_records import (FORMATS, MATMUL_OPS, OPS, PEAKS, kernel_format, number_format, peak, rate,  # noqa: E402
                            record_ceiling, threads_text)
from results_io import median, read_bandwidth  # noqa: E402

FORMAT_COLORS = {"fp32": "tab:blue", "bf16": "tab:green", "int8": "tab:orange", "int4": "tab:red",
                 "Q4_K": "tab:brown", "Q5_K": "tab:pink", "Q6_K": "tab:olive",
                 "fp16": "tab:purple"}
BASELINE_COLOR = "0.6"
MARKERS = "os^Dv<>PXph*Hd8"
STALE_FIGURES = ("summary.png", "roofline.png", "bandwidth.png", "profile*.png", "threads.png", "positions.png",
                 "batch*.png", "depth_*.png", "speedup_*.png")
DPI = 110


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
