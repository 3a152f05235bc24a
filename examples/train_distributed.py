"""Data-parallel training of the digits MLP with your own loop: every rank trains on its shard of
each global batch, gradients are averaged over the ranks, and the result is one process's.

    mpiexec -n 2 python examples/train_distributed.py     # 2 ranks (pip install "diffkit[mpi]")
    python examples/train_distributed.py                  # 1 process: the same numbers

(``Trainer`` does all of this by itself once ``nn.distributed.init()`` was called; this is the
loop written out.)
"""

from diffkit import nn

ctx = nn.distributed.init()  # MPI: this process's rank in the job (rank 0 of 1 without mpiexec)

X, y = nn.load_digits()
Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=0)
mu, sd = Xtr.mean(0), Xtr.std(0) + 0.1
Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd

nn.manual_seed(0)
model = nn.MLP([64, 128, 64, 10])
nn.distributed.check_consistent(model)  # every rank built the same model (RankMismatchError)
nn.distributed.broadcast_parameters(model)  # every rank starts from rank 0's weights
opt = nn.SGD(model.parameters(), lr=0.05, momentum=0.9)
sampler = nn.DistributedSampler()  # this rank's rows of each global batch of 32
loader = nn.DataLoader(Xtr, ytr, batch_size=32, seed=0, sampler=sampler)

for epoch in range(5):
    total = 0.0
    for xb, yb in loader:
        opt.zero_grad()
        loss = nn.cross_entropy(model(xb), yb)
        loss.backward()
        # Σ over ranks of (rows here / rows in the global batch) · gradient: the one-process mean
        nn.distributed.all_reduce_gradients(model, weight=len(yb) / sampler.batch_rows)
        opt.step()
        total += float(loss.value) * len(yb)
    (total,) = ctx.all_reduce_numbers([total])  # the sum over all ranks' rows
    if ctx.is_main:  # rank 0 prints
        print(f"epoch {epoch + 1}: loss {total / len(Xtr):.4f}")

if ctx.is_main:
    print(f"test accuracy: {nn.accuracy(nn.predict(model, Xte), yte):.3f} "
          f"({ctx.world_size} rank{'s' if ctx.world_size > 1 else ''})")
