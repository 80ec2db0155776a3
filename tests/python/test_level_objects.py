"""The kernels compiled per instruction-set level must not hand their code to the rest of the program.

A level's objects are compiled with that level's flags (cmake/levels.cmake). Code they define under a name other
code also defines (an inline function or template outside the level's namespace, such as shared_ptr's reference
counting) is merged by the linker, which keeps one copy: if that copy came from an AVX-512 object, portable code
would run AVX-512 instructions on a CPU that lacks them. This test lists such shared symbols in every level object
and fails when one holds an instruction beyond the x86-64 baseline (any VEX or EVEX vector instruction, a mask
register, or a BMI/LZCNT/POPCNT/MOVBE one).
"""
import glob
import os
import re
import subprocess
import unittest

BUILD = os.path.dirname(os.environ.get("WORKBENCH_BIN", "build/bin").rstrip("/"))
BEYOND_BASELINE = re.compile(
    r"\t(v[a-z0-9]+|andn|shlx|shrx|sarx|rorx|bzhi|pdep|pext|blsr|blsi|blsmsk|tzcnt|lzcnt|popcnt|movbe|kmov[bwdq])\s"
    r"|%[yz]mm|%k[0-7]")


def level_objects():
    return sorted(glob.glob(os.path.join(BUILD, "CMakeFiles", "workbench_level_*", "**", "*.o"), recursive=True))


def shared_code_symbols(obj):
    """Weak code symbols the object defines outside the level's namespace (mangled names)."""
    out = subprocess.run(["nm", "--defined-only", obj], capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "WV" and "isa_" not in parts[2] and "DW.ref" not in parts[2]:
            names.append(parts[2])
    return names


class LevelObjects(unittest.TestCase):
    def test_every_level_was_compiled(self):
        self.assertTrue(level_objects(), f"no level objects under {BUILD}/CMakeFiles")

    def test_shared_symbols_hold_only_baseline_instructions(self):
        checked = 0
        for obj in level_objects():
            if "workbench_level_scalar" in obj:
                continue
            for name in shared_code_symbols(obj):
                text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--disassemble={name}", obj],
                                      capture_output=True, text=True, check=True).stdout
                bad = [line.strip() for line in text.splitlines() if BEYOND_BASELINE.search(line)]
                checked += 1
                self.assertFalse(bad, f"{obj}: {name} is shared with portable code and holds {bad[:3]}")
        print(f"{checked} shared symbols checked")


if __name__ == "__main__":
    unittest.main()
