"""Data-parallel training of the digits MLP with your own loop: every rank trains on its shard of
each global batch, gradients are averaged over the ranks, and the result is one process's.

    mpiexec -n 2 python examples/train_distributed.py     # 2 ranks (pip install "diffkit[mpi]")
    python examples/train_distributed.py                  # 1 process: the same numbers

(``Trainer`` does all of this by itself once ``nn.distributed.init()`` was called; this is the
loop written out.)
"""

from typing import Any

from diffkit import nn


def train_epoch(model: nn.Module, opt: nn.Optimizer, loader: nn.DataLoader,
                sampler: nn.DistributedSampler) -> float:
    """One epoch; returns the mean loss over all ranks' rows (the one-process number).

    A rank's share of a short last batch may be empty (fewer rows than ranks): it computes no
    loss (the mean of no rows is NaN) but still joins the all-reduce, with no gradients and
    weight 0, as every rank must.
    """
    ctx = nn.distributed.context()
    total, rows = 0.0, 0
    for xb, yb in loader:
        opt.zero_grad()
        if len(yb):
            loss = nn.cross_entropy(model(xb), yb)
            loss.backward()
            total += float(loss.value) * len(yb)  # this rank's sum of the per-row losses
            rows += len(yb)
        # Σ over ranks of (rows here / rows in the global batch) · gradient: the one-process mean
        nn.distributed.all_reduce_gradients(model, weight=len(yb) / sampler.batch_rows)
        opt.step()
    total, rows = ctx.all_reduce_numbers([total, rows])  # the sums over all ranks' rows
    return total / rows


def main() -> Any:
    ctx = nn.distributed.init()  # MPI: this process's rank (rank 0 of 1 without mpiexec)

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
        loss = train_epoch(model, opt, loader, sampler)
        if ctx.is_main:  # rank 0 prints
            print(f"epoch {epoch + 1}: loss {loss:.4f}")

    if ctx.is_main:
        print(f"test accuracy: {nn.accuracy(nn.predict(model, Xte), yte):.3f} "
              f"({ctx.world_size} rank{'s' if ctx.world_size > 1 else ''})")


if __name__ == "__main__":
    main()
