"""Spoken digits synthesised locally with espeak-ng, turned into small log-mel token maps.

Every utterance is one English digit word ("zero" .. "nine") spoken by espeak-ng with one
accent, voice variant, speed and pitch. The features are what a keyword-spotting front end
computes: a log-mel spectrogram (16 bands, 10 ms hop) of the voiced part, averaged into
``TOKENS`` equal time segments and normalised per utterance (zero mean, unit variance), so the
model sees a (tokens, 1, bands) map: one token per time segment, the frequency axis last.

Only numpy and the standard library are used; espeak-ng is the Debian package ``espeak-ng``.
"""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
import wave
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-029")
# Voice variants are split by speaker: the test set only holds variants never trained on.
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "klatt", "adam", "david")
TEST_VARIANTS = ("m5", "m7", "f4", "f5", "klatt2", "steph")
SPEEDS = (120, 160, 200)   # words per minute
PITCHES = (35, 65)         # espeak-ng pitch, 0..99

TOKENS = 16                # time segments per utterance (the transformer's sequence length)
BANDS = 16                 # mel bands (the token's feature axis)
FFT = 512
HOP_S = 0.010
F_LOW, F_HIGH = 100.0, 7000.0


@dataclass(frozen=True)
class Utterance:
    """One espeak-ng rendering of ``WORDS[label]``."""

    label: int
    accent: str
    variant: str
    speed: int
    pitch: int

    def command(self) -> list[str]:
        return ["espeak-ng", "-v", f"{self.accent}+{self.variant}", "-s", str(self.speed),
                "-p", str(self.pitch), "--stdout", WORDS[self.label]]


def utterances(variants: Iterable[str]) -> list[Utterance]:
    """Every word x accent x variant x speed x pitch, in a fixed order."""
    return [Utterance(label, accent, variant, speed, pitch)
            for label, accent, variant, speed, pitch in itertools.product(
                range(len(WORDS)), ACCENTS, variants, SPEEDS, PITCHES)]


def synthesize(utt: Utterance) -> tuple[np.ndarray, int]:
    """(mono waveform in [-1, 1] as float64, sample rate) from espeak-ng's WAV output."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    data = subprocess.run(utt.command(), check=True, capture_output=True, timeout=60).stdout
    with wave.open(io.BytesIO(data)) as wav:
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    return samples, rate


def mel_filterbank(rate: int, bands: int = BANDS, fft: int = FFT) -> np.ndarray:
    """(bands, fft//2 + 1) triangular filters equally spaced on the mel scale."""
    def to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(np.float64(F_LOW)), to_mel(np.float64(F_HIGH)),
                              bands + 2))
    freqs = np.linspace(0.0, rate / 2.0, fft // 2 + 1)
    bank = np.zeros((bands, freqs.size))
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        rising = (freqs - lo) / (mid - lo)
        falling = (hi - freqs) / (hi - mid)
        bank[b] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def log_mel(samples: np.ndarray, rate: int) -> np.ndarray:
    """(frames, BANDS) log-mel energies, Hann window of ``FFT`` samples, 10 ms hop."""
    hop = round(HOP_S * rate)
    if samples.size < FFT:
        samples = np.pad(samples, (0, FFT - samples.size))
    count = 1 + (samples.size - FFT) // hop
    index = np.arange(FFT)[None, :] + hop * np.arange(count)[:, None]
    frames = samples[index] * np.hanning(FFT)[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.log(power @ mel_filterbank(rate).T + 1e-8)


def voiced(spec: np.ndarray, floor_db: float = 40.0) -> np.ndarray:
    """The frames from the first to the last one within ``floor_db`` of the loudest frame."""
    energy = spec.max(axis=1)
    keep = np.flatnonzero(energy > energy.max() - floor_db / 10.0 * np.log(10.0))
    return spec[keep[0]:keep[-1] + 1]


def tokens(spec: np.ndarray, count: int = TOKENS) -> np.ndarray:
    """Average the frames into ``count`` equal segments (frames are repeated when the
    utterance is shorter than ``count`` frames); normalise to zero mean, unit variance."""
    edges = np.linspace(0, spec.shape[0], count + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        a = int(np.floor(lo))
        b = max(a + 1, int(np.ceil(hi)))
        rows.append(spec[a:b].mean(axis=0))
    out = np.stack(rows)
    return (out - out.mean()) / (out.std() + 1e-6)


def features(utt: Utterance, noise_snr_db: float | None = None,
             rng: np.random.Generator | None = None) -> np.ndarray:
    """(TOKENS, 1, BANDS) float32 model input for one utterance, optionally with white noise
    at ``noise_snr_db`` (signal power over noise power)."""
    samples, rate = synthesize(utt)
    if noise_snr_db is not None:
        rng = rng or np.random.default_rng(0)
        power = np.mean(samples ** 2) + 1e-12
        samples = samples + rng.normal(0.0, np.sqrt(power / 10 ** (noise_snr_db / 10)),
                                       samples.size)
    return tokens(voiced(log_mel(samples, rate)))[:, None, :].astype(np.float32)


def dataset(items: list[Utterance], snr_db: tuple[float, float] | None = None, seed: int = 0,
            workers: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, TOKENS, 1, BANDS), labels (n,)) for ``items``, each with white noise at an
    SNR drawn uniformly from ``snr_db`` (none if None); deterministic for a seed."""
    seeds = np.random.SeedSequence(seed).spawn(len(items))

    def one(pair: tuple[Utterance, np.random.SeedSequence]) -> np.ndarray:
        utt, ss = pair
        rng = np.random.default_rng(ss)
        snr = None if snr_db is None else float(rng.uniform(*snr_db))
        return features(utt, snr, rng)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        xs: Iterator[np.ndarray] = pool.map(one, zip(items, seeds, strict=True))
        x = np.stack(list(xs))
    return x, np.array([u.label for u in items], np.int64)
