"""Video encoders are the image encoders, applied to each frame ("frames as images").

The default is the very same seeded tiny image encoder (same weights), so a
video projector can start from a trained image projector, as X-InstructBLIP's
video Q-Former starts from the image one.
"""

from xalign_plugin_image.encoders import ENCODERS, TINY_DIM, build_encoder

__all__ = ["ENCODERS", "TINY_DIM", "build_encoder"]
