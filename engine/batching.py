"""Batched synthesis: several utterances of different lengths through KModel in one forward pass.

kokoro's `KModel.forward_with_tokens` runs one utterance: it squeezes the durations, expands them
for a single item, runs two LSTMs unpacked and normalises the decoder's AdaIN over the whole time
axis, so right padding would change every frame of a shorter item. Here kokoro's own submodules
and weights run on a right-padded batch and padding is kept out of every valid value:

- tokens: PL-BERT gets an attention mask; kokoro's DurationEncoder and TextEncoder already mask
  and pack; the duration LSTM and the F0/energy LSTM run packed, so each direction stops and
  starts at the item's own end;
- frames: the instance norms take mean and variance over the item's valid frames only and give
  zeros past its end, so every convolution (transposed ones included) reads the zeros that the
  unbatched pass pads with; where a layer's bias lands on padding, it is zeroed before the next
  convolution;
- per item, where one batch cannot agree with N single passes: rounding the durations, the
  harmonic source (its noise, its cumulative phase and the interpolation at its end) and both
  STFTs (reflection padding and the overlap-add at the end). They are cheap next to the
  convolutions.

The two halves can be batched apart: the front stages (PL-BERT, the encoders and the duration and
prosody predictors) always run as one pass, while the decoder, nearly all of the cost, runs as one
pass or item by item as the device's measurement says (benchmarks/batch_stages.py).

The source module draws each item's noise under `chunk_noise`, seeded from the item's own tokens
as the unbatched `render` seeds it: a batch gives the same noise as rendering its items one by one.

Durations come out equal; everything else matches the unbatched pass up to float32 rounding
(sums taken in another order), which the decoder alone keeps at ~1e-6. In voiced audio kokoro
itself amplifies rounding in F0: the source's phase accumulates F0 over the utterance and the
generator reads the STFT phase of near-silent bins. On Kokoro-82M that leaves samples up to ~0.02
apart, as far apart as kokoro's own output run on 1 thread and on 2.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kokoro.istftnet import Decoder, Generator
from kokoro.model import KModel
from kokoro.modules import ProsodyPredictor

from .masked_layers import adain_resblk, adain_resblock1, mask_of, packed_lstm, valid
from .synthesis import ChunkJob
from .timing import MEASURED_FRAMES_PER_TOKEN, estimated_frames
from .torch_forward import chunk_noise

#: a batch is planned a quarter above the measured frames per token: the headroom by which a
#: planned batch rarely outgrows its cap
BATCH_MARGIN = 1.25
#: 3 frames a token, exactly (tests/engine/test_batching.py)
BATCH_FRAMES_PER_TOKEN = MEASURED_FRAMES_PER_TOKEN * BATCH_MARGIN


@dataclass(frozen=True)
class Front:
    """The front stages' output for a padded batch: what the decoder needs, per item or batched."""

    pred_dur: list[torch.Tensor]  # per item, start and end tokens included
    frame_counts: torch.Tensor  # [B]
    asr: torch.Tensor  # [B, 512, frames], zero past each item's frames
    f0: torch.Tensor  # [B, 2 * frames]
    energy: torch.Tensor  # [B, 2 * frames]
    timbre: torch.Tensor  # [B, 128]

    @property
    def decoder_inputs(self) -> tuple[torch.Tensor, ...]:
        """decode_batch's arguments after the decoder: asr, f0, energy, timbre, frames."""
        return self.asr, self.f0, self.energy, self.timbre, self.frame_counts


