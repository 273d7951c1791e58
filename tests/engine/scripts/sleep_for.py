"""Prints ready, then sleeps --seconds (0 by default) and prints a metric."""

import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=0.0)
args, _ = parser.parse_known_args()
print("ready", flush=True)
time.sleep(args.seconds)
print("loss: 0.5", flush=True)
