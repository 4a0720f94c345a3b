"""xalign-encoder-whisper: pretrained Whisper encoders from PyPI weight packages."""
