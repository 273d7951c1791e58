"""Prints ready, sleeps DELAY seconds, prints a last line and exits with CODE (argv: DELAY CODE)."""

import sys
import time

delay, code = float(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
time.sleep(delay)
print(f"after the sleep, exiting with {code}", flush=True)
sys.exit(code)
