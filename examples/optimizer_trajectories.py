"""SGD, momentum, Nesterov, RMSprop and Adam on Rosenbrock's valley and on a saddle.

    python examples/optimizer_trajectories.py [OUT_DIR]   # default ./diffkit-output/
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
out.mkdir(parents=True, exist_ok=True)

for name in ("rosenbrock", "saddle"):
    paths = nn.plots.trajectories(name, steps=300)
    for opt, path in paths.items():
        print(f"{name:<10} {opt:<9} end point {path[-1].round(3)}")
    fig = nn.plots.plot_trajectories(name, steps=300)
    fig.savefig(out / f"trajectories_{name}.png", dpi=110)
    print("wrote", out / f"trajectories_{name}.png")
