#!/usr/bin/env python3
"""compare.py A.jsonl B.jsonl: a markdown table of two runs side by side (decode and prefill
tok/s medians of each (variant, threads, model), and B/A), on stdout."""

import argparse
import sys

from results_io import load_jsonl, median, newest, num, ratio


def load(path):
    try:
        records = load_jsonl(path)
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"compare.py: cannot read {path}: {getattr(e, 'strerror', None) or e}")
    if not records:
        raise SystemExit(f"compare.py: no e2e records in {path}")
    return newest(records, lambda r: (r["variant"], r["threads"], r["model"]))


def value(record, field):
    return num(median(record, field)) if record["status"] == "ok" else record["status"]


def cells(a, b, field):
    """decode or prefill of A, of B, and B/A; the status in place of a figure when not ok."""
    if not (a and b):
        return [value(a, field) if a else "", value(b, field) if b else "", "only in A" if a else "only in B"]
    s = ratio(median(b, field), median(a, field)) if a["status"] == b["status"] == "ok" else None
    return [value(a, field), value(b, field), f"{s:.2f}×" if s else "n/a"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", metavar="A.jsonl")
    parser.add_argument("b", metavar="B.jsonl")
    args = parser.parse_args()
    runs_a, runs_b = load(args.a), load(args.b)

    runs = {**runs_a, **runs_b}
    models = list(dict.fromkeys(k[2] for k in runs))
    keys = sorted(runs, key=lambda k: (models.index(k[2]), runs[k]["impl"] != "workbench", k[0], k[1]))
    print(f"A = `{args.a}`, B = `{args.b}`; tok/s are medians, speedup = B / A.\n")
    print("| variant | threads | model | decode A | decode B | speedup | prefill A | prefill B | speedup |")
    print("|" + " --- |" * 9)
    for key in keys:
        a, b = runs_a.get(key), runs_b.get(key)
        row = [key[0], str(key[1]), key[2]] + cells(a, b, "decode_tok_s") + cells(a, b, "prefill_tok_s")
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
