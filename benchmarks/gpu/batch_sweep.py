"""Batched synthesis on this machine's device, by batch size: the ceiling adaptive batching can reach.

For each batch size, items of about `--tokens` tokens (±10%) are grouped as the synthesizer groups
them (padded frames per pass bounded by `--max-batch-frames`), and printed are: the front stages'
and the decoder's time per item, each as padded passes over those groups; audio-seconds per second
of `TorchBackend.render_many`, the very call a synthesizer makes for one batch (PCM16 on the host
included); and the device memory that call peaked at. The server's throughput is measured against
the best of these (benchmarks/gpu/server_load.py).

Run: python -m benchmarks.gpu.batch_sweep [--batches 1 4 16 32 64] [--tokens 100] [--max-batch-frames N]
"""

import argparse
import time

import torch
from kokoro.model import KModel

from benchmarks.batch_equivalence import real_model, sample_jobs, wall
from engine.batching import decode_batch, front_stages, group_by_length
from engine.torch_backend import TorchBackend
from engine.voices import VoiceLibrary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 32, 64], help="batch sizes")
    parser.add_argument("--tokens", type=int, default=100, help="typical tokens per item (items vary by +-10%%)")
    parser.add_argument("--max-batch-frames", type=int, default=None, help="default: KOKORO_MAX_BATCH_FRAMES")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per figure")
    args = parser.parse_args()
    model, settings = real_model()
    device = str(model.device)
    max_frames = args.max_batch_frames or settings.max_batch_frames
    voices = VoiceLibrary(settings.voices_dir)
    backend = TorchBackend(model, "pypi", voices, "all", max_frames)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads"
    print(f"[batch sweep] device {device} ({name}), torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}; "
          f"items of {args.tokens} tokens +-10%, max_batch_frames {max_frames}, best of {args.repeats}")  # fmt: skip
    print(" batch passes  frames/pass  front ms/item  decoder ms/item  render_many audio-s/s  peak GiB")
    for size in args.batches:
        print(row(model, backend, voices, size, args.tokens, max_frames, args.repeats))


def row(
    model: KModel, backend: TorchBackend, voices: VoiceLibrary, size: int, tokens: int, max_frames: int, repeats: int
) -> str:
    device = str(model.device)
    cuda = device.startswith("cuda")
    spread = max(1, tokens // 10)
    specs = [(tokens - spread + (2 * spread * i) // max(1, size - 1), 1.0) for i in range(size)]
    jobs, styles = sample_jobs(model, voices, specs)
    groups = group_by_length(jobs, max_frames)
    batches = [([jobs[i] for i in group], [styles[i] for i in group]) for group in groups]
    with torch.inference_mode():
        fronts = [front_stages(model, *batch) for batch in batches]
        front_s = wall(lambda: [front_stages(model, *batch) for batch in batches], device, repeats)
        decoder_s = wall(
            lambda: [
                decode_batch(model.decoder, *front.decoder_inputs, [job.token_ids for job in batch_jobs])
                for front, (batch_jobs, _) in zip(fronts, batches, strict=True)
            ],
            device,
            repeats,
        )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    render_s = wall(lambda: backend.render_many(jobs), device, repeats)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    frames = sum(int(front.frame_counts.sum()) for front in fronts)
    audio_s = frames * 600 / 24_000
    return (f" {size:5d} {len(groups):6d} {frames / len(groups):12.0f} {front_s / size * 1000:14.2f}"
            f" {decoder_s / size * 1000:16.2f} {audio_s / render_s:22.1f} {peak:9.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
