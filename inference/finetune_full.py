"""Probe (issue 4): deep fine-tuning of the Lite0 backbone with on-the-fly augmentation.

Not part of the shipped pipeline (``inference.train``): a measurement. It reuses from
``inference.train`` the photo list, the label mapping (taxonomy ``training_labels``; Other / Not
sure / Skip dropped), the TEST split (sha256 salt rule), the 5-fold ``GroupKFold`` by sender_id
inside TRAIN, the training augmentation (:func:`inference.train.augment`: random resized crop
35-100 %, flip, light colour jitter, 30 % pad-to-square first) and the metric ("main 10" = photos
labelled in ``MAIN_LABELS``, scored by the 16-class argmax). Scores use the serving views
(:func:`inference.preprocess.preprocess`: centre crop + pad-to-square, logits averaged) made from
:func:`inference.images.load_image`, as the classifier does.

Unlike ``inference.train`` (which fine-tunes the last 2 blocks on cached activations of 3 fixed
augmented views), every epoch here draws fresh augmentations and trains blocks ``--from-block``..15
+ head conv + linear classifier; the stem and earlier blocks stay frozen with their BatchNorm in
eval mode.

Steps (scratch data in ``--work``, default /tmp/ft)::

    python -m inference.finetune_full decode            # photos -> uint8 arrays, once
    python -m inference.finetune_full speed              # img/s, forward+backward, 224 px, batch 32
    python -m inference.finetune_full fit --fold 0       # recipe selection: fold 0 of 5 inside TRAIN
    python -m inference.finetune_full fit --fold -1      # all TRAIN -> TEST, scored once
    python -m inference.finetune_full shipped-fold --fold 0   # the shipped recipe on that fold
    python -m inference.finetune_full cv --names shipped from0  # 5 folds of each, and their mean
    python -m inference.finetune_full adopt --name from0   # file the fits in train's cache
    python -m inference.finetune_full split-train          # a training run's out-of-fold logits
    python -m inference.finetune_full cv --names train_tails train_deep   # ... per fold
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hanger.taxonomy import load_taxonomy
from inference import train as tr
from inference.deep import SERVE_SIZES, Hyper, Net, Pool, batch_views, decode_pool, fit_net, predict, to_input

log = logging.getLogger("inference.finetune_full")


def setup(data: Path) -> tuple[list[tr.Sample], list[str], npt.NDArray[np.int64]]:
    samples = tr.read_samples(data)
    classes = sorted({s.taxonomy_id for s in samples})
    cls_index = {c: i for i, c in enumerate(classes)}
    y = np.array([cls_index[s.taxonomy_id] for s in samples], dtype=np.int64)
    return samples, classes, y


# ---------------------------------------------------------------------------------------------
# decode once


def decode(args: argparse.Namespace) -> None:
    samples, _, _ = setup(args.data)
    decode_pool(samples, args.data, args.work)


# ---------------------------------------------------------------------------------------------
# speed


def speed(args: argparse.Namespace) -> None:
    import random

    import torch

    torch.set_num_threads(args.threads)
    samples, classes, y = setup(args.data)
    pool = Pool(args.work, samples)
    rng = random.Random(0)  # noqa: S311
    for start in args.starts:
        model = Net.build(len(classes), start)
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
        t_aug = t_step = 0.0
        steps = args.steps
        for k in range(steps + 1):
            bi = np.arange(k * 32, (k + 1) * 32)
            t0 = time.monotonic()
            x = batch_views(pool, bi, rng)
            t1 = time.monotonic()
            loss = loss_fn(model(x), torch.from_numpy(y[bi]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            t2 = time.monotonic()
            if k:  # the first step warms up
                t_aug += t1 - t0
                t_step += t2 - t1
        n = steps * 32
        log.info(
            "from block %d: %.1f img/s forward+backward+step (%.1f with augmentation; aug %.1f ms/img)",
            start,
            n / t_step,
            n / (t_step + t_aug),
            1000 * t_aug / n,
        )
    model = Net.build(len(classes), 0, 256).eval()
    with torch.no_grad():
        x = to_input(pool.serve[256][:16].reshape(-1, 256, 256, 3))
        model(x)
        t0 = time.monotonic()
        for _ in range(2):
            model(x)
    log.info("eval at 256 px: %.1f img/s", 2 * len(x) / (time.monotonic() - t0))


# ---------------------------------------------------------------------------------------------
# fit + score


def scores(
    logits: Any, idx: npt.NDArray[np.int64], y: Any, samples: list[tr.Sample], classes: list[str]
) -> dict[str, Any]:
    tax = load_taxonomy()
    labels = np.array([samples[i].label for i in idx])
    yy = y[idx]
    pred = logits.argmax(1)
    main = np.isin(labels, tr.MAIN_LABELS)
    recall = {}
    for lab in tr.MAIN_LABELS:
        m = labels == lab
        c = classes.index(str(tax.training_labels[lab]))
        recall[lab] = {"n": int(m.sum()), "recall": float((pred[m] == c).mean()) if m.any() else None}
    return {
        "photos": len(idx),
        "main10_photos": int(main.sum()),
        "all16": float((pred == yy).mean()),
        "main10": float((pred[main] == yy[main]).mean()),
        "main10_correct": int((pred[main] == yy[main]).sum()),
        "recall_main10": recall,
    }


def split(
    samples: list[tr.Sample], ok: npt.NDArray[np.bool_], fold: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], str]:
    """(fit, eval, tag): CV fold ``fold`` of TRAIN as inference.train makes them (GroupKFold(5)
    over TRAIN by sender_id), or with ``fold`` -1 all of TRAIN against TEST."""
    from sklearn.model_selection import GroupKFold

    is_test = np.array([s.test for s in samples])
    tr_idx = np.nonzero(~is_test & ok)[0]
    if fold < 0:
        return tr_idx, np.nonzero(is_test & ok)[0], "test"
    groups = np.array([s.sender for s in samples])
    a, b = list(GroupKFold(n_splits=5).split(tr_idx, groups=groups[tr_idx]))[fold]
    return tr_idx[a], tr_idx[b], f"fold{fold}"


def save_logits(work: Path, tag: str, idx: npt.NDArray[np.int64], y: Any, samples: list[tr.Sample],
                classes: list[str], **logits: Any) -> None:
    """``logits-<tag>.npz``: what :func:`ensemble` reads."""
    np.savez(work / f"logits-{tag}.npz", idx=idx, y=y[idx], classes=np.array(classes),
             images=np.array([samples[i].image for i in idx]), **logits)


def fit(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    t_start = time.monotonic()
    samples, classes, y = setup(args.data)
    pool = Pool(args.work, samples)
    fit_idx, eval_idx, tag = split(samples, pool.ok, args.fold)
    tag = f"{tag}-{args.name}"
    log.info("%s: fit on %d photos, score %d photos", tag, len(fit_idx), len(eval_idx))
    hp = Hyper(epochs=args.epochs, batch=args.batch, lr=args.lr, fc_mult=args.fc_mult,
               warmup=args.warmup, weight_decay=args.weight_decay,
               label_smoothing=args.label_smoothing, from_block=args.from_block, seed=args.seed)

    def on_epoch(epoch: int, model: Any) -> dict[str, Any]:
        if args.fold < 0 or epoch not in args.eval_epochs or epoch == args.epochs:
            return {}
        logits = predict(model, pool, eval_idx, 256, len(classes))
        return {"eval256": scores(logits, eval_idx, y, samples, classes)}

    model, history = fit_net(pool, fit_idx, y, len(classes), hp, on_epoch)
    t_fit = time.monotonic() - t_start
    torch.save(model.state_dict(), args.work / f"state-{tag}.pt")
    result: dict[str, Any] = {"tag": tag, "args": {k: str(v) for k, v in vars(args).items()},
                              "history": history, "fit_seconds": t_fit}
    out = {}
    for size in SERVE_SIZES:
        t0 = time.monotonic()
        logits = predict(model, pool, eval_idx, size, len(classes))
        out[f"logits{size}"] = logits
        result[f"serve{size}"] = scores(logits, eval_idx, y, samples, classes)
        result[f"serve{size}"]["seconds"] = time.monotonic() - t0
        log.info("%s at %d px: %s", tag, size, json.dumps(result[f"serve{size}"]))
    save_logits(args.work, tag, eval_idx, y, samples, classes, **out)
    result["wall_seconds"] = time.monotonic() - t_start
    (args.work / f"result-{tag}.json").write_text(json.dumps(result, indent=2))
    log.info("done %s in %.0fs", tag, result["wall_seconds"])


def train_defaults(data: Path, cache_dir: Path) -> argparse.Namespace:
    """``inference.train``'s arguments at their defaults (the shipped recipe)."""
    defaults = argparse.ArgumentParser()
    tr.add_arguments(defaults)
    return defaults.parse_args(["--data", str(data), "--cache-dir", str(cache_dir)])


