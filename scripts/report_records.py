"""What the report reads from a results directory (formats: harness/SCHEMA.md): each record's number format and
bytes per weight, the machine's ceilings and peaks, the kernel benchmarks, and the one machine a report is of."""

import json

from results_io import ceiling, median, newest, ratio, warn

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
PEER_TYPES = (("Q4_K", "Q4_K", 0.5625), ("Q5_K", "Q5_K", 0.6875), ("Q6_K", "Q6_K", 0.8203125), ("Q4", "int4", 0.5625),
              ("Q8", "int8", 1.0625), ("BF16", "bf16", 2.0), ("F16", "fp16", 2.0), ("F32", "fp32", 4.0))
FP32 = ("fp32", 4.0)
# The probe's compute peak (machine.json key) that roofs each format; 4-bit weights are dotted as int8.
PEAKS = {"fp32": ("fma_gflops", "fp32 FMA"), "bf16": ("bf16_gflops", "bf16 dot"),
         "int8": ("int8_gops", "int8 VNNI"), "int4": ("int8_gops", "int8 VNNI"), "Q4_K": ("int8_gops", "int8 VNNI"),
         "Q5_K": ("int8_gops", "int8 VNNI"), "Q6_K": ("int8_gops", "int8 VNNI")}
SUMMARY_BASELINES = ("c-runfast", "c-runomp", "numpy", "python")
OPS = ("qkv", "o", "ffn_up_gate", "ffn_down", "classifier", "attention", "rmsnorm", "rope", "softmax", "swiglu")
MATMUL_OPS = ("qkv", "o", "ffn_up_gate", "ffn_down", "classifier")


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


def configuration(r):
    return r["impl"], r["variant"], r["threads"], r["model"], r["prompt_tokens"], r["gen_tokens"]


class Results:
    """The newest record of each configuration, and the newest ok one of each (impl, variant, threads, model)."""

    def __init__(self, records):
        # The tables compare runs on the f32 KV cache (records older than the field had no other); runs with
        # another cache type (bench_all --kv-type) are left out rather than taken for the same configuration.
        self.all = [r for r in records if r.get("kv_type") in (None, "f32")]
        self.records = list(newest(self.all, configuration).values())
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

    def rounds(self, record):
        """{round: record} of `record`'s configuration in each A/B round of its bench_all run (`round` 1..R, its
        own included): the newest earlier-round record of the same command, build and host. {} for a record
        without a round."""
        if record.get("round") is None:
            return {}
        same = [r for r in self.all if configuration(r) == configuration(record) and r.get("round") is not None
                and r["round"] <= record["round"] and r["_time"] <= record["_time"]
                and all(r.get(k) == record.get(k) for k in ("command", "git_sha", "host"))]
        return {r["round"]: r for r in newest(same, lambda r: r["round"]).values()}

    def round_ratios(self, a, b, field):
        """a / b of `field` within each A/B round both ran in, in round order: [] when they share none."""
        ra, rb = self.rounds(a), self.rounds(b)
        return [x for k in sorted(set(ra) & set(rb)) if (x := ratio(median(ra[k], field), median(rb[k], field)))]

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
