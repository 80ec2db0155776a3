#!/usr/bin/python3
"""run_kernel_sweep.py [--bench PATH] [--out JSON] [--log LOG] [--filter RE] [--exclude RE] [--min-time S]:
every kernel benchmark of bench_kernels, one kernel family (matmul.tbb, attention.flash, ...) at a time.

The terminal gets one line per family, with `n of N` benchmarks done and an estimate of the time left (from
the previous run's family timings in JSON when it has them, else from this run's pace); Google Benchmark's
own lines go to LOG. JSON is one Google Benchmark file of every family, rewritten after each family, so an
interrupted sweep keeps what finished; its context gains `family_seconds` for the next run's estimate."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROG = "run_kernel_sweep.py"
# Google Benchmark filters are ECMAScript or POSIX extended regexes: escape what either treats specially.
SPECIAL = re.compile(r"([.^$|?*+()\[\]{}\\])")


def fail(message, code=1):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(code)


def duration(seconds):
    """'0.4 s', '45 s', '3 min 05 s', '1 h 02 min' (as bench_all prints them)."""
    seconds = max(0.0, seconds)
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60:02d} min"


def families(names):
    """{family: [benchmark names]} in the order bench_kernels lists them; a family is the name's first part."""
    out = {}
    for name in names:
        out.setdefault(name.split("/")[0], []).append(name)
    return out


def exact_filter(names):
    """A Google Benchmark filter that matches exactly these names."""
    return "^(" + "|".join(SPECIAL.sub(r"\\\1", n) for n in names) + ")$"


def estimate(count, previous, pace):
    """Seconds a family of `count` benchmarks should take: its previous run's seconds per benchmark, else this
    run's pace (seconds per benchmark so far), else None."""
    if previous and previous.get("benchmarks", 0) > 0 and previous.get("seconds", -1) >= 0:
        return previous["seconds"] / previous["benchmarks"] * count
    return pace * count if pace is not None else None


def time_left(remaining, history, pace):
    """Seconds the families in `remaining` ({family: count}) should take, or None when one has no basis."""
    parts = [estimate(n, history.get(f), pace) for f, n in remaining.items()]
    return None if any(p is None for p in parts) else sum(parts)


def family_line(k, count_families, family, n, done, total, left):
    line = f"  family {k} of {count_families}: {family}, {n} benchmarks ({done} of {total} done"
    return line + (f", about {duration(left)} left)" if left is not None else ")")


def previous_timings(path):
    try:
        seconds = json.loads(path.read_text()).get("context", {}).get("family_seconds", {})
        return {f: v for f, v in seconds.items() if isinstance(v, dict)} if isinstance(seconds, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def write_atomically(path, data):
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def list_benchmarks(bench, pattern):
    try:
        run = subprocess.run([bench, "--benchmark_list_tests=true", f"--benchmark_filter={pattern}"],
                             capture_output=True, text=True)
    except OSError as e:
        fail(f"cannot run {bench}: {e.strerror} (make build first?)")
    if run.returncode != 0:
        fail(f"{bench} --benchmark_list_tests failed: " + (run.stderr.strip().splitlines() or ["no message"])[0])
    return [line.strip() for line in run.stdout.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default="build/bin/bench_kernels", help="the bench_kernels binary")
    parser.add_argument("--out", type=Path, default=Path("results/bench_kernels.json"))
    parser.add_argument("--log", type=Path, default=None, help="default: OUT with .log for .json")
    parser.add_argument("--filter", default=".", help="benchmarks to run (Google Benchmark regex, default all)")
    parser.add_argument("--exclude", default="", help="and of those, skip the ones this Python regex finds")
    parser.add_argument("--min-time", default="0.1", help="--benchmark_min_time of each benchmark")
    args = parser.parse_args()
    log = args.log or args.out.with_suffix(".log")
    try:
        exclude = re.compile(args.exclude) if args.exclude else None
    except re.error as e:
        fail(f"--exclude '{args.exclude}': {e}", 2)

    names = [n for n in list_benchmarks(args.bench, args.filter) if not (exclude and exclude.search(n))]
    if not names:
        fail(f"no benchmark matches --filter '{args.filter}'" + (f" without --exclude '{args.exclude}'"
                                                                   if exclude else ""), 2)
    groups = families(names)
    history = previous_timings(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    merged, timings, failed = None, {}, []
    done, start = 0, time.monotonic()
    print(f"  {len(names)} benchmarks in {len(groups)} kernel families; Google Benchmark's lines go to {log}",
          flush=True)
    try:
        for k, (family, members) in enumerate(groups.items(), 1):
            pace = (time.monotonic() - start) / done if done else None
            left = time_left({f: len(m) for f, m in list(groups.items())[k - 1:]}, history, pace)
            print(family_line(k, len(groups), family, len(members), done, len(names), left), end=" ...", flush=True)
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory() as tmp, open(log, "a") as out:
                out.write(f"\n## {family}\n")
                out.flush()
                part = Path(tmp) / "part.json"
                run = subprocess.run([args.bench, f"--benchmark_filter={exact_filter(members)}",
                                      f"--benchmark_min_time={args.min_time}", f"--benchmark_out={part}",
                                      "--benchmark_out_format=json"], stdout=out, stderr=subprocess.STDOUT)
                data = json.loads(part.read_text()) if run.returncode == 0 and part.exists() else None
            seconds = time.monotonic() - t0
            done += len(members)
            if data is None:
                failed.append(family)
                print(f" failed (exit {run.returncode}), see {log}", flush=True)
                continue
            print(f" {duration(seconds)}", flush=True)
            timings[family] = {"seconds": round(seconds, 2), "benchmarks": len(members)}
            if merged is None:
                merged = data
            else:
                merged["benchmarks"] += data.get("benchmarks", [])
            merged.setdefault("context", {})["family_seconds"] = timings
            merged["context"]["cpu"] = cpu_model()
            write_atomically(args.out, merged)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; {len(timings)} finished families kept in {args.out}", file=sys.stderr)
        return 130
    print(f"  {done} benchmarks in {duration(time.monotonic() - start)}; results in {args.out}"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


def cpu_model():
    """/proc/cpuinfo's model name, as the records' `cpu` (harness/machine.cpp), so the report can tell machines apart."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1][1:].rstrip("\n")
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
