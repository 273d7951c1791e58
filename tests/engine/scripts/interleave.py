"""Alternates lines on stdout and stderr as fast as it can (each print is two writes under python -u)."""

import sys

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
for index in range(COUNT):
    print(f"out {index:05d} " + "o" * 40)
    print(f"err {index:05d} " + "e" * 40, file=sys.stderr)
print("done", flush=True)
