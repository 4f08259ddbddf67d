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
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from hanger.taxonomy import load_taxonomy
from inference import preprocess as pp
from inference import train as tr
from inference.images import load_image

log = logging.getLogger("inference.finetune_full")

POOL_SHORT = 292  # training pool: short side capped at this (no upscaling)
SERVE_SIZES = (224, 256)


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
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    n = len(samples)
    serve = {s: np.zeros((n, len(pp.VIEWS), s, s, 3), dtype=np.uint8) for s in SERVE_SIZES}
    ok = np.ones(n, dtype=bool)
    chunks: list[npt.NDArray[np.uint8]] = []
    shapes = np.zeros((n, 2), dtype=np.int64)
    t0 = time.monotonic()
    for i, smp in enumerate(samples):
        try:
            img = load_image((args.data / "images" / f"{smp.image}.jpg").read_bytes())
        except Exception as exc:  # as inference.train: a broken photo is skipped, loudly
            log.warning("skipping %s: %s", smp.image, exc)
            ok[i] = False
            chunks.append(np.zeros((0,), dtype=np.uint8))
            continue
        for s in SERVE_SIZES:  # exactly pp.preprocess's views, before normalisation
            serve[s][i, 0] = np.asarray(pp.centre_crop(img, s))
            serve[s][i, 1] = np.asarray(pp.pad_square(img, s))
        w, h = img.size
        if min(w, h) > POOL_SHORT:
            scale = POOL_SHORT / min(w, h)
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), pp.RESAMPLE)
        arr = np.asarray(img, dtype=np.uint8)
        shapes[i] = arr.shape[:2]
        chunks.append(arr.reshape(-1))
        if i % 500 == 0:
            log.info("decode %d/%d %.0fs", i, n, time.monotonic() - t0)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(c) for c in chunks])
    np.save(work / "pool.npy", np.concatenate(chunks))
    np.save(work / "pool_offsets.npy", offsets)
    np.save(work / "pool_shapes.npy", shapes)
    np.save(work / "ok.npy", ok)
    for s in SERVE_SIZES:
        np.save(work / f"serve{s}.npy", serve[s])
    (work / "images.json").write_text(json.dumps([s.image for s in samples]))
    log.info("decoded %d photos (%d failed) in %.0fs", n, int((~ok).sum()), time.monotonic() - t0)


class Pool:
    def __init__(self, work: Path, samples: list[tr.Sample]) -> None:
        if json.loads((work / "images.json").read_text()) != [s.image for s in samples]:
            raise RuntimeError("decoded cache does not match images.csv: run `decode` again")
        self.buf = np.load(work / "pool.npy", mmap_mode="r")
        self.off = np.load(work / "pool_offsets.npy")
        self.shapes = np.load(work / "pool_shapes.npy")
        self.ok = np.load(work / "ok.npy")
        self.serve = {s: np.load(work / f"serve{s}.npy", mmap_mode="r") for s in SERVE_SIZES}

    def image(self, i: int) -> Image.Image:
        h, w = self.shapes[i]
        return Image.fromarray(np.asarray(self.buf[self.off[i] : self.off[i + 1]]).reshape(h, w, 3))


# ---------------------------------------------------------------------------------------------
# model


