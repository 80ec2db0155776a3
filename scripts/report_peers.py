"""The report's section on other engines (bench_all --peer): for each model, the decode and prefill tok/s of
the best workbench variant of each weight type beside every peer run on a file of that type, at 1 thread and
at the most threads measured, with the read-bandwidth ceiling of that type drawn over the decode bars."""

import matplotlib.pyplot as plt
import numpy as np

from results_io import median, num, ratio

# Bytes a decode step streams per weight, scales included (GGUF's block layouts).
BYTES_PER_WEIGHT = {"F32": 4.0, "BF16": 2.0, "F16": 2.0, "Q8_0": 34 / 32, "Q4_0": 18 / 32}
PHASES = (("decode_tok_s", "decode"), ("prefill_tok_s", "prefill"))
DPI = 110


def peer_label(record):
    """The peer without its weight type: 'llama.cpp', 'llama2.c runomp'."""
    return record["variant"].rsplit(" ", 1)[0]


def groups(records, model):
    """[(weight type, threads, best workbench record or None, [peer records])] of one model, types in the
    order their bytes per weight fall, threads 1 and the most measured."""
    ok = [r for r in records if r["model"] == model and r["status"] == "ok" and r.get("weight_type")]
    peers = [r for r in ok if r["impl"] == "peer"]
    if not peers:
        return []
    threads = sorted({min(r["threads"] for r in ok), max(r["threads"] for r in ok)})
    types = sorted({r["weight_type"] for r in peers}, key=lambda t: -BYTES_PER_WEIGHT.get(t, 0))
    out = []
    for wtype in types:
        for t in threads:
            mine = [r for r in ok if r["impl"] == "workbench" and r["weight_type"] == wtype and r["threads"] == t]
            theirs = sorted((r for r in peers if r["weight_type"] == wtype and r["threads"] == t), key=peer_label)
            if mine or theirs:
                out.append((wtype, t, max(mine, key=lambda r: median(r, "decode_tok_s")) if mine else None, theirs))
    return out


def ceiling(machine, bandwidth, record, wtype):
    """Decode tok/s the read bandwidth allows when every weight is streamed in wtype, or None."""
    per_weight = BYTES_PER_WEIGHT.get(wtype)
    if not machine or not per_weight:
        return None
    nbytes = record["model_bytes"] / 4 * per_weight  # model_bytes counts the matrices in fp32
    gbs = bandwidth(machine, record["threads"], nbytes)
    return gbs * 1e9 / nbytes if gbs else None


def plot_model(model, rows, machine, bandwidth, path):
    labels = ["workbench (best variant)"] + sorted({peer_label(r) for _, _, _, ps in rows for r in ps})
    cmap = plt.get_cmap("tab10")
    palette = {name: cmap(i % 10) for i, name in enumerate(labels)}
    fig, axes = plt.subplots(1, 2, figsize=(max(10, 2.2 * len(rows) + 4), 5.5))
    width = 0.8 / len(labels)
    x = np.arange(len(rows))
    for ax, (field, phase) in zip(axes, PHASES):
        drawn = set()
        for gi, (wtype, threads, best, peers) in enumerate(rows):
            bars = ([(labels[0], best, best["variant"])] if best else []) + [(peer_label(r), r, None) for r in peers]
            for label, record, note in bars:
                value = median(record, field)
                if value is None:
                    continue
                xi = gi + (labels.index(label) - (len(labels) - 1) / 2) * width
                ax.bar(xi, value, width, color=palette[label], label=None if label in drawn else label)
                drawn.add(label)
                ax.annotate(f"{num(value)}" + (f" {note}" if note else ""), (xi, value), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=7, rotation=90)
            cap = ceiling(machine, bandwidth, (best or peers[0]), wtype) if field == "decode_tok_s" else None
            if cap:
                ax.hlines(cap, gi - 0.45, gi + 0.45, colors="black", linestyles="--", zorder=3,
                          label=None if "ceiling" in drawn else "read-bandwidth ceiling")
                drawn.add("ceiling")
        ax.set_xticks(x, [f"{wtype}\n{threads} thr" for wtype, threads, _, _ in rows])
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)  # room for the labels over the bars
        ax.set_xlabel("weight type of the model file and thread count")
        ax.set_ylabel(f"{phase} tok/s (median)")
        ax.set_title(f"{model}: {phase}")
        ax.grid(axis="y", alpha=0.3)
    legend = {}
    for ax in axes:
        legend.update(zip(*reversed(ax.get_legend_handles_labels())))
    fig.suptitle(f"{model}: the workbench beside other engines on the same model, like for like")
    fig.tight_layout()
    fig.legend(legend.values(), legend.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(legend),
               fontsize=9)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def peer_section(records, models, machine, bandwidth, out, figure):
    """REPORT.md lines for the peers (none when no record is a peer's), drawing peers_<model>.png through
    report.py's figure(title, name, drawn, note)."""
    if not any(r["impl"] == "peer" for r in records):
        return []
    md = ["## Against other engines", "",
          "Each peer ran on a file the workbench wrote from the same model (GGUF F32 / Q8_0 / Q4_0 for llama.cpp, "
          "llama2.c v0 for llama2.c) and is set beside the fastest workbench variant streaming the same weight "
          "type. llama-bench's tg test decodes from an empty cache, the workbench after its prompt; llama2.c's "
          "rate counts its prompt, fed one token at a time, and it has no prefill figure (harness/SCHEMA.md).", ""]
    table = []
    for model in models:
        rows = groups(records, model)
        if not rows:
            continue
        name = f"peers_{model}.png"
        plot_model(model, rows, machine, bandwidth, out / name)
        md += figure(f"{model} against other engines", name, True, "")
        for wtype, threads, best, peers in rows:
            for p in peers:
                mine = [median(best, f) if best else None for f, _ in PHASES]
                theirs = [median(p, f) for f, _ in PHASES]
                table.append([model, wtype, threads, best["variant"] if best else "n/a", num(mine[0]), num(mine[1]),
                              p["variant"], p["peer"].get("version", "")[:19], num(theirs[0]), num(theirs[1])]
                             + [f"{num(ratio(a, b))}×" if ratio(a, b) else "n/a" for a, b in zip(mine, theirs)])
    header = ["model", "type", "threads", "workbench variant", "decode tok/s", "prefill tok/s", "peer", "peer version",
              "peer decode", "peer prefill", "decode ratio", "prefill ratio"]
    md += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    return md + [""]
