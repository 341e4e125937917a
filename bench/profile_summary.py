"""Summarise py-spy "raw" (collapsed stack) files: where the pass spent its time, by function.

    python bench/profile_summary.py DIR/03-pass-full.txt [--top 30] [--focus apply_page]

Prints, for the process's samples, the share of samples in which each function was on the stack
(inclusive) and at the top of it (self), so a reader sees both the expensive call paths and the leaves.
Idle threads (waiting in the interpreter's thread pool or on a lock) are left out unless --all.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

IDLE = ("_worker (concurrent/futures/thread.py", "wait (threading.py", "_bootstrap (threading.py")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--focus", help="only samples whose stack contains this text")
    p.add_argument("--all", action="store_true", help="keep idle threads' samples")
    args = p.parse_args()
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for path in args.files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
            if not frames or (args.focus and args.focus not in stack):
                continue
            if not args.all and frames[-1].startswith(IDLE[1]) and len(frames) < 6:
                continue
            n = int(count)
            total += n
            leaf[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    print(f"{total} samples")
    print("inclusive:")
    for frame, n in inclusive.most_common(args.top):
        print(f"  {n / total:6.1%}  {frame[:140]}")
    print("self:")
    for frame, n in leaf.most_common(args.top):
        print(f"  {n / total:6.1%}  {frame[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
