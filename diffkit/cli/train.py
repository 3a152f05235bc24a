"""``diffkit train digits|moons|circles|xor|spirals [--model mlp|cnn] [--optimizer adam] ...``."""

from __future__ import annotations

import argparse

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "nadam")
DATA = ("digits", "moons", "circles", "xor", "spirals")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a neural network with the reverse engine",
                       description="Train an MLP or the small CNN and report test accuracy.")
    p.add_argument("dataset", choices=DATA)
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: per optimizer)")
    p.add_argument("--epochs", type=int, default=None, help="default 30 (mlp) / 20 (cnn)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _optimizer(nn, name: str, params: list, lr: float | None):
    default = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adagrad": 0.05,
               "adadelta": 1.0, "adam": 3e-3, "adamw": 3e-3, "nadam": 3e-3}[name]
    lr = default if lr is None else lr
    if name in ("sgd", "momentum", "nesterov"):
        return nn.SGD(params, lr=lr, momentum=0.0 if name == "sgd" else 0.9,
                      nesterov=name == "nesterov")
    cls = {"rmsprop": nn.RMSprop, "adagrad": nn.Adagrad, "adadelta": nn.Adadelta, "adam": nn.Adam,
           "adamw": nn.AdamW, "nadam": nn.NAdam}[name]
    return cls(params, lr=lr)


def run(args: argparse.Namespace) -> int:
    from .. import nn

    nn.manual_seed(args.seed)
    cnn = args.model == "cnn"
    if args.dataset == "digits":
        X, y = nn.load_digits(images=cnn)
    else:
        if cnn:
            raise ValueError("--model cnn needs image data: use the digits dataset")
        X, y = nn.DATASETS[args.dataset](n_samples=600, seed=args.seed)
    Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=args.seed)
    n_classes = int(y.max()) + 1
    if cnn:
        model = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))
    else:
        mu, sd = Xtr.mean(0), Xtr.std(0) + 0.1
        Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
        sizes = [64, 128, 64, 10] if args.dataset == "digits" else [2, 64, 64, n_classes]
        model = nn.MLP(sizes)
    model.to(args.device)
    epochs = args.epochs or (20 if cnn else 30)
    opt = _optimizer(nn, args.optimizer, model.parameters(), args.lr)
    trainer = nn.Trainer(model, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, epochs),
                         progress=not args.no_progress)
    loader = nn.DataLoader(Xtr, ytr, args.batch_size, seed=args.seed, device=args.device)
    trainer.fit(loader, val_data=(Xte, yte), epochs=epochs)
    _, acc = trainer.evaluate(Xte, yte)
    print(f"model: {args.model}  optimizer: {args.optimizer}  device: {args.device}  "
          f"parameters: {sum(int(np.prod(p.shape)) for p in model.parameters())}")
    print(f"test accuracy: {acc:.3f}")
    return 0
