#!/usr/bin/env python3
"""Compares two folders of traced tensors, layer by layer and stage by stage.

Usage: compare_dumps.py A B [--tolerance T]

A and B are folders written by `trace --dump DIR` (DIR/<variant>) or `llama2_numpy.py --dump DIR`:
one .npy per forward call and stage, and an index.json. Rows are positions, so a prompt run in one
call and the same prompt run token by token compare position by position. Prints, for every layer
and stage both folders hold, the max absolute error, the max error relative to B's largest value,
and the cosine similarity. With --tolerance, exits 1 when a relative error passes it.
"""

import json
import os
import sys

import numpy as np


class Fail(Exception):
    pass


def load(folder):
    path = os.path.join(folder, "index.json")
    try:
        with open(path) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("%s: not a dump folder (%s)" % (folder, e))
    rows = {}  # (layer, stage) -> {position: row}
    for t in index.get("tensors", []):
        values = np.load(os.path.join(folder, t["file"]))
        if values.ndim != 2 or values.shape[0] != t["pos1"] - t["pos0"] + 1:
            raise Fail("%s: %s does not hold one row per position" % (folder, t["file"]))
        by_pos = rows.setdefault((t["layer"], t["stage"]), {})
        for i, row in enumerate(values):
            by_pos[t["pos0"] + i] = row
    return index, rows


def compare(a_rows, b_rows):
    """Yields (layer, stage, positions, max_abs, max_rel, cosine) in B's order."""
    for key, b_pos in b_rows.items():
        a_pos = a_rows.get(key)
        if not a_pos:
            continue
        common = sorted(set(a_pos) & set(b_pos))
        if not common:
            continue
        a = np.stack([a_pos[p] for p in common]).astype(np.float64)
        b = np.stack([b_pos[p] for p in common]).astype(np.float64)
        if a.shape != b.shape:
            raise Fail("%s %s: shapes differ (%s and %s)" % (key[0], key[1], a.shape, b.shape))
        diff = np.abs(a - b)
        max_abs = float(diff.max()) if diff.size else 0.0
        scale = float(np.abs(b).max()) if b.size else 0.0
        max_rel = 0.0 if max_abs == 0 else (max_abs / scale if scale > 0 else float("inf"))
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cosine = float((a * b).sum() / (na * nb)) if na > 0 and nb > 0 else (1.0 if na == nb else 0.0)
        yield key[0], key[1], len(common), max_abs, max_rel, cosine


def main(argv):
    args = argv[1:]
    tolerance = None
    if "--tolerance" in args:
        k = args.index("--tolerance")
        try:
            tolerance = float(args[k + 1])
        except (IndexError, ValueError):
            raise Fail("--tolerance expects a number")
        del args[k:k + 2]
    if len(args) != 2 or any(a.startswith("-") for a in args):
        raise Fail("usage: compare_dumps.py A B [--tolerance T]")
    (ia, a_rows), (ib, b_rows) = load(args[0]), load(args[1])
    print("%s (%s) against %s (%s)" % (args[0], ia.get("variant", "?"), args[1], ib.get("variant", "?")))
    print("%-6s %-14s %9s %12s %12s %12s" % ("layer", "stage", "positions", "max abs", "max rel", "cosine"))
    worst, rows = None, 0
    for layer, stage, n, max_abs, max_rel, cosine in compare(a_rows, b_rows):
        rows += 1
        over = tolerance is not None and max_rel > tolerance
        print("%-6s %-14s %9d %12.3e %12.3e %12.9f%s" % ("out" if layer < 0 else layer, stage, n, max_abs, max_rel,
                                                      cosine, "  << beyond tolerance" if over else ""))
        if over and worst is None:
            worst = (layer, stage, max_rel)
    if rows == 0:
        raise Fail("the two folders share no layer, stage and position")
    if worst is not None:
        print("first beyond tolerance: layer %s %s, relative error %.3e > %g" % (worst[0], worst[1], worst[2], tolerance))
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Fail as e:
        sys.stderr.write("compare_dumps.py: %s\n" % e)
        sys.exit(2 if "usage" in str(e) or "expects" in str(e) else 1)
