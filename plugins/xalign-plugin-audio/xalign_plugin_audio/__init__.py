"""xalign audio plugin: loading, Kaldi fbank preprocessing, tiny/BEATs/AST/CLAP/Whisper encoders."""

from xalign_plugin_audio.encoders import build_encoder
from xalign_plugin_audio.loading import load
from xalign_plugin_audio.preprocess import preprocess
from xalign_plugin_audio.synthetic import synthesize, write

__all__ = ["build_encoder", "load", "preprocess", "synthesize", "write"]
