"""All-reduce across paddle.distributed workers (gloo on CPU); the rank named by FAIL_RANK exits 3."""

import os
import sys

import paddle
import paddle.distributed as dist

dist.init_parallel_env()
rank, world = dist.get_rank(), dist.get_world_size()
value = paddle.to_tensor([float(rank + 1)])
dist.all_reduce(value)
print(f"rank {rank} of {world} reduced {float(value.numpy()[0]):.1f}", flush=True)
if os.environ.get("FAIL_RANK") == str(rank):
    print(f"rank {rank} failing on purpose", flush=True)
    sys.exit(3)
