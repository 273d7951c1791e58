"""Writes a file to the outputs and one straight into $HOME, and reports who it runs as."""

import os

home = os.path.expanduser("~")
with open(os.path.join(home, "home.txt"), "w") as handle:  # no makedirs: $HOME itself must exist and be writable
    handle.write("home ok\n")
with open(os.path.join(home, "home.txt")) as handle:
    print(f"HOME {home}: {handle.read().strip()}", flush=True)
with open(os.path.join(os.environ["PADDLECTL_OUTPUT_DIR"], "owned.txt"), "w") as handle:
    handle.write(f"written by uid {os.getuid()} gid {os.getgid()}\n")
os.makedirs(os.path.join(os.environ["PADDLECTL_OUTPUT_DIR"], "sub"), exist_ok=True)
print(f"uid={os.getuid()} gid={os.getgid()}", flush=True)