def training_photos(samples: list[tr.Sample], targs: argparse.Namespace, work: Path) -> npt.NDArray[np.bool_]:
    """The photos a training run with ``targs`` uses: readable both in its activation cache and in
    the decoded pool (``inference.train`` drops the others the same way)."""
    cache = tr.load_or_extract(samples, targs, tr.N_BLOCKS - targs.train_blocks)
    return cache.ok & Pool(work, samples).ok


def shipped_fold(args: argparse.Namespace) -> None:
    """The shipped recipe (``inference.train`` defaults: 2 tails on cached activations, 256 px
    serving views) on CV fold ``--fold`` of TRAIN: its logits, for :func:`ensemble` with a probe.
    Activations are cached in ``--work``/cache (``train.load_or_extract``)."""
    import random

    import torch

    targs = train_defaults(args.data, args.work / "cache")
    torch.set_num_threads(targs.threads)
    random.seed(targs.seed)
    samples, classes, y = setup(args.data)
    cut = tr.N_BLOCKS - targs.train_blocks
    cache = tr.load_or_extract(samples, targs, cut)
    fit_idx, eval_idx, tag = split(samples, cache.ok, args.fold)
    tag = f"{tag}-shipped"
    tails = tr.fit_tails(cache, fit_idx, y, len(classes), cut, targs)
    logits = np.stack([tr.predict(t, cache, eval_idx) for t in tails]).mean(0)
    save_logits(args.work, tag, eval_idx, y, samples, classes, logits256=logits)
    log.info("%s: %s", tag, json.dumps(scores(logits, eval_idx, y, samples, classes)))


