"""Writes to stdout and stderr, then exits 3."""

import sys

print("to stdout before failing", flush=True)
print("to stderr before failing", file=sys.stderr, flush=True)
sys.exit(3)
