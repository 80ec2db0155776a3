#!/usr/bin/python3
"""report_batch.py [--results DIR] [--out DIR]: aggregate decode tokens/s against the number of sequences
decoded together (bench_batched's records, kind "batched" in harness/SCHEMA.md), per variant, with the memory
line (B x the one-sequence read-bandwidth ceiling) and the compute roof (the probe's peak / 2 flops per weight
per token). report.py calls batch_section() when batch records exist; alone, this writes BATCH.md."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from results_io import ceiling, is_num, load_kind, newest, num, section_main  # noqa: E402

INT8_TYPES = ("Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K")  # weight types whose kernels dot int8 codes: read against the int8 peak
KNEE_SHARE = 0.9  # the knee: the first B whose aggregate decode reaches this share of the group's best
DPI = 110


def usable(r):
    """Whether a batched record has what the section reads."""
    ints = ("threads", "batch", "prompt_tokens", "gen_tokens", "model_bytes")
    return all(isinstance(r.get(k), str) for k in ("timestamp", "variant", "model", "status")) \
        and all(is_num(r.get(k)) and r[k] > 0 for k in ints) \
        and all(isinstance(r.get(k), dict) and is_num(r[k].get("median")) for k in ("prefill_tok_s", "decode_tok_s", "ttft_ms"))


def load_batched(path):
    """The usable batched records of one JSON-lines file (others are report.py's business)."""
    return load_kind(path, "batched", usable)


def params(r):
    return r["model_bytes"] / 4


def streamed_bytes(r):
    """Weight bytes one decode step reads: every weight once, at the matmul kernel's bytes per weight."""
    return params(r) * (r.get("bytes_per_weight") or 4)


def sequence_ceiling(machine, r):
    """One sequence's decode tok/s when every step streams the weights at the measured read bandwidth."""
    return ceiling(machine, r["threads"], streamed_bytes(r))


def int8_kernel(r):
    """Whether the record's kernel dots int8 codes: by the weight type it declares; records written before
    bench_batched declared one, by their bytes per weight (int8 and 4-bit kernels stream under 1.5)."""
    if r.get("weight_type"):
        return r["weight_type"] in INT8_TYPES
    return (r.get("bytes_per_weight") or 4) <= 1.5


def roof(machine, r):
    """Aggregate decode tok/s at the arithmetic peak: peak ops / (2 ops per weight per token); (value, name)."""
    int8 = int8_kernel(r)
    key, name = ("int8_gops", "int8") if int8 else ("fma_gflops", "fp32 FMA")
    peak = ((machine or {}).get(key) or {}).get(str(r["threads"]))
    return (peak * 1e9 / (2 * params(r)), name) if is_num(peak) else (None, name)


def groups(records):
    """{(model, variant, threads, P, N): [newest record per B, by B]}."""
    latest = newest([r for r in records if r["status"] == "ok"], lambda r: (
        r["model"], r["variant"], r["threads"], r["prompt_tokens"], r["gen_tokens"], r["batch"]))
    out = {}
    for r in latest.values():
        out.setdefault((r["model"], r["variant"], r["threads"], r["prompt_tokens"], r["gen_tokens"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["batch"]) for k, v in out.items()}


def knee(rows):
    best = max(r["decode_tok_s"]["median"] for r in rows)
    return next(r["batch"] for r in rows if r["decode_tok_s"]["median"] >= KNEE_SHARE * best)


def plot(model, grouped, machine, path):
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    cmap = plt.get_cmap("tab10")
    roofs, batches = {}, set()
    for i, ((_, variant, threads, P, N), rows) in enumerate(grouped):
        color = cmap(i % 10)
        bs = [r["batch"] for r in rows]
        batches.update(bs)
        label = f"{variant}, {threads} thr" + (f" (P={P}, N={N})" if len({k[3:] for k, _ in grouped}) > 1 else "")
        ax.plot(bs, [r["decode_tok_s"]["median"] for r in rows], "o-", color=color, label=label)
        c = sequence_ceiling(machine, rows[0])
        if c:
            ax.plot(bs, [b * c for b in bs], ":", color=color, linewidth=1,
                    label=f"{variant}: B × {num(c)} tok/s (memory line)")
        value, name = roof(machine, rows[0])
        if value:
            roofs[(name, threads)] = value
    for (name, threads), value in sorted(roofs.items()):
        ax.axhline(value, color="black", linestyle="--" if name == "fp32 FMA" else "-.", linewidth=1)
        ax.text(0.01, value, f"{name} roof, {threads} thr: {num(value)} tok/s", transform=ax.get_yaxis_transform(),
                fontsize=8, va="bottom")
    ax.set_xticks(sorted(batches), [str(b) for b in sorted(batches)])
    ax.set_xlabel("B, sequences decoded together (log)")
    ax.set_ylabel("aggregate decode tok/s (S_TG, log)")
    ax.set_title(f"{model}: decode throughput against B")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def batch_section(records, machine, out):
    """Markdown lines of the batched-decoding section; writes batch_<model>.png into out. Returns (lines, paths)."""
    grouped = groups(records)
    models = list(dict.fromkeys(k[0] for k in grouped))
    md = ["## Batched decoding", "",
          "Aggregate decode tok/s (S_TG) of B sequences decoded together (`bench_batched`: each of B sequences "
          "prefills P tokens, then N steps decode one token of each). Memory line = B × the one-sequence ceiling "
          "(read bandwidth at the variant's weight bytes ÷ those bytes: every step streams the weights once); roof = "
          "the probe's peak (fp32 FMA, or int8 for int8 and 4-bit kernels) ÷ 2 ops per weight per token. "
          "Bound = the lower of the two: the most a step of B sequences can give. The memory line meets the roof at "
          f"B = roof ÷ ceiling (the ideal knee); the measured knee is the first B reaching {KNEE_SHARE:.0%} of the "
          "variant's best S_TG.", ""]
    written = []
    for model in models:
        mine = [(k, rows) for k, rows in grouped.items() if k[0] == model]
        path = out / f"batch_{model}.png"
        plot(model, mine, machine, path)
        written.append(path)
        md += [f"### {model}", "", f"![{model} batched decoding]({path.name})", ""]
        header = ["variant", "threads", "P", "N", "B", "S_TG tok/s", "× B=1", "memory line", "roof", "of bound",
                  "S_PP tok/s"]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        notes = []
        for (_, variant, threads, P, N), rows in mine:
            one = next((r["decode_tok_s"]["median"] for r in rows if r["batch"] == 1), None)
            c = sequence_ceiling(machine, rows[0])
            value, _ = roof(machine, rows[0])
            for r in rows:
                s = r["decode_tok_s"]["median"]
                line = c * r["batch"] if c else None
                bound = min(x for x in (line, value) if x) if line or value else None
                lines.append("| " + " | ".join(str(x) for x in (
                    variant, threads, P, N, r["batch"], num(s), f"{s / one:.2f}×" if one else "n/a", num(line),
                    num(value), f"{100 * s / bound:.0f}%" if bound else "n/a",
                    num(r["prefill_tok_s"]["median"]))) + " |")
            best = max(r["decode_tok_s"]["median"] for r in rows)
            notes.append(f"- {variant}, {threads} thread(s), P={P}, N={N}: best {num(best)} tok/s"
                         + (f" ({100 * best / value:.0f}% of the roof)" if value else "")
                         + (f"; ideal knee at B ≈ {value / c:.0f}" if value and c else "")
                         + f"; measured knee at B = {knee(rows)}")
        md += lines + [""] + notes + [""]
    return md, written


def main():
    return section_main(__doc__.split("\n")[0], load_batched, batch_section, "Batched decoding", "BATCH.md", "batched", "no memory lines or roofs")


if __name__ == "__main__":
    sys.exit(main())
