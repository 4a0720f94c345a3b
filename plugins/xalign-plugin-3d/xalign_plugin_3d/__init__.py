"""xalign plugin for 3D: point clouds and meshes -> 8,192 normalised points -> frozen encoder."""

from xalign_plugin_3d.encoders import build_encoder
from xalign_plugin_3d.loading import EXTENSIONS, load
from xalign_plugin_3d.preprocess import NUM_POINTS, preprocess
from xalign_plugin_3d.synthetic import ATTRIBUTES, synthesize, write

__all__ = ["ATTRIBUTES", "EXTENSIONS", "NUM_POINTS", "build_encoder", "load", "preprocess",
           "synthesize", "write"]
