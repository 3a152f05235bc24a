"""Two moons with an MLP, L2 penalty and gradient clipping; draws the decision boundary.

    python examples/train_moons.py [OUT_DIR]   # default ./diffkit-output/
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from diffkit import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", nargs="?", default="diffkit-output", type=Path,
                    help="folder for the picture, created if needed (default: ./diffkit-output/)")
out = parser.parse_args().out

X, y = nn.make_moons(400, noise=0.2)
Xtr, Xte, ytr, yte = nn.train_test_split(X, y, seed=0)
nn.manual_seed(0)
model = nn.MLP([2, 32, 32, 2], activation="tanh")
opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
trainer = nn.Trainer(model, optimizer=opt, l2=1e-4, clip_grad_norm=5.0)
history = trainer.fit(nn.DataLoader(Xtr, ytr, batch_size=32), val_data=(Xte, yte), epochs=60)
print(f"test accuracy: {trainer.evaluate(Xte, yte)[1]:.3f}")
out.mkdir(parents=True, exist_ok=True)
nn.plots.plot_decision_boundary(model, X, y).savefig(out / "moons_boundary.png", dpi=110)
nn.plots.plot_history(history).savefig(out / "moons_history.png", dpi=110)
print("wrote", out / "moons_boundary.png", "and", out / "moons_history.png")
