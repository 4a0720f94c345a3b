"""The file types the audio plugin reads (light: the plugin's registration imports it)."""

from __future__ import annotations

# extension -> container names libsndfile reports for it
SOUNDFILE_TYPES = {".wav": {"WAV", "WAVEX", "RF64"}, ".flac": {"FLAC"}, ".ogg": {"OGG"}}
# extension -> tokens of the FFmpeg demuxer name (e.g. "mov,mp4,m4a,3gp,3g2,mj2")
AV_TYPES = {
    ".mp3": {"mp3"}, ".aac": {"aac"}, ".m4a": {"mp4", "m4a"}, ".mp4": {"mp4"},
    ".mov": {"mov"}, ".mkv": {"matroska"}, ".webm": {"webm"},
}
EXTENSIONS = tuple(SOUNDFILE_TYPES) + tuple(AV_TYPES)
# closed vocabularies of the synthetic world's labels (see .synthetic)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "kind": ("tone", "chord", "beeps"),
    "pitch": ("low", "mid", "high"),
    "loudness": ("quiet", "loud"),
    "count": ("one", "two", "three", "four"),
}
QUESTIONS = {  # how DisCRn asks about these across two inputs (Modality.questions)
    "loudness": ("Which one is louder?", "Which one is quieter?"),
    "pitch": ("Which one is higher-pitched?", "Which one is lower-pitched?"),
    "speed": ("Which one is faster?", "Which one is slower?"),
}
EXCLUSIVE = ("kind",)  # no image is a chord
