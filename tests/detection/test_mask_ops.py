"""mask_ops' connected components against scipy's 8-connected labelling, and its hole filling against
transformers' `fill_holes_in_mask_scores` run on scipy's components (what its CUDA kernel computes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from basketball_analyzer.detection.mask_ops import fill_holes_in_mask_scores, small_component_areas

EIGHT = np.ones((3, 3), int)


def scipy_areas(mask: np.ndarray) -> np.ndarray:
    """Each pixel's 8-connected component size (H * W + 1 outside the mask)."""
    labels, _ = ndimage.label(mask, structure=EIGHT)
    sizes = np.bincount(labels.ravel())
    return np.where(mask, sizes[labels], mask.size + 1)


def random_masks(seed: int, count: int, size: int = 64) -> list[np.ndarray]:
    """Speckle at several densities, and blobs (smoothed noise) with holes and specks like SAM 3's masks."""
    rng = np.random.default_rng(seed)
    masks = []
    for i in range(count):
        noise = rng.random((size, size))
        if i % 2:
            noise = ndimage.uniform_filter(noise, size=int(rng.integers(2, 6)))
        masks.append(noise < np.quantile(noise, rng.uniform(0.2, 0.8)))
    return masks


def test_the_smallest_case_the_old_propagation_got_wrong():
    mask = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 1], [0, 0, 0, 1], [1, 1, 0, 1]], dtype=torch.bool)
    areas = small_component_areas(mask[None, None], 2)[0, 0]
    assert areas[2, 3] == 17 and areas[3, 0] == 2 and areas[3, 1] == 2  # (2, 3) is in a 7-pixel component
    assert (areas[mask] != 2).sum() == 7


@pytest.mark.parametrize("max_area", [1, 2, 5, 16])
def test_small_component_areas_equal_scipys_labelling(max_area):
    masks = random_masks(max_area, 40)
    got = small_component_areas(torch.from_numpy(np.stack(masks))[:, None], max_area)[:, 0].numpy()
    for mask, areas in zip(masks, got):
        want = scipy_areas(mask)
        np.testing.assert_array_equal(areas, np.where(want <= max_area, want, mask.size + 1))


def test_hole_filling_equals_transformers_with_exact_components(monkeypatch):
    from transformers.models.sam3_video import modeling_sam3_video as sam3_module

    def scipy_components(mask):
        areas = np.stack([scipy_areas(m[0].numpy().astype(bool)) for m in mask])[:, None]
        return torch.zeros_like(mask, dtype=torch.int32), torch.from_numpy(areas).to(torch.int32)

    monkeypatch.setattr(sam3_module, "_get_connected_components_with_padding", scipy_components)
    rng = np.random.default_rng(7)
    masks = random_masks(3, 30, size=96)
    logits = torch.from_numpy(np.stack([np.where(m, rng.uniform(0.5, 9, m.shape), -rng.uniform(0.5, 9, m.shape))
                                        for m in masks])).float()[:, None]
    want = sam3_module.fill_holes_in_mask_scores(logits.clone(), max_area=16)
    got = fill_holes_in_mask_scores(logits.clone(), max_area=16)
    assert not want.equal(logits)  # there were holes and specks to change
    assert got.equal(want)
