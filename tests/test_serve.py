from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh process: this one's heap has its own history (earlier tests), and the
# setting is process-wide.
_PROBE = """
import ctypes
import sys

sys.path.insert(0, sys.argv[1])

from runner.serve import tune_malloc


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)
if mallinfo2 is None or not tune_malloc():
    print("skip")
    raise SystemExit
mallinfo2.restype = MallInfo2
freed = bytearray(8 * 1024 * 1024)
del freed  # untuned, glibc would now put blocks below 8 MiB on the heap
before = mallinfo2().hblks
batch = bytearray(300 * 1024)  # a big log batch: mapped, so unmapped when freed
during = mallinfo2().hblks
del batch
print(during - before, mallinfo2().hblks - before)
"""


def test_tune_malloc_maps_big_blocks_even_after_a_bigger_one_was_freed() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(_ROOT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    if probe.stdout.strip() == "skip":
        pytest.skip("glibc >= 2.33 only")
    assert probe.stdout.split() == ["1", "0"]