def ensemble(args: argparse.Namespace) -> None:
    """Main-10 and all-16 accuracy of each ``logits-*.npz`` (256 px) and of their mean."""
    samples, _, _ = setup(args.data)
    main = {s.image for s in samples if s.label in tr.MAIN_LABELS}
    runs = [np.load(path, allow_pickle=True) for path in args.logits]
    images = list(runs[0]["images"])
    if any(list(r["images"]) != images or list(r["classes"]) != list(runs[0]["classes"]) for r in runs):
        raise SystemExit("the logits files score different photos or classes")
    y = runs[0]["y"]
    mask = np.array([i in main for i in images])

    def report(name: str, logits: npt.NDArray[np.float32]) -> None:
        right = logits.argmax(1) == y
        print(f"{name}: main-10 {right[mask].mean():.2%} ({int(right[mask].sum())}/{int(mask.sum())}),"
              f" all-16 {right.mean():.2%}")

    for path, run in zip(args.logits, runs, strict=True):
        report(path.name, run["logits256"])
    report("mean of all", np.mean([r["logits256"] for r in runs], axis=0))


def cv(args: argparse.Namespace) -> None:
    """5-fold CV of each run ``--names`` (files ``logits-fold{k}-<name>.npz``, k = 0..4) and of
    the mean of their logits: main-10 accuracy per fold and pooled, how many folds the mean wins,
    and, as ``inference.train`` calibrates a shipped model, the temperature fitted on the pooled
    out-of-fold logits and the coverage at the 99 %-precision threshold on them."""
    samples, _, _ = setup(args.data)
    main = {s.image for s in samples if s.label in tr.MAIN_LABELS}
    folds = []
    for k in range(5):
        runs = [np.load(args.work / f"logits-fold{k}-{n}.npz", allow_pickle=True) for n in args.names]
        if any(list(r["images"]) != list(runs[0]["images"]) for r in runs):
            raise SystemExit(f"fold {k}: the logits files score different photos")
        folds.append(runs)
    names = [*args.names, "mean"]
    y = np.concatenate([f[0]["y"] for f in folds])
    mask = np.concatenate([[i in main for i in f[0]["images"]] for f in folds])
    pooled = {n: np.concatenate([f[j]["logits256"] for f in folds]) for j, n in enumerate(args.names)}
    pooled["mean"] = np.mean([pooled[n] for n in args.names], axis=0)
    bounds = np.cumsum([0] + [len(f[0]["y"]) for f in folds])
    print("main-10 accuracy per fold, then pooled out-of-fold; coverage at 99 % precision (calibrated)")
    for n in names:
        right = pooled[n].argmax(1) == y
        per = [right[a:b][mask[a:b]].mean() for a, b in itertools.pairwise(bounds)]
        t = tr.fit_temperature(pooled[n], y)
        probs = tr.softmax(pooled[n], t)
        cov = tr.coverage_at(probs, y, tr.precision_threshold(probs, y))
        print(f"{n:>12}: " + " ".join(f"{a:.1%}" for a in per)
              + f" | pooled {right[mask].mean():.2%} ({int(right[mask].sum())}/{int(mask.sum())}),"
              f" all-16 {right.mean():.2%} | T {t:.2f}, coverage {cov['coverage']:.1%}"
              f" at precision {cov['precision']:.2%}")


