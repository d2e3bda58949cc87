"""Train the shipped digits models again and write them: ``python -m reservoirs.adapters.zoo.train_shipped``.

For each model in :data:`RECIPES`: build it, train it on the training part of
:func:`~reservoirs.adapters.zoo.digits_split` (one torch thread, fixed seeds: the same weights on every run on one
machine), write ``<name>.npz`` (configuration and weights, :func:`~reservoirs.adapters.zoo.save_model`) and
``<name>.onnx`` (the feature extractor, :func:`~reservoirs.adapters.zoo.export_features`) into ``--out`` (default:
the package's ``shipped/`` folder), then report the held-out accuracy of a ridge classifier on the features (and, for
comparison, on the raw pixels). Needs PyTorch and onnxruntime; takes about half a minute on two cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

#: name -> (model class, constructor arguments, training arguments).
RECIPES = {
    "digits_cnn": ("CNN", dict(image_shape=(1, 8, 8), channels=(16, 32), n_classes=10, seed=0),
                   dict(epochs=40, batch_size=32, lr=3e-3, seed=0)),
    "digits_vae": ("VAE", dict(n_inputs=64, hidden=(64,), latent=16, seed=0),
                   dict(epochs=150, batch_size=32, lr=2e-3, seed=0)),
}
#: Ridge penalties searched (leave-one-out CV) by the accuracy report.
ALPHAS = np.logspace(-4, 3, 15)


def train_recipe(name: str, progress: bool = True):
    """The model of recipe ``name`` trained on the digits' training split (one torch thread)."""
    from reservoirs.adapters.zoo import MODELS, digits_split, train

    cls, config, fit = RECIPES[name]
    X_train, _, y_train, _ = digits_split()
    model = MODELS[cls](**config)
    train(model, X_train, y_train if model.supervised else None, progress=progress, n_threads=1, **fit)
    return model


def ridge_accuracy(F_train, y_train, F_test, y_test) -> float:
    """Held-out accuracy of pond's ridge classifier (penalty chosen by leave-one-out CV on the training part)."""
    from readouts import RidgeClassifier

    return float(RidgeClassifier(alpha=ALPHAS).fit(F_train, y_train).score(F_test, y_test))


def report(out_dir: str | None = None) -> dict[str, float]:
    """Held-out accuracies of ridge classifiers on the shipped (or ``out_dir``'s) ONNX features and on pixels."""
    from reservoirs.adapters import OnnxFeatures
    from reservoirs.adapters.zoo import digits_split, shipped_path

    X_train, X_test, y_train, y_test = digits_split()
    acc = {"pixels": ridge_accuracy(X_train, y_train, X_test, y_test)}
    for name in RECIPES:
        path = shipped_path(name) if out_dir is None else os.path.join(out_dir, f"{name}.onnx")
        feats = OnnxFeatures(path).fit(X_train)
        acc[name] = ridge_accuracy(feats.transform(X_train), y_train, feats.transform(X_test), y_test)
    return acc


def main(argv=None) -> int:
    from reservoirs.adapters.zoo import export_features, save_model
    from reservoirs.adapters.zoo.shipped import _DIR

    ap = argparse.ArgumentParser(prog="python -m reservoirs.adapters.zoo.train_shipped", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=_DIR,
                    help="folder to write <name>.onnx and <name>.npz into (default: %(default)s)")
    ap.add_argument("--only", choices=sorted(RECIPES), action="append", help="train only this model (repeatable)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name in args.only or RECIPES:
        t0 = time.perf_counter()
        model = train_recipe(name, progress=not args.no_progress)
        save_model(model, os.path.join(args.out, f"{name}.npz"))
        export_features(model, os.path.join(args.out, f"{name}.onnx"))
        print(f"{name}: trained and written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if not args.only:
        acc = report(args.out)
        print("held-out accuracy (30 % of sklearn digits, ridge classifier):")
        for k, v in acc.items():
            print(f"  {k:<12} {100 * v:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
