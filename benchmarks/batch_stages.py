"""What batching buys each stage of the forward pass on this machine's device, per item.

The batch policy is chosen per device and per stage from these figures: the front stages
(PL-BERT, the encoders, the duration and prosody predictors) and the iSTFTNet decoder are timed
item by item and as one padded pass over a batch of similar lengths, as the engine groups them.
A stage is worth batching where its per-item time falls.

Run: python -m benchmarks.batch_stages [--batch 8] [--tokens 100]
"""

import argparse
import time

import torch

from benchmarks.batch_equivalence import real_model, sample_jobs, wall
from engine.batching import decode_batch, decode_each, front_stages
from engine.voices import VoiceLibrary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="items per batch")
    parser.add_argument("--tokens", type=int, default=100, help="typical tokens per item (items vary by +-10%%)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per figure")
    args = parser.parse_args()
    model, settings = real_model()
    device = str(model.device)
    spread = max(1, args.tokens // 10)
    specs = [(args.tokens - spread + (2 * spread * i) // max(1, args.batch - 1), 1.0) for i in range(args.batch)]
    jobs, styles = sample_jobs(model, VoiceLibrary(settings.voices_dir), specs)
    tokens = [job.token_ids for job in jobs]
    alone = list(zip(jobs, styles, strict=True))

    with torch.inference_mode():
        front = front_stages(model, jobs, styles)
        timings = {
            "front": (
                wall(lambda: [front_stages(model, [job], [style]) for job, style in alone], device, args.repeats),
                wall(lambda: front_stages(model, jobs, styles), device, args.repeats),
            ),
            "decoder": (
                wall(lambda: decode_each(model.decoder, front, tokens), device, args.repeats),
                wall(lambda: decode_batch(model.decoder, *front.decoder_inputs, tokens), device, args.repeats),
            ),
        }

    audio_s = float(front.frame_counts.sum()) * 600 / 24_000
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}), {time.strftime('%Y-%m-%d')}; {args.batch} items of "
          f"{specs[0][0]}-{specs[-1][0]} tokens, {audio_s:.1f} s of audio; best of {args.repeats}")  # fmt: skip
    print(" stage    per item alone  per item batched  alone / batched")
    for stage, (alone_s, batched_s) in timings.items():
        per_alone, per_batched = alone_s / args.batch, batched_s / args.batch
        print(f" {stage:8s} {per_alone * 1000:11.1f} ms {per_batched * 1000:13.1f} ms {alone_s / batched_s:15.2f}x")
    total_alone = sum(alone for alone, _ in timings.values())
    best = sum(min(pair) for pair in timings.values())
    print(f" whole pass, each stage at its better setting: {audio_s / best:.1f} audio-s per s "
          f"(all item by item: {audio_s / total_alone:.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
