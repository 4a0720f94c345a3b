"""xalign video modality: uniformly sampled frames, each processed and encoded as an image."""

from xalign_plugin_video.encoders import build_encoder
from xalign_plugin_video.loading import load, load_video
from xalign_plugin_video.preprocess import preprocess
from xalign_plugin_video.sampling import frame_indices, num_frames, set_num_frames
from xalign_plugin_video.synthetic import synthesize, write

__all__ = ["build_encoder", "frame_indices", "load", "load_video", "num_frames", "preprocess",
           "set_num_frames", "synthesize", "write"]
