"""Prints ready, then sleeps until stopped (SIGTERM's default action ends it at once)."""

import sys
import time

print("first line", flush=True)
print("stderr line", file=sys.stderr, flush=True)
print("ready", flush=True)
time.sleep(120)
print("slept to the end", flush=True)
