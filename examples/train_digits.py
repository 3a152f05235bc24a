"""Train a small CNN (two convolutions, then 64 hidden units) on scikit-learn's digits; plot the
loss/accuracy curves and the gradient norms.

    python examples/train_digits.py [OUT_DIR]   # default ./diffkit-output/
    python examples/train_digits.py --device cuda   # on a GPU (CuPy): the same steps, compiled
                                                    # there too, element-wise runs fused
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from diffkit import BackendError, nn
from diffkit.backend import device_module

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", nargs="?", default="diffkit-output", type=Path,
                    help="folder for the pictures, created if needed (default: ./diffkit-output/)")
parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where to train: cpu (NumPy) or cuda (CuPy on a GPU)")
args = parser.parse_args()
out = args.out
if args.device == "cuda":
    try:
        device_module("cuda")  # CuPy and a GPU, or the message that says what is missing
    except BackendError as exc:
        parser.error(str(exc))

X, y = nn.load_digits(images=True)
Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=0)
nn.manual_seed(0)
net = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,)).to(args.device)
opt = nn.Adam(net.parameters(), lr=3e-3)
trainer = nn.Trainer(net, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, 20),
                     early_stopping=nn.EarlyStopping(patience=8, monitor="val_loss"))
history = trainer.fit(nn.DataLoader(Xtr, ytr, batch_size=32, seed=0, device=args.device),
                      val_data=(Xte, yte), epochs=20)
print(f"test accuracy: {trainer.evaluate(Xte, yte)[1]:.3f} (steps: {trainer.compiled})")
out.mkdir(parents=True, exist_ok=True)
nn.plots.plot_history(history).savefig(out / "digits_history.png", dpi=110)
nn.plots.plot_grad_norms(history).savefig(out / "digits_grad_norms.png", dpi=110)
print("wrote", out / "digits_history.png", "and", out / "digits_grad_norms.png")