class Net:
    """Lite0 + dropout + linear classifier; blocks before ``start`` frozen (BN in eval mode)."""

    @staticmethod
    def build(n_classes: int, start: int, size: int = pp.TRAIN_SIZE) -> Any:
        import torch
        from torch import nn

        from inference import net

        class Model(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.backbone = net.load_pretrained(size=size)
                self.dropout = nn.Dropout(0.3)
                self.fc = nn.Linear(net.FEATURES, n_classes)
                self.start = start

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                b = self.backbone
                if self.start > 0:
                    with torch.no_grad():
                        x = b.run_blocks(b.stem(x), 0, self.start)
                    x = b.run_blocks(x, self.start)
                else:
                    x = b.run_blocks(b.stem(x))
                return self.fc(self.dropout(b.head(x)))  # type: ignore[no-any-return]

            def frozen(self) -> list[nn.Module]:
                b = self.backbone
                if self.start <= 0:
                    return []
                return [b._conv_stem, b._bn0, *list(b._blocks)[: self.start]]

            def train(self, mode: bool = True) -> Model:
                super().train(mode)
                for m in self.frozen():  # frozen part: BatchNorm keeps the ImageNet statistics
                    m.eval()
                return self

        model = Model().to(memory_format=torch.channels_last)
        for m in model.frozen():
            for p in m.parameters():
                p.requires_grad_(False)
        for i, blk in enumerate(model.backbone._blocks):
            rate = 0.1 * (i + 1) / len(model.backbone._blocks) if i >= start else 0.0
            blk.drop_path = rate  # type: ignore[assignment]  # a float attribute of net.MBConv
        return model


def to_input(u8: npt.NDArray[np.uint8]) -> Any:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32, normalised exactly as ``pp.to_tensor``."""
    import torch

    x = torch.from_numpy(np.array(u8, copy=True)).permute(0, 3, 1, 2).float()
    # channels_last: ~2x faster on CPU for this network (depthwise convs), same numbers
    return ((x - pp.MEAN) / pp.STD).contiguous(memory_format=torch.channels_last)


def predict(model: Any, pool: Pool, idx: npt.NDArray[np.int64], size: int, n_classes: int) -> Any:
    """Logits averaged over the serving views at ``size`` px (the network rebuilt for that size,
    same weights), as the exported graph does."""
    import torch

    serving = Net.build(n_classes, 0, size)
    serving.load_state_dict(model.state_dict())
    serving.eval()
    out = []
    v = len(pp.VIEWS)
    with torch.no_grad():
        for s in range(0, len(idx), 32):
            bi = idx[s : s + 32]
            x = to_input(pool.serve[size][bi].reshape(-1, size, size, 3))
            out.append(serving(x).reshape(len(bi), v, -1).mean(1).numpy())
    return np.concatenate(out).astype(np.float32)


def batch_views(pool: Pool, bi: npt.NDArray[np.int64], rng: Any) -> Any:
    return to_input(np.stack([np.asarray(tr.augment(pool.image(int(i)), rng)) for i in bi]))


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
    import random

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.monotonic()
    samples, classes, y = setup(args.data)
    pool = Pool(args.work, samples)
    fit_idx, eval_idx, tag = split(samples, pool.ok, args.fold)
    tag = f"{tag}-{args.name}"
    log.info("%s: fit on %d photos, score %d photos", tag, len(fit_idx), len(eval_idx))

    model = Net.build(len(classes), args.from_block)
    fc_ids = {id(p) for p in model.fc.parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    groups_opt = [
        {"params": [p for p in params if id(p) in fc_ids], "lr": args.lr * args.fc_mult},
        {"params": [p for p in params if id(p) not in fc_ids], "lr": args.lr},
    ]
    opt = torch.optim.AdamW(groups_opt, weight_decay=args.weight_decay)
    bs = args.batch
    steps_per_epoch = len(fit_idx) // bs  # drop the last partial batch (BatchNorm)
    total = steps_per_epoch * args.epochs
    warm = max(1, round(args.warmup * steps_per_epoch))
    base = [g["lr"] for g in opt.param_groups]

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    rng_np = np.random.default_rng(args.seed)
    rng = random.Random(args.seed)  # noqa: S311
    step = 0
    history = []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.monotonic()
        order = rng_np.permutation(fit_idx)
        run_loss = 0.0
        for s in range(steps_per_epoch):
            bi = order[s * bs : (s + 1) * bs]
            for g, b0 in zip(opt.param_groups, base, strict=True):
                g["lr"] = b0 * lr_at(step)
            loss = loss_fn(model(batch_views(pool, bi, rng)), torch.from_numpy(y[bi]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            run_loss += loss.item()
            if s % 20 == 0:
                log.info("  epoch %d step %d/%d loss %.4f", epoch + 1, s, steps_per_epoch, loss.item())
        rec: dict[str, Any] = {
            "epoch": epoch + 1,
            "loss": run_loss / steps_per_epoch,
            "seconds": time.monotonic() - t0,
            "img_s": steps_per_epoch * bs / (time.monotonic() - t0),
        }
        if args.fold >= 0 and epoch + 1 in args.eval_epochs and epoch + 1 != args.epochs:
            model.eval()
            rec["eval256"] = scores(predict(model, pool, eval_idx, 256, len(classes)), eval_idx, y,
                                    samples, classes)
        history.append(rec)
        log.info("epoch %d %s", epoch + 1, json.dumps(rec))
    model.eval()
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


def shipped_fold(args: argparse.Namespace) -> None:
    """The shipped recipe (``inference.train`` defaults: 2 tails on cached activations, 256 px
    serving views) on CV fold ``--fold`` of TRAIN: its logits, for :func:`ensemble` with a probe.
    Activations are cached in ``--work``/cache (``train.load_or_extract``)."""
    import random

    import torch

    defaults = argparse.ArgumentParser()
    tr.add_arguments(defaults)
    targs = defaults.parse_args(["--data", str(args.data), "--cache-dir", str(args.work / "cache")])
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.finetune_full", description=__doc__)
    parser.add_argument("step", choices=["decode", "speed", "fit", "shipped-fold", "ensemble"])
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    {"decode": decode, "speed": speed, "fit": fit, "shipped-fold": shipped_fold,
     "ensemble": ensemble}[args.step](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
