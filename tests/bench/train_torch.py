"""The PyTorch peer of tests/bench/train_bench.cpp: the same file, architecture (columns -> 64 -> 32 -> 1, ReLU),
Adam (lr 1e-3), batch and epochs; the training loop alone is timed (tensors in memory, a randperm per epoch:
no DataLoader overhead). Prints one line per configuration in train_bench's format.
Usage: python3 train_torch.py FILE ROWS COLUMNS EPOCHS BATCH THREADS"""
import sys
import time

import numpy as np
import torch

path, rows, columns, epochs, batch, threads = sys.argv[1], *map(int, sys.argv[2:7])
torch.set_num_threads(threads)
torch.manual_seed(42)
data = np.fromfile(path, dtype=np.float32, count=rows * (columns + 1)).reshape(rows, columns + 1)
training_rows = rows - rows // 10  # the engine validates on 10 %
x = torch.from_numpy(np.ascontiguousarray(data[:training_rows, :columns]))
y = torch.from_numpy(np.ascontiguousarray(data[:training_rows, columns:]))
model = torch.nn.Sequential(torch.nn.Linear(columns, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                            torch.nn.Linear(32, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.BCEWithLogitsLoss()
start = time.perf_counter()
for _ in range(epochs):
    order = torch.randperm(training_rows)
    for i in range(0, training_rows, batch):
        index = order[i:i + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
seconds = time.perf_counter() - start
print(f"torch mlp batch={batch} threads={threads} epochs={epochs} step_samples_per_s={training_rows * epochs / seconds:.0f} "
      f"seconds={seconds:.3f}")
