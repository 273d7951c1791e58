"""Allocates about 500 MB in 10 MB blocks (touching every page) to trip a memory limit."""

blocks = []
for index in range(50):
    block = bytearray(10 * 1024 * 1024)
    block[::4096] = b"\x01" * len(block[::4096])
    blocks.append(block)
    print(f"allocated {(index + 1) * 10} MB", flush=True)
print("allocated everything", flush=True)
