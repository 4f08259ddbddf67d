"""Deep fine-tuning of the whole Lite0 network with on-the-fly augmentation (training only; torch).

``inference.train`` fine-tunes the last 2 blocks on cached activations of 3 fixed augmented views
(the "tails"). The networks here train every block, drawing fresh augmentations
(:func:`inference.train.augment`) each epoch from photos decoded once into a pool on disk
(:func:`decode_pool`; ~4.4 GB for the 4,718 photos). ``inference.train --deep-nets K`` averages K
such networks with the tails in the exported graph; ``inference.finetune_full`` is the probe that
measured them (docs/model/EXPERIMENTS.md #15-#17).

Scores use the serving views (:func:`inference.preprocess.preprocess`: centre crop + pad-to-square
from :func:`inference.images.load_image`, logits averaged), stored in the pool exactly as the
classifier makes them before normalisation.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from inference import preprocess as pp
from inference.images import load_image

if TYPE_CHECKING:
    from inference.train import Sample

log = logging.getLogger("inference.deep")

POOL_SHORT = 292  # training pool: short side capped at this (no upscaling)
SERVE_SIZES = (224, 256)


@dataclass(frozen=True)
class Hyper:
    """The recipe of one deep fine-tune (#15 in docs/model/EXPERIMENTS.md)."""

    epochs: int = 8
    batch: int = 32
    lr: float = 3e-4
    fc_mult: float = 3.0  # the classifier's learning rate: lr * fc_mult
    warmup: float = 0.5  # epochs of linear warm-up, then cosine to 0
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    from_block: int = 0  # first trained block (0 = every block)
    seed: int = 0

    def key(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# the decoded pool


def decode_pool(samples: Sequence[Sample], data: Path, work: Path) -> None:
    """Decode every photo once into ``work``: a training pool (short side <= POOL_SHORT) and the
    serving views at each of SERVE_SIZES (uint8, before normalisation)."""
    work.mkdir(parents=True, exist_ok=True)
    n = len(samples)
    serve = {s: np.zeros((n, len(pp.VIEWS), s, s, 3), dtype=np.uint8) for s in SERVE_SIZES}
    ok = np.ones(n, dtype=bool)
    chunks: list[npt.NDArray[np.uint8]] = []
    shapes = np.zeros((n, 2), dtype=np.int64)
    t0 = time.monotonic()
    for i, smp in enumerate(samples):
        try:
            img = load_image((data / "images" / f"{smp.image}.jpg").read_bytes())
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
    def __init__(self, work: Path, samples: Sequence[Sample]) -> None:
        if json.loads((work / "images.json").read_text()) != [s.image for s in samples]:
            raise RuntimeError("decoded cache does not match images.csv: run `decode` again")
        self.buf = np.load(work / "pool.npy", mmap_mode="r")
        self.off = np.load(work / "pool_offsets.npy")
        self.shapes = np.load(work / "pool_shapes.npy")
        self.ok = np.load(work / "ok.npy")
        self.serve = {s: np.load(work / f"serve{s}.npy", mmap_mode="r") for s in SERVE_SIZES}

    @staticmethod
    def ensure(samples: Sequence[Sample], data: Path, work: Path) -> Pool:
        """The pool in ``work``, decoded first when it is missing or made from other photos."""
        index = work / "images.json"
        if not index.exists() or json.loads(index.read_text()) != [s.image for s in samples]:
            decode_pool(samples, data, work)
        return Pool(work, samples)

    def image(self, i: int) -> Image.Image:
        h, w = self.shapes[i]
        return Image.fromarray(np.asarray(self.buf[self.off[i] : self.off[i + 1]]).reshape(h, w, 3))


# ---------------------------------------------------------------------------------------------
# the network


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

    @staticmethod
    def for_serving(model: Any, n_classes: int, size: int) -> Any:
        """The same weights in a network built for ``size``-px inputs, in eval mode."""
        serving = Net.build(n_classes, 0, size)
        serving.load_state_dict(model.state_dict())
        return serving.eval()


def normalise(u8: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32, normalised exactly as ``pp.to_tensor``."""
    x = (np.asarray(u8, dtype=np.float32) - pp.MEAN) / pp.STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_input(u8: npt.NDArray[np.uint8]) -> Any:
    """:func:`normalise` as a torch tensor in channels-last memory order (~2x faster on CPU for
    this network's depthwise convolutions; the same numbers)."""
    import torch

    return torch.from_numpy(normalise(u8)).contiguous(memory_format=torch.channels_last)


def predict(model: Any, pool: Pool, idx: npt.NDArray[np.int64], size: int, n_classes: int) -> Any:
    """Logits averaged over the serving views at ``size`` px (the network rebuilt for that size,
    same weights), as the exported graph does."""
    import torch

    serving = Net.for_serving(model, n_classes, size)
    out = []
    v = len(pp.VIEWS)
    with torch.no_grad():
        for s in range(0, len(idx), 32):
            bi = idx[s : s + 32]
            x = to_input(pool.serve[size][bi].reshape(-1, size, size, 3))
            out.append(serving(x).reshape(len(bi), v, -1).mean(1).numpy())
    return np.concatenate(out).astype(np.float32)


def batch_views(pool: Pool, bi: npt.NDArray[np.int64], rng: random.Random) -> Any:
    from inference import train as tr

    return to_input(np.stack([np.asarray(tr.augment(pool.image(int(i)), rng)) for i in bi]))


# ---------------------------------------------------------------------------------------------
# training


def fit_net(
    pool: Pool,
    fit_idx: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    n_classes: int,
    hp: Hyper,
    on_epoch: Callable[[int, Any], dict[str, Any]] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Train one network on the photos ``fit_idx`` (targets ``y[fit_idx]``): AdamW, warm-up then
    cosine, fresh augmentation every epoch, the last partial batch dropped (BatchNorm). Returns
    the network in eval mode and the per-epoch history (``on_epoch`` may add to an epoch's record;
    note that anything it does with torch's random generator changes the later epochs)."""
    import torch

    torch.manual_seed(hp.seed)
    model = Net.build(n_classes, hp.from_block)
    fc_ids = {id(p) for p in model.fc.parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    groups_opt = [
        {"params": [p for p in params if id(p) in fc_ids], "lr": hp.lr * hp.fc_mult},
        {"params": [p for p in params if id(p) not in fc_ids], "lr": hp.lr},
    ]
    opt = torch.optim.AdamW(groups_opt, weight_decay=hp.weight_decay)
    bs = hp.batch
    steps_per_epoch = len(fit_idx) // bs  # drop the last partial batch (BatchNorm)
    total = steps_per_epoch * hp.epochs
    warm = max(1, round(hp.warmup * steps_per_epoch))
    base = [g["lr"] for g in opt.param_groups]

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing)
    rng_np = np.random.default_rng(hp.seed)
    rng = random.Random(hp.seed)  # noqa: S311
    step = 0
    history = []
    for epoch in range(hp.epochs):
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
            "loss": run_loss / max(1, steps_per_epoch),
            "seconds": time.monotonic() - t0,
            "img_s": steps_per_epoch * bs / (time.monotonic() - t0),
        }
        if on_epoch is not None:
            model.eval()
            rec.update(on_epoch(epoch + 1, model))
        history.append(rec)
        log.info("epoch %d %s", epoch + 1, json.dumps(rec))
    model.eval()
    return model, history