def forward_batch(
    model: KModel, jobs: Sequence[ChunkJob], styles: Sequence[torch.Tensor], batch_decoder: bool = True
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per job: (float32 audio samples, int64 pred_dur including start and end tokens).

    `styles` holds each job's voice style vector ([1, 256] or [256]). Each job's result is what
    `model.forward_with_tokens([[0, *token_ids, 0]], style, speed)` gives alone. The front stages
    (PL-BERT, the encoders, the duration and prosody predictors) always run as one pass over all
    jobs; the decoder does too when `batch_decoder`, else it runs job by job (kokoro's own
    Decoder), for devices where a padded decoder pass costs more than it shares. `model` must be in eval mode.
    """
    if not jobs:
        return []
    tokens = [job.token_ids for job in jobs]
    with torch.inference_mode():
        front = front_stages(model, jobs, styles)
        if batch_decoder:
            audio = decode_batch(model.decoder, *front.decoder_inputs, tokens)
        else:
            audio = decode_each(model.decoder, front, tokens)
    return [
        (samples.reshape(-1).float().cpu().numpy(), dur.cpu().numpy().astype(np.int64))
        for samples, dur in zip(audio, front.pred_dur, strict=True)
    ]


def front_stages(model: KModel, jobs: Sequence[ChunkJob], styles: Sequence[torch.Tensor]) -> Front:
    """KModel.forward_with_tokens up to the decoder, on a right-padded batch (under inference_mode)."""
    device = model.device
    token_counts = torch.tensor([len(job.token_ids) + 2 for job in jobs], device=device)
    input_ids = torch.zeros((len(jobs), int(token_counts.max())), dtype=torch.long, device=device)
    for row, job in enumerate(jobs):
        input_ids[row, 1 : len(job.token_ids) + 1] = torch.as_tensor(job.token_ids, dtype=torch.long)
    ref_s = torch.cat([style.reshape(1, -1) for style in styles]).to(device)
    style, timbre = ref_s[:, 128:], ref_s[:, :128]
    padding = ~valid(token_counts, input_ids.shape[1])

    bert = model.bert(input_ids, attention_mask=(~padding).int())
    d = model.predictor.text_encoder(model.bert_encoder(bert).transpose(-1, -2), style, token_counts, padding)
    x = packed_lstm(model.predictor.lstm, d, token_counts)
    duration = torch.sigmoid(model.predictor.duration_proj(x)).sum(dim=-1)
    # Divided per item by a Python float, as kokoro divides: a tensor of speeds may round
    # differently (CUDA multiplies by a scalar's reciprocal) and flip a duration at .5.
    pred_dur = [
        torch.round(duration[row, :count] / job.speed).clamp(min=1).long()
        for row, (count, job) in enumerate(zip(token_counts.tolist(), jobs, strict=True))
    ]
    alignment = _alignment(pred_dur, input_ids.shape[1], d.dtype)
    frame_counts = torch.stack([dur.sum() for dur in pred_dur])
    f0, energy = _f0_energy(model.predictor, d.transpose(-1, -2) @ alignment, style, frame_counts)
    asr = model.text_encoder(input_ids, token_counts, padding) @ alignment
    return Front(pred_dur, frame_counts, asr, f0, energy, timbre)


def decode_each(decoder: Decoder, front: Front, tokens: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """Each item through kokoro's own Decoder at its own length, as the unbatched pass runs it."""
    audio = []
    for row, n in enumerate(front.frame_counts.tolist()):
        with chunk_noise(tokens[row], front.asr.device):
            audio.append(
                decoder(
                    front.asr[row : row + 1, :, :n],
                    front.f0[row : row + 1, : 2 * n],
                    front.energy[row : row + 1, : 2 * n],
                    front.timbre[row : row + 1],
                )
            )
    return audio


def group_by_length(jobs: Sequence[ChunkJob], max_frames_per_batch: int) -> list[list[int]]:
    """Indices of `jobs` in batches whose padded size stays within `max_frames_per_batch`.

    A batch's activations grow with its size times its longest item's frames, so items are sorted
    by estimated frames and each batch is filled while that product fits: similar lengths waste
    little on padding. An item estimated over the cap on its own gets a batch of its own.
    """
    estimates = [estimated_frames(len(job.token_ids), job.speed, BATCH_FRAMES_PER_TOKEN) for job in jobs]
    batches: list[list[int]] = []
    for index in sorted(range(len(jobs)), key=estimates.__getitem__):
        # sorted ascending, so the item being placed is the longest of its batch
        if batches and (len(batches[-1]) + 1) * estimates[index] <= max_frames_per_batch:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def _alignment(pred_dur: Sequence[torch.Tensor], tokens: int, dtype: torch.dtype) -> torch.Tensor:
    """[B, tokens, frames]: one-hot token of each frame, zero on padded tokens and frames.

    Multiplying by it copies each token's features into its frames exactly (one term times 1,
    the rest times 0) and leaves padded frames zero.
    """
    frames = max(int(dur.sum()) for dur in pred_dur)
    device = pred_dur[0].device
    alignment = torch.zeros((len(pred_dur), tokens, frames), dtype=dtype, device=device)
    for row, dur in enumerate(pred_dur):
        token_of_frame = torch.repeat_interleave(torch.arange(dur.shape[0], device=device), dur)
        alignment[row, token_of_frame, torch.arange(token_of_frame.shape[0], device=device)] = 1
    return alignment


def _f0_energy(
    predictor: ProsodyPredictor, en: torch.Tensor, style: torch.Tensor, frames: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """ProsodyPredictor.F0Ntrain on a padded batch: [B, 2 * frames] F0 and energy curves."""
    shared = packed_lstm(predictor.shared, en.transpose(-1, -2), frames).transpose(-1, -2)
    curves = []
    for blocks, projection in ((predictor.F0, predictor.F0_proj), (predictor.N, predictor.N_proj)):
        x, lengths = shared, frames
        for block in blocks:
            x, lengths = adain_resblk(block, x, style, lengths)
        curves.append(projection(x).squeeze(1))
    return curves[0], curves[1]


def decode_batch(
    decoder: Decoder,
    asr: torch.Tensor,
    f0_curve: torch.Tensor,
    energy: torch.Tensor,
    timbre: torch.Tensor,
    frames: torch.Tensor,
    tokens: Sequence[Sequence[int]],
) -> list[torch.Tensor]:
    """Decoder.forward on a padded batch; each item's audio at its own length, its noise seeded
    from its `tokens` (see `chunk_noise`)."""
    # stride 2, kernel 3, padding 1: frame f reads curve samples 2f-1..2f+1, never past 2 * frames
    f0 = decoder.F0_conv(f0_curve.unsqueeze(1))
    energy = decoder.N_conv(energy.unsqueeze(1))
    x, lengths = adain_resblk(decoder.encode, torch.cat([asr, f0, energy], dim=1), timbre, frames)
    asr_res = decoder.asr_res(asr)
    residual = True
    for block in decoder.decode:
        if residual:
            x = torch.cat([x, asr_res, f0, energy], dim=1)
        x, lengths = adain_resblk(block, x, timbre, lengths)
        if block.upsample_type != "none":
            residual = False
    return _generate(decoder.generator, x, timbre, f0_curve, lengths, tokens)


def _generate(
    generator: Generator,
    x: torch.Tensor,
    timbre: torch.Tensor,
    f0_curve: torch.Tensor,
    lengths: torch.Tensor,
    tokens: Sequence[Sequence[int]],
) -> list[torch.Tensor]:
    """Generator.forward on a padded batch; `lengths` are x's valid frames, also f0_curve's."""
    harmonics = _harmonics(generator, f0_curve, lengths, tokens)
    for i, upsample in enumerate(generator.ups):
        x = upsample(F.leaky_relu(x, negative_slope=0.1) * mask_of(lengths, x))
        lengths = lengths * upsample.stride[0]  # kernel - stride is even and padding half of it
        if i == generator.num_upsamples - 1:
            x = generator.reflection_pad(x)  # (1, 0): on the left, so each item's end stays its own
            lengths = lengths + generator.reflection_pad.padding[0]
        mask = mask_of(lengths, x)
        x = x + adain_resblock1(generator.noise_res[i], generator.noise_convs[i](harmonics), timbre, mask)
        blocks = generator.resblocks[i * generator.num_kernels : (i + 1) * generator.num_kernels]
        x = sum(adain_resblock1(block, x, timbre, mask) for block in blocks) / generator.num_kernels
    x = generator.conv_post(F.leaky_relu(x) * mask_of(lengths, x))
    bins = generator.post_n_fft // 2 + 1
    return [
        generator.stft.inverse(torch.exp(x[row : row + 1, :bins, :n]), torch.sin(x[row : row + 1, bins:, :n]))
        for row, n in enumerate(lengths.tolist())
    ]


def _harmonics(
    generator: Generator, f0_curve: torch.Tensor, lengths: torch.Tensor, tokens: Sequence[Sequence[int]]
) -> torch.Tensor:
    """The source's STFT per item at its own length, zero-padded to [B, n_fft + 2, T].

    Per item because the source's noise, its phase interpolation at the end and the STFT's
    reflection padding all depend on where the item ends; zero padding is what the noise
    convolutions would read past the end unbatched.
    """
    spectra = []
    for row, n in enumerate(lengths.tolist()):
        f0 = generator.f0_upsamp(f0_curve[row : row + 1, None, :n]).transpose(1, 2)
        with chunk_noise(tokens[row], f0.device):
            source, _, _ = generator.m_source(f0)
        magnitude, phase = generator.stft.transform(source.transpose(1, 2).squeeze(1))
        spectra.append(torch.cat([magnitude, phase], dim=1))
    width = max(spectrum.shape[-1] for spectrum in spectra)
    return torch.cat([F.pad(spectrum, (0, width - spectrum.shape[-1])) for spectrum in spectra])
