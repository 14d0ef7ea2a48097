"""A tiny SAM 3 whose tracker masks depend on its memory (the checkpoint's mask head ignores it).

`support.tiny_sam3.bias_detection_head` flattens the tracker's mask decoder (`upscale_conv2` weight 0, bias 10)
so random weights keep one steady whole-frame track; its masks are then the same whatever the memory holds,
and a pruning that dropped the whole memory bank would pass. Here the last upscaling layer and the mask
hypernetworks get random weights back, so every mask logit depends on the memory-conditioned features:
dropping the non-conditioning memory changes the raw masks on 28 of 30 frames of the court clip, while the
masks stay mostly positive, so each prompt still keeps one track.
"""

from __future__ import annotations


def memory_dependent_sam3(seed: int = 0):
    """A `Sam3VideoModel` at the tiny test sizes, detection biased as the checkpoint's, masks memory-dependent."""
    import torch
    from support.tiny_sam3 import bias_detection_head, tiny_config
    from transformers import Sam3VideoModel

    torch.manual_seed(seed)
    model = Sam3VideoModel(tiny_config())
    bias_detection_head(model)
    torch.manual_seed(seed + 1)
    decoder = model.tracker_model.mask_decoder
    with torch.no_grad():
        torch.nn.init.normal_(decoder.upscale_conv2.weight, std=0.5)
        decoder.upscale_conv2.bias.zero_()
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.proj_out.bias.copy_(torch.randn_like(mlp.proj_out.bias) + 0.05)
    return model.eval()
