"""Two moons with an MLP, L2 penalty and gradient clipping; draws the decision boundary."""

import matplotlib

matplotlib.use("Agg")

from diffkit import nn

X, y = nn.make_moons(400, noise=0.2)
Xtr, Xte, ytr, yte = nn.train_test_split(X, y, seed=0)
nn.manual_seed(0)
model = nn.MLP([2, 32, 32, 2], activation="tanh")
opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
trainer = nn.Trainer(model, optimizer=opt, l2=1e-4, clip_grad_norm=5.0)
trainer.fit(nn.DataLoader(Xtr, ytr, batch_size=32), val_data=(Xte, yte), epochs=60)
print(f"test accuracy: {trainer.evaluate(Xte, yte)[1]:.3f}")
nn.plots.plot_decision_boundary(model, X, y).savefig("moons_boundary.png")
