"""Train a small CNN (two convolutions, then 64 hidden units) on scikit-learn's digits; plot the
loss/accuracy curves and the gradient norms.

    python examples/train_digits.py [OUT_DIR]   # default ./diffkit-output/
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from diffkit import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", nargs="?", default="diffkit-output", type=Path,
                    help="folder for the pictures, created if needed (default: ./diffkit-output/)")
out = parser.parse_args().out

X, y = nn.load_digits(images=True)
Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=0)
nn.manual_seed(0)
net = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))
opt = nn.Adam(net.parameters(), lr=3e-3)
trainer = nn.Trainer(net, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, 20),
                     early_stopping=nn.EarlyStopping(patience=8, monitor="val_loss"))
history = trainer.fit(nn.DataLoader(Xtr, ytr, batch_size=32, seed=0), val_data=(Xte, yte),
                      epochs=20)
print(f"test accuracy: {trainer.evaluate(Xte, yte)[1]:.3f}")
out.mkdir(parents=True, exist_ok=True)
nn.plots.plot_history(history).savefig(out / "digits_history.png", dpi=110)
nn.plots.plot_grad_norms(history).savefig(out / "digits_grad_norms.png", dpi=110)
print("wrote", out / "digits_history.png", "and", out / "digits_grad_norms.png")
