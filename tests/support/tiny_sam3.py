"""A tiny SAM 3 video checkpoint (random weights) built locally, so tests run the real loading and inference code.

The architecture is the real `Sam3VideoModel` at toy sizes: a 112-pixel input, 2 ViT layers of width 32, a
tiny CLIP text tower and a locally made CLIP tokenizer. Random weights detect nothing, so the detection head
is biased to report every query as present with a high score (`bias_detection_head`).
"""

from __future__ import annotations

import string
from pathlib import Path

IMAGE_SIZE = 112
PATCH = 14
GRID = IMAGE_SIZE // PATCH  # 8 x 8 patches
HIDDEN = 128  # must exceed the tracker's fixed 64-channel memory (pointers are split into 64-wide tokens)
BACKBONE = 64
NUM_QUERIES = 2


def tiny_tokenizer():
    """A CLIP BPE tokenizer over lowercase letters, made here instead of downloaded."""
    from transformers import CLIPTokenizer

    tokens = ["<|startoftext|>", "<|endoftext|>"]
    tokens += list(string.ascii_lowercase) + [c + "</w>" for c in string.ascii_lowercase]
    merges = [("p", "l"), ("a", "y"), ("e", "r</w>")]
    tokens += ["pl", "ay", "er</w>"]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=32)


def tiny_config():
    """A `Sam3VideoConfig` with the real architecture at toy sizes."""
    from transformers import Sam3Config, Sam3TrackerVideoConfig, Sam3VideoConfig
    from transformers.models.sam3.configuration_sam3 import (
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig,
        Sam3VisionConfig,
        Sam3ViTConfig,
    )

    feature_sizes = [[GRID * 4, GRID * 4], [GRID * 2, GRID * 2], [GRID, GRID]]
    backbone = Sam3ViTConfig(hidden_size=BACKBONE, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                             image_size=IMAGE_SIZE, patch_size=PATCH, window_size=4, global_attn_indexes=[1],
                             pretrain_image_size=IMAGE_SIZE)
    vision = Sam3VisionConfig(backbone_config=backbone, fpn_hidden_size=HIDDEN, backbone_feature_sizes=feature_sizes,
                              scale_factors=[4.0, 2.0, 1.0, 0.5])
    text = {"vocab_size": 64, "hidden_size": BACKBONE, "intermediate_size": 128, "projection_dim": HIDDEN,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32, "hidden_act": "gelu",
            "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    detector = Sam3Config(
        vision_config=vision, text_config=text,
        geometry_encoder_config=Sam3GeometryEncoderConfig(hidden_size=HIDDEN, num_layers=1, num_attention_heads=2,
                                                          intermediate_size=128),
        detr_encoder_config=Sam3DETREncoderConfig(hidden_size=HIDDEN, num_layers=1, num_attention_heads=2,
                                                  intermediate_size=128),
        detr_decoder_config=Sam3DETRDecoderConfig(hidden_size=HIDDEN, num_layers=1, num_queries=NUM_QUERIES,
                                                  num_attention_heads=2, intermediate_size=128),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=HIDDEN, num_upsampling_stages=2, num_attention_heads=2),
    )
    tracker = Sam3TrackerVideoConfig(
        vision_config={"model_type": "sam3_vision_model", "backbone_config": backbone.to_dict(),
                       "fpn_hidden_size": HIDDEN, "backbone_feature_sizes": feature_sizes,
                       "scale_factors": [4.0, 2.0, 1.0, 0.5]},
        prompt_encoder_config={"hidden_size": HIDDEN, "image_size": IMAGE_SIZE, "patch_size": PATCH},
        mask_decoder_config={"hidden_size": HIDDEN, "mlp_dim": 64, "num_attention_heads": 2,
                             "iou_head_hidden_dim": HIDDEN},
        image_size=IMAGE_SIZE,
        memory_attention_hidden_size=HIDDEN, memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64, memory_attention_rope_feat_sizes=[GRID, GRID],
        memory_encoder_hidden_size=HIDDEN, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=HIDDEN, memory_fuser_embed_dim=HIDDEN, memory_fuser_intermediate_dim=64,
    )
    return Sam3VideoConfig(detector_config=detector, tracker_config=tracker, low_res_mask_size=GRID * 4)


def make_processor(image_size: int = IMAGE_SIZE, tokenizer=None):
    """A `Sam3VideoProcessor` for `image_size` inputs with the local tokenizer."""
    from transformers import Sam3ImageProcessor, Sam3VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    size = {"height": image_size, "width": image_size}
    mask = {"height": image_size * 2 // 7, "width": image_size * 2 // 7}  # 1008 -> 288 as in facebook/sam3
    return Sam3VideoProcessor(image_processor=Sam3ImageProcessor(size=size, mask_size=mask),
                              video_processor=Sam2VideoVideoProcessor(size=size),
                              tokenizer=tokenizer or tiny_tokenizer())


def bias_detection_head(model) -> None:
    """Make random weights detect and track: every detector query present with a high score, and the tracker
    sure the object is there with a mask over the whole frame, so its masks match the detections and each
    prompt keeps one steady track (instead of a new track every frame)."""
    import torch

    detector = model.detector_model
    decoder = model.tracker_model.mask_decoder
    with torch.no_grad():
        decoder.upscale_conv2.weight.zero_()
        decoder.upscale_conv2.bias.fill_(10.0)
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight.zero_()
            mlp.proj_out.bias.fill_(1.0)
        decoder.pred_obj_score_head.proj_out.weight.zero_()
        decoder.pred_obj_score_head.proj_out.bias.fill_(10.0)
        presence = detector.detr_decoder.presence_head.layer3
        presence.weight.zero_()
        presence.bias.fill_(10.0)
        scoring = detector.dot_product_scoring
        for proj in (scoring.query_proj, scoring.text_proj):
            proj.weight.zero_()
            proj.bias.fill_(1.0)


def build_tiny_sam3(dest: Path, seed: int = 0) -> Path:
    """Write a complete tiny SAM 3 checkpoint (config, weights, processor, tokenizer) to `dest`; return it."""
    import torch
    from transformers import Sam3VideoModel

    dest = Path(dest)
    torch.manual_seed(seed)
    model = Sam3VideoModel(tiny_config())
    bias_detection_head(model)
    model.save_pretrained(dest)
    make_processor().save_pretrained(dest)
    return dest
