"""Train the MLP 64-128-64-10 and the small CNN on scikit-learn's digits; plot the curves."""

import matplotlib

matplotlib.use("Agg")

from diffkit import nn

X, y = nn.load_digits(images=True)
Xtr, Xte, ytr, yte = nn.train_test_split(X, y, test_size=0.2, seed=0)
nn.manual_seed(0)
net = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))
opt = nn.Adam(net.parameters(), lr=3e-3)
trainer = nn.Trainer(net, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, 20),
                     early_stopping=nn.EarlyStopping(patience=8, monitor="val_loss"))
history = trainer.fit(nn.DataLoader(Xtr, ytr, batch_size=32, seed=0), val_data=(Xte, yte), epochs=20)
print(f"test accuracy: {trainer.evaluate(Xte, yte)[1]:.3f}")
nn.plots.plot_history(history).savefig("digits_history.png")
nn.plots.plot_grad_norms(history).savefig("digits_grad_norms.png")
