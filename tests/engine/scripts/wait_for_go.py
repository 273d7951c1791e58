"""Prints three trainer-style metric lines, logs val_acc with the helper, prints 'waiting', then waits (at most
120 s) for the file `go` in its output folder, which the test creates, and exits 0."""

import os
import time

import paddlectl_metrics as pm

for step in range(1, 4):
    print(f"epoch: 1, step: {step}, loss: {1.0 / step:.2f}", flush=True)
pm.log_metric("val_acc", 0.5, step=3)
print("waiting", flush=True)
go = os.path.join(os.environ["PADDLECTL_OUTPUT_DIR"], "go")
deadline = time.time() + 120
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.1)
print("done", flush=True)
