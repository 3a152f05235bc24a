"""SGD, momentum, Nesterov, RMSprop and Adam on Rosenbrock's valley and on a saddle."""

import matplotlib

matplotlib.use("Agg")

from diffkit import nn

for name in ("rosenbrock", "saddle"):
    paths = nn.plots.trajectories(name, steps=300)
    for opt, path in paths.items():
        print(f"{name:<10} {opt:<9} end point {path[-1].round(3)}")
    nn.plots.plot_trajectories(name, steps=300).savefig(f"trajectories_{name}.png")
