from __future__ import annotations

import ctypes
import gc
from typing import TYPE_CHECKING

import pytest

from runner.serve import tune_malloc

if TYPE_CHECKING:
    from collections.abc import Callable


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip


def _mapped_blocks() -> Callable[[], int]:
    """A function counting malloc's separately mapped blocks (glibc >= 2.33)."""
    mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)
    if mallinfo2 is None:
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    mallinfo2.restype = _MallInfo2
    return lambda: int(mallinfo2().hblks)


def test_tune_malloc_maps_big_blocks_even_after_a_bigger_one_was_freed() -> None:
    if not tune_malloc():
        pytest.skip("glibc's malloc only")
    mapped_blocks = _mapped_blocks()
    gc.collect()
    gc.disable()  # a collection in between could free some other mapped block
    try:
        freed = bytearray(8 * 1024 * 1024)
        del freed  # untuned, glibc would now put blocks below 8 MiB on the heap
        before = mapped_blocks()
        batch = bytearray(300 * 1024)  # a big log batch: mapped, so unmapped when freed
        during = mapped_blocks()
        del batch
        after = mapped_blocks()
    finally:
        gc.enable()
    assert (during, after) == (before + 1, before)
