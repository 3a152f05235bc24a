"""``diffkit train digits|moons|circles|xor|spirals [--model mlp|cnn] [--optimizer adam] [--json] …``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .common import (
    CLIError,
    HelpFormatter,
    add_json_argument,
    int_range,
    output_path,
    positive_float,
    print_json,
    shown,
)

if TYPE_CHECKING:
    from ..nn.train import ConfigMismatchError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "nadam")
DATA = ("digits", "moons", "circles", "xor", "spirals")
#: the learning rate each optimizer gets when --lr is not given
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adagrad": 0.05,
              "adadelta": 1.0, "adam": 3e-3, "adamw": 3e-3, "nadam": 3e-3}

EXAMPLES = """\
examples:
  diffkit train moons --epochs 15
  diffkit train digits --model cnn --optimizer adam --epochs 5
  diffkit train xor --optimizer sgd --lr 0.05 --epochs 10 --json
  diffkit train digits --workers 4          (4 ranks, data parallel; needs diffkit[mpi])
  mpiexec -n 4 python -m diffkit train digits   (the same, launched by hand)
  diffkit train digits --checkpoint run.ckpt --resume   (continue an interrupted run)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a neural network with the reverse engine",
                       description="Train an MLP or the small CNN and report test accuracy "
                       "(20% of the data is held out for testing).",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("dataset", choices=DATA, metavar="DATASET",
                   help=f"one of {', '.join(DATA)} (digits: scikit-learn's 8x8 digits; the "
                   "others: 600 points in 2-D)")
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"],
                   help="mlp (default) or cnn (digits only)")
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, metavar="OPTIMIZER",
                   help=f"one of {', '.join(OPTIMIZERS)} (default: adam)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: per optimizer, e.g. 0.003 for adam, 0.1 for sgd)")
    p.add_argument("--epochs", type=int_range(0), default=None,
                   help="epochs, 0 or more (default 30 for mlp, 20 for cnn; 0 only evaluates)")
    p.add_argument("--batch-size", type=int_range(1), default=32,
                   help="rows per step, over all workers together (default 32)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cpu (default) or cuda (needs CuPy and a GPU)")
    p.add_argument("--seed", type=int_range(0), default=0,
                   help="seed of the data split, the initial weights and the shuffling (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int_range(1), default=1,
                   help="processes training data parallel, started with the pip-installed "
                   "mpiexec (needs diffkit[mpi]; default 1); the result equals one process's")
    p.add_argument("--timeout", type=positive_float, default=60.0,
                   help="seconds a worker waits for the others before it stops with an error "
                   "(default 60)")
    p.add_argument("--checkpoint", metavar="PATH", default=None,
                   help="write a checkpoint after every epoch (rank 0, atomically)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists (any number of workers); the "
                   "other options must be those of the run that wrote it")
    add_json_argument(p, "the settings, the per-epoch history and the test accuracy (no progress "
                      "bar)")
    p.set_defaults(run=run)


#: --workers may start at most this many processes per CPU core of the machine
WORKERS_PER_CPU = 4


def check_workers(workers: int, batch_size: int, cpus: int | None = None) -> None:
    """Refuse, before anything starts, more workers than the job can use: each takes a share of
    every step's --batch-size rows (more would have none), and all run on this machine (at most
    :data:`WORKERS_PER_CPU` per CPU core)."""
    import os

    cpus = cpus or os.cpu_count() or 1
    most = WORKERS_PER_CPU * cpus
    if workers > most:
        raise CLIError(f"--workers {workers} is more than this machine can run: at most {most} "
                       f"({WORKERS_PER_CPU} per CPU core, {cpus} cores); the workers all run here")
    if workers > batch_size:
        raise CLIError(f"--workers {workers} is more than --batch-size {batch_size}: each worker "
                       "takes a share of every step's rows, so some would have none; use at most "
                       f"{batch_size} worker{'s' if batch_size != 1 else ''}, or a larger "
                       "--batch-size")


def _optimizer(nn: Any, name: str, params: list, lr: float) -> Any:
    if name in ("sgd", "momentum", "nesterov"):
        return nn.SGD(params, lr=lr, momentum=0.0 if name == "sgd" else 0.9,
                      nesterov=name == "nesterov")
    cls = {"rmsprop": nn.RMSprop, "adagrad": nn.Adagrad, "adadelta": nn.Adadelta, "adam": nn.Adam,
           "adamw": nn.AdamW, "nadam": nn.NAdam}[name]
    return cls(params, lr=lr)


def run(args: argparse.Namespace) -> int:
    from ..nn import DivergenceError, distributed

    if args.resume and not args.checkpoint:
        raise CLIError("--resume needs --checkpoint PATH")
    if args.checkpoint:  # before the first epoch, not after it
        output_path("--checkpoint", args.checkpoint, None)
    under = distributed.launched()
    if under is None and args.workers > 1:
        from .launch import launch

        check_workers(args.workers, args.batch_size)
        return launch(args.workers, args.argv)
    if under is None:
        return _train(args, None)
    try:
        ctx = distributed.init(backend="auto", timeout=args.timeout)
    except distributed.DistributedError as exc:
        raise CLIError(str(exc)) from None
    if args.workers > 1 and args.workers != ctx.world_size:
        raise CLIError(f"--workers {args.workers}, but the launcher started {ctx.world_size} "
                       "processes: leave --workers out under mpiexec")
    try:
        return _train(args, ctx)
    except BaseException as exc:
        if not isinstance(exc, distributed.RankMismatchError | DivergenceError):
            ctx.fail(exc)  # an error of this rank alone: the others stop now, not at a timeout
        raise


