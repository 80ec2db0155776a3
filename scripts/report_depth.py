#!/usr/bin/python3
"""report_depth.py [--results DIR] [--out DIR]: decode tokens/s against the context already in the KV cache
(bench_depth's records, kind "depth" in harness/SCHEMA.md), per variant and cache type and per peer, with the line
the read bandwidth allows when each token streams the weights and every cached position's keys and values.
report.py calls depth_section() when depth records exist; alone, this writes DEPTH.md."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from report_records import WEIGHT_TYPES  # noqa: E402
from results_io import ceiling, is_num, load_kind, newest, num, section_main  # noqa: E402

DPI = 110


def usable(r):
    """Whether a depth record has what the section reads."""
    return all(isinstance(r.get(k), str) for k in ("timestamp", "impl", "variant", "model", "status", "kv_type")) \
        and all(is_num(r.get(k)) and r[k] >= 0 for k in ("threads", "depth", "model_bytes", "kv_bytes_per_position")) \
        and all(isinstance(r.get(k), dict) for k in ("prefill_tok_s", "decode_tok_s")) \
        and (r["status"] != "ok" or is_num(r["decode_tok_s"].get("median")))


def load_depth(path):
    """The usable depth records of one JSON-lines file (others are report.py's business)."""
    return load_kind(path, "depth", usable)


def weight_bytes(r):
    """Weight bytes one decode step streams: every weight once at the run's bytes per weight."""
    bpw = r.get("bytes_per_weight") or WEIGHT_TYPES.get(r.get("weight_type") or "", ("fp32", 4.0))[1]
    return r["model_bytes"] / 4 * bpw


def token_bytes(r, depth):
    """Bytes one decode step at `depth` reads: the weights, and every cached position's keys and values."""
    return weight_bytes(r) + depth * r["kv_bytes_per_position"]


def bound(machine, r, depth):
    """Decode tok/s the read bandwidth allows at `depth`, or None without a probe."""
    return ceiling(machine, r["threads"], token_bytes(r, depth))


def label(r):
    return f"{r['variant']}, {r['kv_type']} cache"


def series(records):
    """{(model, threads, impl, variant, kv_type, P, N): [newest ok record per depth, by depth]}."""
    latest = newest([r for r in records if r["status"] == "ok"], lambda r: (
        r["model"], r["threads"], r["impl"], r["variant"], r["kv_type"], r["prompt_tokens"], r["gen_tokens"], r["depth"]))
    out = {}
    for r in latest.values():
        out.setdefault((r["model"], r["threads"], r["impl"], r["variant"], r["kv_type"], r["prompt_tokens"],
                        r["gen_tokens"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["depth"]) for k, v in sorted(out.items(), key=lambda kv: (kv[0][:2], kv[0][2] != "workbench", kv[0][3:]))}


def plot(title, grouped, machine, path):
    fig, ax = plt.subplots(figsize=(9, 6))
    cmap = plt.get_cmap("tab10")
    depths = sorted({r["depth"] for rows in grouped.values() for r in rows})
    bounds_drawn = set()
    for i, (key, rows) in enumerate(grouped.items()):
        peer = key[2] == "peer"
        ax.plot([r["depth"] for r in rows], [r["decode_tok_s"]["median"] for r in rows], "s--" if peer else "o-",
                color=cmap(i % 10), label=label(rows[0]))
        line = (round(weight_bytes(rows[0])), rows[0]["kv_bytes_per_position"])
        if machine and not peer and line not in bounds_drawn:
            bounds_drawn.add(line)
            xs = sorted(set([0] + depths))
            ys = [bound(machine, rows[0], d) for d in xs]
            if all(ys):
                ax.plot(xs, ys, ":", color=cmap(i % 10), linewidth=1,
                        label=f"bound: {num(weight_bytes(rows[0]) / 1e6)} MB weights + {rows[0]['kv_type']} cache")
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_xlabel("depth: positions in the KV cache before the timed tokens")
    ax.set_ylabel("decode tok/s")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def versus_peers(r, grouped):
    """'1.23× ik Q8_0' for each peer series with the same model, threads, cache type and weight type at r's depth."""
    out = []
    for key, rows in grouped.items():
        if key[2] != "peer" or key[4] != r["kv_type"] or (rows[0].get("weight_type") != r.get("weight_type")):
            continue
        same = next((p for p in rows if p["depth"] == r["depth"]), None)
        if same and same["decode_tok_s"]["median"]:
            out.append(f"{r['decode_tok_s']['median'] / same['decode_tok_s']['median']:.2f}× {same['variant']}")
    return ", ".join(out)


def depth_section(records, machine, out):
    """Markdown lines of the depth section; writes depth_<model>_<threads>t.png into out. Returns (lines, paths)."""
    grouped = series(records)
    md = ["## Decode at depth", "",
          "Decode tok/s after D positions are already in the KV cache (`bench_depth`: the cache is filled from "
          "position 0, then a P-token prompt and N decoded tokens are timed at positions D on), per variant and "
          "cache type, and peers at the same depths with the same cache type (llama-bench `-d`, or ik_llama.cpp's "
          "`-gp D,N`, flash attention on). Bound = the read bandwidth at the bytes one token streams (the weights, "
          "and the keys and values of every cached position in the cache's type) ÷ those bytes. "
          "'prompt of D' is the rate of filling the D positions from 0: a D-token prompt.", ""]
    written = []
    for model, threads in dict.fromkeys(k[:2] for k in grouped):
        mine = {k: rows for k, rows in grouped.items() if k[:2] == (model, threads)}
        name = f"depth_{model}_{threads}t.png"
        plot(f"{model}, {threads} thread{'s' if threads != 1 else ''}: decode against depth", mine, machine, out / name)
        written.append(out / name)
        md += [f"### {model}, {threads} thread{'s' if threads != 1 else ''}", "", f"![{model} decode at depth]({name})", ""]
        header = ["variant", "KV", "depth", "tg tok/s", "of depth 0", "bound", "of bound", "vs peers", "pp tok/s",
                  "prompt of depth tok/s"]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for key, rows in mine.items():
            zero = next((r["decode_tok_s"]["median"] for r in rows if r["depth"] == 0), None)
            for r in rows:
                s = r["decode_tok_s"]["median"]
                b = bound(machine, r, r["depth"]) if machine else None
                lines.append("| " + " | ".join(str(x) for x in (
                    r["variant"], r["kv_type"], r["depth"], num(s), f"{100 * s / zero:.0f}%" if zero else "n/a",
                    num(b), f"{100 * s / b:.0f}%" if b else "n/a",
                    versus_peers(r, mine) if key[2] == "workbench" else "", num(r["prefill_tok_s"].get("median")),
                    num(r.get("fill_tok_s")))) + " |")
        md += lines + [""]
    return md, written


def main():
    return section_main(__doc__.split("\n")[0], load_depth, depth_section, "Decode at depth", "DEPTH.md", "depth", "no bandwidth bounds")


if __name__ == "__main__":
    sys.exit(main())
