"""The C allocator's thresholds for a long-lived request process.

A comparison request allocates and frees numpy arrays of a few hundred kilobytes to a few
megabytes many times. With glibc's defaults such blocks are mapped and unmapped on every
call, or the heap's top is trimmed after them, so each request faults its memory in again
(some 700 page faults and ~1.5 ms of kernel time on the PRD request). Raising the mmap
threshold and the trim threshold keeps freed memory in the heap for the next arrays: the
process holds at most ``TRIM_THRESHOLD_BYTES`` of free memory beyond what it uses. Numbers
are unaffected (only where memory comes from changes).

Only glibc has ``mallopt``; elsewhere (macOS, musl) ``tune_malloc`` does nothing.
"""

from __future__ import annotations

import ctypes

#: Blocks below this size come from the heap rather than their own mapping (glibc's largest
#: dynamic threshold on 64-bit).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
#: Free memory at the heap's top is returned to the system only beyond this size.
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc() -> bool:
    """Set both thresholds through glibc's ``mallopt``; True if it took them."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
