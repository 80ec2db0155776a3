"""Reading result records (harness/SCHEMA.md); shared by report.py and compare.py."""

import argparse
import json
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

RATES = ("prefill_tok_s", "decode_tok_s", "ttft_ms")
PROG = os.path.basename(sys.argv[0]) or "python"


def warn(message):
    print(f"{PROG}: {message}", file=sys.stderr)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _problem(obj):
    """Why obj is not a usable e2e record, or None."""
    for field in ("timestamp", "impl", "variant", "model", "status"):
        if not isinstance(obj.get(field), str):
            return f"'{field}' missing or not a string"
    for field in ("threads", "prompt_tokens", "gen_tokens", "model_bytes"):
        if not _is_int(obj.get(field)):
            return f"'{field}' missing or not an integer"
    for field in RATES:
        rate = obj.get(field)
        if not isinstance(rate, dict) or not (rate.get("median") is None or is_num(rate["median"])):
            return f"'{field}' is not a timing object"
        # A peer program may not report prefill or TTFT (null); every ok record has a decode rate.
        if obj["status"] == "ok" and field == "decode_tok_s" and not is_num(rate.get("median")):
            return f"'{field}' has no median on an ok record"
    if obj.get("profile") is not None and not (
            isinstance(obj["profile"], dict) and all(is_num(v) for v in obj["profile"].values())):
        return "'profile' is not an object of numbers"
    try:
        obj["_time"] = parse_time(obj["timestamp"])
    except ValueError:
        return f"bad timestamp '{obj['timestamp']}'"
    return None


def parse_time(text):
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def load_jsonl(path):
    """The e2e records of one JSON-lines file; malformed lines are skipped with a warning.
    Raises OSError (or UnicodeDecodeError) when the file cannot be read."""
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                warn(f"{path}:{n}: skipped malformed line ({e.msg})")
                continue
            if not isinstance(obj, dict):
                warn(f"{path}:{n}: skipped malformed line (not a JSON object)")
                continue
            if obj.get("kind") != "e2e":
                continue
            problem = _problem(obj)
            if problem:
                warn(f"{path}:{n}: skipped malformed record ({problem})")
                continue
            records.append(obj)
    return records


def load_kind(path, kind, usable):
    """The records of one JSON-lines file whose "kind" is `kind` and that usable(record) accepts, each given its
    parsed timestamp as "_time"; unusable ones are skipped with a warning, other lines left to report.py's reader."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # report.py's reader warns about malformed lines
            if not isinstance(r, dict) or r.get("kind") != kind:
                continue
            if not usable(r):
                warn(f"{path}:{n}: skipped malformed {kind} record")
                continue
            try:
                r["_time"] = parse_time(r["timestamp"])
            except ValueError:
                warn(f"{path}:{n}: skipped {kind} record with bad timestamp")
                continue
            out.append(r)
    return out


def load_position_profiles(path):
    """The position_profile objects of one JSON-lines file (bench_all --profile), valid ones only."""
    profiles = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # load_jsonl already warns about malformed lines
            if not isinstance(obj, dict) or obj.get("kind") != "position_profile":
                continue
            positions, ms = obj.get("positions"), obj.get("ms")
            if (isinstance(positions, list) and isinstance(ms, dict) and positions
                    and all(isinstance(v, list) and len(v) == len(positions) for v in ms.values())):
                obj["_time"] = parse_time(obj.get("timestamp", "1970-01-01T00:00:00Z"))
                profiles.append(obj)
    return profiles


def newest(records, key):
    """{key(r): the newest r}, keys in order of first appearance."""
    out = {}
    for r in records:
        k = key(r)
        if k not in out or r["_time"] > out[k]["_time"]:
            out[k] = r
    return out


def median(record, field):
    return record[field].get("median")


def ratio(a, b):
    """a / b, or None when either is missing or b is 0."""
    return a / b if a is not None and b else None


def num(x):
    """A rate or ratio for a table: 3 significant digits, no exponent."""
    if x is None:
        return "n/a"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def read_bandwidth(machine, threads, nbytes):
    """Read GB/s for a working set of nbytes at this thread count from the probe's curve (machine.json), or None:
    interpolated on log(bytes) between the measured sizes either side, so a set that partly fits the last cache
    (stories110M's 116 MB of Q8_0 between a 64 MB and a 256 MB point) is read at a rate between theirs; beyond
    the measured sizes, the nearest one's. A size is credited at least the rate of any larger one: a larger set
    reading faster is the machine's drift between probe points, not its caches."""
    runs = sorted((e for e in (machine or {}).get("read_bandwidth", []) if e.get("threads") == threads),
                  key=lambda e: e["bytes"])
    if not runs:
        return None
    best_beyond = 0.0
    for i in reversed(range(len(runs))):
        best_beyond = max(best_beyond, runs[i]["gbs"])
        runs[i] = {**runs[i], "gbs": best_beyond}
    if nbytes <= runs[0]["bytes"]:
        return runs[0]["gbs"]
    for lo, hi in zip(runs, runs[1:]):
        if nbytes <= hi["bytes"]:
            t = math.log(nbytes / lo["bytes"]) / math.log(hi["bytes"] / lo["bytes"])
            return lo["gbs"] * (hi["gbs"] / lo["gbs"]) ** t
    return runs[-1]["gbs"]


def ceiling(machine, threads, nbytes):
    """Decode tok/s the read bandwidth allows when each token streams nbytes of weights, or None."""
    gbs = read_bandwidth(machine, threads, nbytes)
    return gbs * 1e9 / nbytes if gbs and nbytes > 0 else None


def section_main(description, load, section, title, filename, kind, without_machine):
    """main() of a report section run alone (report_batch.py, report_depth.py): the records `load` reads from each
    --results JSON-lines file, machine.json, and `section(records, machine, out)`'s lines under "# title" in
    <out>/filename. `kind` names the records in the warning when there are none; `without_machine` says what a
    missing machine.json leaves out. Returns the exit status."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=None, help="default: <results>/report")
    args = parser.parse_args()
    out = args.out or args.results / "report"
    records = []
    for path in sorted(args.results.glob("*.jsonl")):
        try:
            records += load(path)
        except (OSError, UnicodeDecodeError) as e:
            warn(f"{path}: skipped unreadable file ({e})")
    if not any(r["status"] == "ok" for r in records):
        warn(f"no {kind} records in {args.results}")
        return 1
    machine = None
    try:
        machine = json.loads((args.results / "machine.json").read_text())
    except (OSError, ValueError):
        pass
    if not isinstance(machine, dict):
        machine = None
        warn(f"no readable machine.json in {args.results}: {without_machine}")
    out.mkdir(parents=True, exist_ok=True)
    md, written = section(records, machine, out)
    (out / filename).write_text("\n".join([f"# {title}", ""] + md[2:]) + "\n")
    for path in written + [out / filename]:
        warn(f"wrote {path}")
    return 0
