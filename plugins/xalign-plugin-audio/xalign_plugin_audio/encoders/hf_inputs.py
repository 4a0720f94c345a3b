"""Input front ends: our normalised fbank windows -> what each transformers model expects.

They compute in float32 whatever the model's dtype (``exp`` of a log-mel overflows
half precision); the adapters cast the result to the model's dtype.

See :mod:`.hf_audio` for what each model receives and :mod:`.mel_remap` for how
Whisper's and CLAP's mel spectrograms are approximated from the Kaldi fbank.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from xalign_plugin_audio.encoders.mel_remap import band_power_map, mel_power
from xalign_plugin_audio.fbank import LOG_FLOOR
from xalign_plugin_audio.preprocess import INT16_SCALE, denormalise, padding_frames

LOG_FLOOR_POWER = 1e-10  # Whisper's and CLAP's floor before the log


class ASTInput(nn.Module):
    """``[N, T, 128]`` -> AST ``input_values [N, max_length, 128]`` (exact Kaldi fbank).

    Exact means equal to ``ASTFeatureExtractor`` on the same audio, frame for frame,
    including its zero padding of frames past the end of the clip.
    """

    def __init__(self, frames: int, mean: float, std: float) -> None:
        super().__init__()
        self.frames, self.mean, self.std = int(frames), float(mean), float(std)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # AST's fbank is computed on ±1 samples and floored there: shift, then re-floor
        windows = windows.float()
        fbank = (denormalise(windows) - 2 * math.log(INT16_SCALE)).clamp_min(math.log(LOG_FLOOR))
        fbank = fbank.masked_fill(padding_frames(windows).unsqueeze(-1), 0.0)  # AST pads with 0
        fbank = fbank[:, : self.frames]
        fbank = nn.functional.pad(fbank, (0, 0, 0, self.frames - fbank.shape[1]))
        return (fbank - self.mean) / (2 * self.std)


class WhisperInput(nn.Module):
    """``[N, T, 128]`` -> Whisper ``input_features [N, mels, frames]`` (approximate log-mel)."""

    def __init__(self, mel_filters: torch.Tensor, frames: int) -> None:
        super().__init__()
        window = torch.hann_window(400, periodic=True, dtype=torch.float64)
        # a plain attribute, not a buffer: casting the model to half must not underflow it
        self.power_map = band_power_map(mel_filters, 16_000, 400, window).float()
        self.frames = int(frames)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        power = mel_power(windows.float(), self.power_map.to(windows.device))
        log_mel = power.clamp_min(LOG_FLOOR_POWER).log10()
        peak = log_mel.amax(dim=(1, 2), keepdim=True)
        log_mel = (torch.maximum(log_mel, peak - 8.0) + 4.0) / 4.0
        features = log_mel[:, : self.frames].transpose(1, 2)  # [N, mels, T]
        floor = (peak - 8.0 + 4.0) / 4.0  # what Whisper's zero padding turns into
        pad = floor.expand(-1, features.shape[1], self.frames - features.shape[2])
        return torch.cat([features, pad], dim=2)


class ClapInput(nn.Module):
    """``[N, T, 128]`` -> CLAP ``input_features [N, 1 or 4, frames, mels]`` in dB (approximate)."""

    def __init__(self, extractor: object, fusion: bool) -> None:
        super().__init__()
        self.fusion = fusion
        filters = extractor.mel_filters if fusion else extractor.mel_filters_slaney
        fft = extractor.fft_window_size
        window = torch.hann_window(fft, periodic=True, dtype=torch.float64)
        power_map = band_power_map(torch.as_tensor(filters), extractor.sampling_rate, fft, window)
        self.power_map = power_map.float()  # plain attribute, as in WhisperInput
        self.frames = extractor.nb_max_samples // extractor.hop_length + 1

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        power = mel_power(windows.float(), self.power_map.to(windows.device))
        db = 10.0 * power.clamp_min(LOG_FLOOR_POWER).log10()
        db = db[:, : self.frames]
        floor = 10.0 * math.log10(LOG_FLOOR_POWER)  # CLAP's zero padding in dB
        db = nn.functional.pad(db, (0, 0, 0, self.frames - db.shape[1]), value=floor)
        features = db.unsqueeze(1)
        return features.expand(-1, 4, -1, -1) if self.fusion else features