#: how each setting of the run is written on the command line
_OPTIONS = {"dataset": "DATASET", "model": "--model", "optimizer": "--optimizer", "lr": "--lr",
            "epochs": "--epochs", "batch_size": "--batch-size", "seed": "--seed"}


def _mismatch(path: str, exc: ConfigMismatchError) -> str:
    """The one-line refusal of a --resume whose settings are not those of the checkpoint's run."""
    fresh = "start a new run without --resume"
    if exc.saved is None:
        return (f"--resume: {path} does not record the settings of the run that wrote it (an "
                "older diffkit, or Python code, wrote it), so it cannot be checked against this "
                f"command; {fresh}")
    # an option can give a saved setting back only where it has the type the option gives (a
    # string "0.003" saved for --lr matches no --lr)
    options = [k for k in exc.keys if k in _OPTIONS and k in exc.saved
               and isinstance(exc.saved[k], str) == isinstance(exc.current.get(k), str)]
    # another network follows from other options; with the same ones (another diffkit), or
    # settings this command does not have (Python code), no option can make the run match
    others = [k for k in exc.keys if k not in options and not (k == "network" and options)]
    if others:
        def key(k: object) -> str:  # a crafted key could spell other settings: "epochs 1, lr"
            return k if isinstance(k, str) and k.isidentifier() else repr(k)

        differ = ", ".join(f"{key(k)} {exc.saved[k]!r}" if k in exc.saved else f"no {key(k)}"
                           for k in exc.keys)
        return (f"--resume: {path} was written by a run with {differ}, which this command "
                f"cannot continue; {fresh}")

    def written(config: dict[str, Any]) -> str:
        return " ".join(f"{_OPTIONS[k]} {shown(config[k])}" for k in options)

    return (f"--resume: {path} was written by a run with {written(exc.saved)}, not "
            f"{written(exc.current)}; resume with {written(exc.saved)}, or {fresh}")


def _train(args: argparse.Namespace, ctx: Any) -> int:
    """One process's training (rank `ctx.rank` of a job when ctx is given)."""
    from .. import nn
    from ..nn.train import ConfigMismatchError

    main = ctx is None or ctx.is_main
    cnn = args.model == "cnn"
    if cnn and args.dataset != "digits":
        raise CLIError("--model cnn needs image data: use the digits dataset")
    nn.manual_seed(args.seed)
    if args.dataset == "digits":
        X, y = nn.load_digits(images=cnn)
    else:
        X, y = nn.DATASETS[args.dataset](n_samples=600, seed=args.seed)
    Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=args.seed)
    n_classes = int(y.max()) + 1
    if cnn:
        model = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))
        network = "Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))"
    else:
        mu, sd = Xtr.mean(0), Xtr.std(0) + 0.1
        Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
        sizes = [64, 128, 64, 10] if args.dataset == "digits" else [2, 64, 64, n_classes]
        model = nn.MLP(sizes)
        network = f"MLP {sizes}"
    model.to(args.device)
    epochs = (20 if cnn else 30) if args.epochs is None else args.epochs
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    opt = _optimizer(nn, args.optimizer, model.parameters(), lr)
    config = {"command": "train", "dataset": args.dataset, "model": args.model,
              "network": network, "optimizer": args.optimizer, "lr": lr, "epochs": epochs,
              "batch_size": args.batch_size, "seed": args.seed}
    trainer = nn.Trainer(model, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, max(epochs, 1)),
                         progress=not (args.no_progress or args.json), checkpoint=args.checkpoint,
                         distributed=ctx if ctx is not None else False, config=config)
    loader = nn.DataLoader(Xtr, ytr, args.batch_size, seed=args.seed, device=args.device)
    if args.resume and Path(args.checkpoint).is_file():
        try:
            trainer.load_checkpoint(args.checkpoint)
        except ConfigMismatchError as exc:
            raise CLIError(_mismatch(args.checkpoint, exc)) from None
    lr = opt.param_groups[0]["initial_lr"]  # the schedule's base: what the run uses
    try:
        trainer.fit(loader, val_data=(Xte, yte), epochs=epochs)
    except nn.DivergenceError as exc:
        where = f" at step {exc.step}" if exc.step is not None else ""
        raise CLIError(f"training diverged in epoch {exc.epoch}{where}: the loss is {exc.loss}; "
                       f"lower --lr (it was {lr:g}; {args.optimizer}'s default is "
                       f"{DEFAULT_LR[args.optimizer]:g})") from None
    test_loss, acc = trainer.evaluate(Xte, yte)
    parameters = sum(int(np.prod(p.shape)) for p in model.parameters())
    workers = 1 if ctx is None else ctx.world_size
    if not main:
        return 0
    if args.json:
        print_json({
            "command": "train", "dataset": args.dataset, "model": args.model,
            "optimizer": args.optimizer, "lr": lr, "epochs": epochs,
            "batch_size": args.batch_size, "workers": workers, "device": args.device,
            "seed": args.seed,
            "parameters": parameters, "history": dict(trainer.history),
            "test_loss": test_loss, "test_accuracy": acc,
        })
        return 0
    ranks = f"  workers: {workers}" if workers > 1 else ""
    print(f"model: {args.model}  optimizer: {args.optimizer}  lr: {lr:g}  epochs: {epochs}  "
          f"device: {args.device}{ranks}  parameters: {parameters}")
    print(f"test accuracy: {acc:.3f}")
    return 0
