"""Prints trainer-style metric lines over about three seconds, writes an artifact, exits 0."""

import os
import time

for step in range(1, 5):
    print(f"epoch: 1, step: {step}, loss: {1.0 / step:.2f}", flush=True)
    time.sleep(0.75)
with open(os.path.join(os.environ["PADDLECTL_OUTPUT_DIR"], "result.txt"), "w") as handle:
    handle.write("done\n")
print("finished", flush=True)
