"""Helpers shared by the Python tests: the records a benchmark writes, the tables of the reports built from them."""
import json
import math
import os


def load_records(directory):
    """Every JSON line of every .jsonl file in directory, in file-name order."""
    records = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".jsonl"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                records += [json.loads(line) for line in f if line.strip()]
    return records


def markdown_table(text, heading):
    """The first table after `heading`: a list of {column: cell}."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return [dict(zip(rows[0], row)) for row in rows[2:]]


def number(cell):
    """A table cell's number: '1,234', '2.50×' and '97%' read as 1234, 2.5 and 97."""
    return float(cell.rstrip("×%").replace(",", ""))


def interpolated_gbs(runs, nbytes):
    """The read rate the report documents for nbytes: between the probe's measured working sets either side the rate
    goes as a power of the size (a straight line on log-log axes); outside them, the nearest measured size's. A size
    is credited the best rate measured at it or at any larger size."""
    runs = [dict(e, gbs=max(o["gbs"] for o in runs if o["bytes"] >= e["bytes"])) for e in runs]
    below = [e for e in runs if e["bytes"] <= nbytes]
    above = [e for e in runs if e["bytes"] >= nbytes]
    if not below:
        return min(runs, key=lambda e: e["bytes"])["gbs"]
    if not above:
        return max(runs, key=lambda e: e["bytes"])["gbs"]
    lo, hi = max(below, key=lambda e: e["bytes"]), min(above, key=lambda e: e["bytes"])
    if hi["bytes"] == lo["bytes"]:
        return lo["gbs"]
    return lo["gbs"] * (hi["gbs"] / lo["gbs"]) ** (math.log(nbytes / lo["bytes"]) / math.log(hi["bytes"] / lo["bytes"]))
