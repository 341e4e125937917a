"""How the process's C allocator treats the large buffers of a sync: given back once freed.

A page of followers passes through a few buffers of 100-300 kB (the HTTP body, the page's JSON for
the database, the driver's copy of the statement), and with the next page fetched in a thread the
buffers of two pages overlap. glibc's malloc serves blocks from 128 kB up with mmap and gives them
back when freed, but raises that threshold each time such a block is freed, up to 32 MB, after
which these buffers come from the heap, where freed memory between blocks still in use stays with
the process, and the peak memory of a pass grows with every page. A fixed threshold (which also stops
the raising) keeps every buffer of 32 kB or more in mmap, at the cost of a few system calls and page
faults per page (bench/RESULTS.md has the figures).
"""

from __future__ import annotations

import ctypes

__all__ = ["return_large_buffers"]

_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
_THRESHOLD = 32 * 1024


def return_large_buffers() -> bool:
    """Make glibc give blocks of 32 kB or more back to the system when freed. Returns whether it
    could: other C libraries (macOS, musl, Windows) have no such setting, and keep their own behaviour."""
    try:
        # The symbols the process already has, libc's among them: no search for the library (which
        # ctypes.util.find_library does by running ldconfig, milliseconds at every start).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows loads only a named DLL
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
