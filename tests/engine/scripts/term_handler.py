"""On SIGTERM writes 'got SIGTERM' to the outputs and the log, then exits 0."""

import os
import signal
import sys
import time


def on_term(signum, frame):
    with open(os.path.join(os.environ["PADDLECTL_OUTPUT_DIR"], "sigterm.txt"), "w") as handle:
        handle.write(f"got SIGTERM pid={os.getpid()}\n")
    print("got SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
time.sleep(120)
