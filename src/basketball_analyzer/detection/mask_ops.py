"""SAM 3's duplicate suppression and mask clean-up in plain PyTorch, for installs without `kernels`.

transformers (5.x, `models/sam3_video/modeling_sam3_video.py`) runs the detector's mask NMS (`nms_masks`) and
the hole filling / sprinkle removal of tracked masks (`fill_holes_in_mask_scores`) only through a kernel that
the optional `kernels` package fetches from the Hub; without it both silently do nothing, so every duplicate
detection of a player is born as its own track. Both functions are module globals that `Sam3VideoModel`
looks up at call time, so `install()` replaces them in that module with the versions below (same signatures,
same semantics) when the kernel cannot be loaded. The replacement is process-wide and idempotent.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_MODULE = "transformers.models.sam3_video.modeling_sam3_video"


def mask_nms(pred_probs, pred_masks, prob_threshold: float, iou_threshold: float):
    """Greedy mask NMS: (num_det,) bool keep mask, as transformers' `nms_masks` with its kernel.

    Detections at or below `prob_threshold` are dropped; of the rest, best score first, a detection is kept
    unless its mask IoU with an already kept one exceeds `iou_threshold`.
    """
    import torch

    is_valid = pred_probs > prob_threshold
    if not bool(is_valid.any()):
        return is_valid
    valid = torch.nonzero(is_valid, as_tuple=True)[0]
    masks = (pred_masks[valid] > 0).flatten(1)
    # Pairwise IoU on the device, then the greedy pass on the CPU: a handful of detections, one transfer.
    fmask = masks.float()
    inter = fmask @ fmask.T
    area = fmask.sum(1)
    iou = (inter / (area[:, None] + area[None, :] - inter).clamp(min=1)).cpu()
    order = torch.argsort(pred_probs[valid].float().cpu(), descending=True, stable=True).tolist()
    kept: list[int] = []
    for i in order:
        if all(float(iou[i, j]) <= iou_threshold for j in kept):
            kept.append(i)
    keep = torch.zeros_like(is_valid)
    keep[valid[torch.tensor(sorted(kept), dtype=torch.long, device=valid.device)]] = True
    return keep


def small_component_areas(mask, max_area: int):
    """Per-pixel area of the 8-connected component of `mask` (B, 1, H, W) holding it, exact up to `max_area`;
    pixels of larger components (and pixels outside `mask`) read H * W + 1.

    Min-label propagation for `max_area` rounds: a component of at most `max_area` pixels spans at most
    `max_area - 1` steps, so all its pixels then hold its smallest pixel index, and no pixel outside it
    does. A label is taken as a whole component only when it is closed: no pixel holding it has a mask
    neighbour holding another. Pixels of a larger component that share an unfinished label always border
    pixels with other labels (their set is not yet the component), so they are never counted as small.
    No full labelling, no host round trip.
    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = mask.shape
    outside = h * w + 1
    big = float(outside)
    mask = mask.bool()
    index = torch.arange(1, h * w + 1, device=mask.device, dtype=torch.float32).view(1, 1, h, w)
    labels = torch.where(mask, index, big)

    def neighbour_min(lab):  # non-mask pixels hold `big`, so they never lower it
        return -F.max_pool2d(-lab, 3, stride=1, padding=1)

    for _ in range(max(int(max_area), 1)):
        labels = torch.where(mask, neighbour_min(labels), big)
    # Highest label among mask neighbours: non-mask pixels count as 0 here.
    neighbour_max = F.max_pool2d(torch.where(mask, labels, 0.0), 3, stride=1, padding=1)
    open_pixel = mask & ((neighbour_min(labels) != labels) | (neighbour_max != labels))
    flat = labels.view(b, -1).long()
    count = torch.zeros(b, outside + 1, device=mask.device, dtype=torch.int32)
    count.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.int32))
    unclosed = torch.zeros_like(count)
    unclosed.scatter_add_(1, flat, open_pixel.view(b, -1).to(torch.int32))
    area = count.gather(1, flat).view(b, 1, h, w)
    closed = mask & (unclosed.gather(1, flat).view(b, 1, h, w) == 0) & (area <= max_area)
    return torch.where(closed, area, torch.full_like(area, outside))


def fill_holes_in_mask_scores(mask, max_area, fill_holes=True, remove_sprinkles=True):
    """transformers' `fill_holes_in_mask_scores` with connected components in PyTorch: background islands of
    at most `max_area` pixels become foreground (score 0.1); foreground specks under both `max_area` and half
    the mask's area become background (-0.1)."""
    import torch

    if max_area <= 0:
        return mask
    if fill_holes:
        mask_bg = mask <= 0
        small_bg = mask_bg & (small_component_areas(mask_bg, max_area) <= max_area)
        mask = torch.where(small_bg, torch.tensor(0.1, dtype=mask.dtype, device=mask.device), mask)
    if remove_sprinkles:
        mask_fg = mask > 0
        thresh = torch.sum(mask_fg, dim=(2, 3), keepdim=True, dtype=torch.int32)
        thresh = thresh.floor_divide(2).clamp(max=max_area)
        small_fg = mask_fg & (small_component_areas(mask_fg, max_area) <= thresh)
        mask = torch.where(small_fg, torch.tensor(-0.1, dtype=mask.dtype, device=mask.device), mask)
    return mask


_ORIGINALS: dict = {}


def install(prefer_kernels: bool = True) -> str:
    """Make SAM 3 suppress duplicates in this process; return which implementation runs, for the log.

    With `prefer_kernels` and a loadable Hub kernel (the `kernels` package, online or cached), transformers'
    own path stays; otherwise its two functions are replaced by this module's.
    """
    import importlib

    module = importlib.import_module(_MODULE)
    ours = "PyTorch mask NMS and hole filling (basketball_analyzer.detection.mask_ops)"
    if module.nms_masks is mask_nms:
        return ours
    if prefer_kernels and module.is_kernels_available():
        try:
            module._load_cv_utils_kernel_once()
        except Exception:  # noqa: BLE001 - any failure to load the optional kernel means: use ours
            pass
        if getattr(module, "cv_utils_kernel", None):
            return "transformers' cv-utils kernel (kernels package)"
    _ORIGINALS.setdefault("nms_masks", module.nms_masks)
    _ORIGINALS.setdefault("fill_holes_in_mask_scores", module.fill_holes_in_mask_scores)
    module.nms_masks = mask_nms
    module.fill_holes_in_mask_scores = fill_holes_in_mask_scores
    return ours


def uninstall() -> None:
    """Put transformers' own functions back (tests use it to show what the suppression changes)."""
    import importlib

    module = importlib.import_module(_MODULE)
    for name, original in _ORIGINALS.items():
        setattr(module, name, original)
