"""xalign image modality: load, preprocess, encode and synthesise still images."""

from xalign_plugin_image.encoders import build_encoder
from xalign_plugin_image.loading import load, to_rgb
from xalign_plugin_image.preprocess import crop_box, image_to_tensor, preprocess
from xalign_plugin_image.synthetic import synthesize, write

__all__ = ["build_encoder", "crop_box", "image_to_tensor", "load", "preprocess", "synthesize",
           "to_rgb", "write"]