def adopt(args: argparse.Namespace) -> None:
    """File the probe's fits of run ``--name`` (the 5 folds and TRAIN -> TEST) in the training
    command's cache (``--cache-dir``), under the keys ``inference.train --deep-nets`` looks for,
    so that it reuses them instead of fitting the same networks again (~2 h here). Refuses when a
    fold's photos, or the photos a file scores, are not the ones the training command would use;
    the recipe in the key is the one each run recorded, so a different recipe is simply a miss."""
    import shutil

    targs = train_defaults(args.data, args.cache_dir)
    samples, _, y = setup(args.data)
    ok = training_photos(samples, targs, args.work)
    probe_ok = Pool(args.work, samples).ok  # what the probe's fits were split from
    for fold in (0, 1, 2, 3, 4, -1):
        fit_idx, eval_idx, tag = split(samples, ok, fold)
        probe_fit, probe_eval, _ = split(samples, probe_ok, fold)
        if not (np.array_equal(fit_idx, probe_fit) and np.array_equal(eval_idx, probe_eval)):
            raise SystemExit(f"{tag}: the probe fitted or scored other photos than training would")
        if not (args.work / f"result-{tag}-{args.name}.json").exists():
            log.info("%s-%s: not fitted by the probe, training will fit it", tag, args.name)
            continue
        run = np.load(args.work / f"logits-{tag}-{args.name}.npz", allow_pickle=True)
        if list(run["images"]) != [samples[i].image for i in eval_idx]:
            raise SystemExit(f"{tag}: the logits file scores other photos")
        recorded = json.loads((args.work / f"result-{tag}-{args.name}.json").read_text())["args"]
        hp = Hyper(epochs=int(recorded["epochs"]), batch=int(recorded["batch"]),
                   lr=float(recorded["lr"]), fc_mult=float(recorded["fc_mult"]),
                   warmup=float(recorded["warmup"]), weight_decay=float(recorded["weight_decay"]),
                   label_smoothing=float(recorded["label_smoothing"]),
                   from_block=int(recorded["from_block"]), seed=int(recorded["seed"]))
        base = tr.deep_cache(samples, fit_idx, y, eval_idx, hp, targs)
        np.savez(base.with_suffix(".npz"), logits=run[f"logits{targs.serve_size}"], images=run["images"])
        shutil.copyfile(args.work / f"state-{tag}-{args.name}.pt", base.with_suffix(".pt"))
        log.info("%s-%s -> %s (%s)", tag, args.name, base.name, hp)


