"""DataLoader with 2 workers and ~96 MB batches: needs more than Docker's default 64 MB /dev/shm."""

import numpy as np
from paddle.io import DataLoader, Dataset


class Big(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return np.full((3, 2048, 2048), float(index), dtype="float32")


loader = DataLoader(Big(), batch_size=2, num_workers=2, shuffle=False)
for number, batch in enumerate(loader):
    data = batch[0] if isinstance(batch, (list, tuple)) else batch
    print(f"batch {number} shape {list(data.shape)} mean {float(data.mean()):.1f}", flush=True)
print("dataloader done", flush=True)
