"""The process gives large freed buffers back to the system (followersync/allocator.py), so a long pass
does not keep the high-water mark of every page's buffers. Linux with glibc only.

The setting is changed only in child processes: the test process keeps its allocator as it was.
"""

from __future__ import annotations

import ctypes
import platform
import subprocess
import sys

import pytest

from followersync import allocator

# Frees 8 MB of 200 kB buffers that sit below buffers still in use (so the heap cannot simply shrink
# from its top), after one such buffer was freed (which is what makes glibc raise its threshold).
# Prints how much of the freed memory the process still holds, in kB.
PROGRAM = """
import sys
from followersync import allocator
if sys.argv[1] == "on":
    assert allocator.return_large_buffers()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
warm = bytearray(200_000); del warm
pages, kept = [], []
for _ in range(40):
    pages.append(bytearray(200_000))
    kept.append(bytearray(40_000))
before_free = rss()
pages.clear()
print(rss() - (before_free - 40 * 200_000 // 1024))
"""


# Where the setting exists: glibc's malloc. Told by the platform, not by the function under test.
GLIBC = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"


def held_after_free(setting: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROGRAM, setting], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # with "on": return_large_buffers() said it could not
    return int(done.stdout)


@pytest.mark.skipif(not GLIBC, reason="not glibc: the C library's allocator keeps its own behaviour")
@pytest.mark.integration  # a process of its own
def test_large_freed_buffers_go_back_to_the_system() -> None:
    # Without the setting the process holds on to the freed buffers (most of the 7,800 kB); with it,
    # they are gone.
    assert held_after_free("off") > 4_000
    assert held_after_free("on") < 1_000


class _NoMallopt:
    """The process's symbols where the C library has no `mallopt` (macOS, musl)."""

    def __init__(self, name: str | None) -> None:
        self.name = name


def _windows_cdll(name: str | None) -> object:
    # What ctypes answers on Windows, which loads only a named DLL.
    raise TypeError("LoadLibrary() argument 1 must be str, not None")


@pytest.mark.parametrize("cdll", [_windows_cdll, _NoMallopt], ids=["windows", "no mallopt"])
def test_where_the_setting_does_not_exist_nothing_is_changed(
    monkeypatch: pytest.MonkeyPatch, cdll: object
) -> None:
    # The CLI calls this before anything else: on any other platform it must start as if it were not
    # there.
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert allocator.return_large_buffers() is False
