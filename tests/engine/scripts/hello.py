"""Prints one line."""

print("hello from the container", flush=True)
