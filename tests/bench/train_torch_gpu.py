"""The PyTorch peer of tests/bench/train_bench.cpp on a GPU (issue #5): the same file, architecture (columns -> 64
-> 32 -> 1, ReLU), Adam (lr 1e-3), batch and epochs, the whole training set on the GPU, a randperm per epoch
on the GPU; timed with the device synchronised. Two configurations: Adam's default (foreach) and fused=True.
Prints lines in train_bench's format. Usage: python3 train_torch_gpu.py FILE ROWS COLUMNS EPOCHS BATCH"""
import sys
import time

import numpy as np
import torch

path, rows, columns, epochs, batch = sys.argv[1], *map(int, sys.argv[2:6])
device = torch.device("cuda")
torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as dendrite's cuBLAS calls
data = np.fromfile(path, dtype=np.float32, count=rows * (columns + 1)).reshape(rows, columns + 1)
training_rows = rows - rows // 10  # the engine validates on 10 %
x = torch.from_numpy(np.ascontiguousarray(data[:training_rows, :columns])).to(device)
y = torch.from_numpy(np.ascontiguousarray(data[:training_rows, columns:])).to(device)
name = torch.cuda.get_device_name(0)
for fused in (False, True):
    torch.manual_seed(42)
    model = torch.nn.Sequential(torch.nn.Linear(columns, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32),
                                torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for warm in (True, False):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(1 if warm else epochs):
            order = torch.randperm(training_rows, device=device)
            for i in range(0, training_rows, batch):
                index = order[i:i + batch]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                optimizer.step()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    print(f"torch-cuda{'-fused' if fused else ''} mlp batch={batch} epochs={epochs} "
          f"step_samples_per_s={training_rows * epochs / seconds:.0f} seconds={seconds:.3f} gpu=\"{name}\"")
