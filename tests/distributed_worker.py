"""One rank of the distributed tests: trains small models and writes their histories as JSON.

``mpiexec -n 2 python tests/distributed_worker.py OUT.json CASE…`` (or without mpiexec and with
``--single``: the one-process reference, no nn.distributed at all). Rank 0 writes OUT.json:
``{case: {"loss": [...], "accuracy": [...], "test_accuracy": a, "agree": true}}``, where agree
says every rank ended with the same parameters bit for bit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffkit import nn

CASES = ("mlp-sgd", "mlp-adam", "cnn-sgd", "cnn-adam", "mlp-syncbn", "mismatch", "checkpoint",
         "resume", "fail", "die", "hang")


class FaultyLoader(nn.DataLoader):
    """Rank 1 is killed (die) or stops answering (hang) at its 10th batch."""

    fault = ""

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i, batch in enumerate(super().__iter__()):
            if i == 10 and nn.distributed.rank == 1:
                if self.fault == "die":
                    os.kill(os.getpid(), signal.SIGKILL)
                if self.fault == "hang":
                    time.sleep(3600)
            yield batch


def data(images: bool, rows: int | None) -> tuple[np.ndarray, ...]:
    X, y = nn.load_digits(images=images)
    Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=0)
    if not images:
        mu, sd = Xtr.mean(0), Xtr.std(0) + 0.1
        Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    return (Xtr[:rows], Xte, ytr[:rows], yte) if rows else (Xtr, Xte, ytr, yte)


def build(case: str) -> tuple[nn.Module, nn.Optimizer, int, tuple[np.ndarray, ...]]:
    nn.manual_seed(0 if case != "mismatch" else nn.distributed.rank)
    cnn = case.startswith("cnn")
    if cnn:
        model = nn.Net(image_size=8, padding=1, channels=(4, 8), hidden=(32,))
    elif case == "mlp-syncbn":
        model = nn.distributed.convert_sync_batchnorm(nn.MLP([64, 32, 10], batch_norm=True))
    elif case == "mismatch":
        model = nn.MLP([64, 32 + nn.distributed.rank, 10])
    else:
        model = nn.MLP([64, 64, 10])
    if case.endswith("adam"):
        opt = nn.Adam(model.parameters(), lr=1e-2 if cnn else 3e-3)
    else:
        opt = nn.SGD(model.parameters(), lr=0.1 if cnn else 0.05, momentum=0.9)
    return model, opt, 3, data(cnn, None)


def digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for v in model.state_dict().values():
        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def run(case: str, args: argparse.Namespace) -> dict[str, object]:
    model, opt, epochs, (Xtr, Xte, ytr, yte) = build(case)
    ckpt = str(Path(args.out).with_suffix(".ckpt"))
    trainer = nn.Trainer(model, optimizer=opt, progress=False,
                         checkpoint=ckpt if case == "checkpoint" else None,
                         distributed=False if args.single else None)
    loader = FaultyLoader(Xtr, ytr, batch_size=32, seed=0)
    loader.fault = case
    if case == "resume":
        trainer.load_checkpoint(ckpt)
        epochs = 3
    if case == "checkpoint":
        epochs = 2
    if case == "fail" and nn.distributed.rank == 1:
        raise ValueError("this rank's data is broken (a test)")
    history = trainer.fit(loader, epochs=epochs)
    _, acc = trainer.evaluate(Xte, yte)
    out: dict[str, object] = {"loss": history["loss"], "accuracy": history["accuracy"],
                              "test_accuracy": acc}
    ctx = nn.distributed.context()
    if ctx is not None:
        mine = digest(model).encode()
        out["agree"] = len(set(ctx.all_gather_bytes(mine))) == 1
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("cases", nargs="+", choices=CASES)
    p.add_argument("--single", action="store_true", help="one process, no nn.distributed")
    p.add_argument("--timeout", type=float, default=20.0)
    args = p.parse_args()
    if not args.single:
        nn.distributed.init(timeout=args.timeout)
    results = {case: run(case, args) for case in args.cases}
    if nn.distributed.rank == 0:
        Path(args.out).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