def split_train(args: argparse.Namespace) -> None:
    """Write the out-of-fold logits a training run saved (``--cache-dir``/logits-<version>.npz,
    ``--version``) as per-fold files ``logits-fold{k}-train_tails.npz`` / ``-train_deep.npz`` for
    :func:`cv`, and compare them with the probe's own files of run ``--name`` where those exist."""
    targs = train_defaults(args.data, args.cache_dir)
    z = np.load(args.cache_dir / f"logits-{args.version}.npz")
    samples, classes, y = setup(args.data)
    ok = training_photos(samples, targs, args.work)
    tr_idx, _, _ = split(samples, ok, -1)
    if not np.array_equal(z["y_oof"], y[tr_idx]):
        raise SystemExit("the training run scored other photos")
    pos = {int(i): k for k, i in enumerate(tr_idx)}
    for fold in range(5):
        _, ev, tag = split(samples, ok, fold)
        rows = [pos[int(i)] for i in ev]
        parts = {"train_tails": z["oof_tails"][:, rows].mean(0), "train_deep": z["oof_deep"][:, rows].mean(0)}
        for name, logits in parts.items():
            save_logits(args.work, f"{tag}-{name}", ev, y, samples, classes, logits256=logits)
        for mine, probe in (("train_tails", "shipped"), ("train_deep", args.name)):
            path = args.work / f"logits-{tag}-{probe}.npz"
            if path.exists():
                diff = float(np.abs(np.load(path)["logits256"] - parts[mine]).max())
                print(f"{tag}: {mine} vs the probe's {probe}: max |diff| {diff:.3g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.finetune_full", description=__doc__)
    steps = ["decode", "speed", "fit", "shipped-fold", "ensemble", "cv", "adopt", "split-train"]
    parser.add_argument("step", choices=steps)
    parser.add_argument("logits", type=Path, nargs="*", help="ensemble: logits-*.npz files to average")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/clothing"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ft"))  # noqa: S108
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--starts", type=int, nargs="+", default=[0, 8, 12], help="speed: blocks")
    parser.add_argument("--steps", type=int, default=4, help="speed: timed steps")
    parser.add_argument("--fold", type=int, default=0, help="0-4: that CV fold of TRAIN; -1: TEST")
    parser.add_argument("--name", default="probe", help="tag of the output files")
    parser.add_argument("--from-block", type=int, default=0, help="first trained block (0 = all)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--eval-epochs", type=int, nargs="*", default=[], help="fold: score these too")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--fc-mult", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5, help="epochs of linear warm-up")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--names", nargs="+", default=["shipped", "from0"], help="cv: runs to pool")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/hanger-cache"),  # noqa: S108
                        help="adopt, split-train: the training command's --cache-dir")
    parser.add_argument("--version", default="1.3.0", help="split-train: the training run's version")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    {"decode": decode, "speed": speed, "fit": fit, "shipped-fold": shipped_fold,
     "ensemble": ensemble, "cv": cv, "adopt": adopt,
     "split-train": split_train}[args.step](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
