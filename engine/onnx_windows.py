"""The export cut in two, so that a sentence's audio can be decoded a window of frames at a time.

Kokoro-82M's work on a chunk is a front (PL-BERT, the text encoder, the duration, pitch and energy
predictors, and the decoder's harmonic source) and a decoder (the iSTFTNet vocoder), which takes
most of the time. `cut_graphs` cuts the prepared graph (engine.onnx_backend) between them with
onnx's own extractor: the front's outputs are the decoder's inputs, so running one after the
other gives the whole graph's samples bit for bit.

The cut lies after the harmonic source, whose phase is a running sum of the pitch over the whole
chunk: it is made once for the chunk, and a window of the decoder gets its slice. The export has
no random ops (its source has no noise), so a window's audio is a function of its inputs alone.
The decoder is not local, though: its AdaIN layers normalise over the time they are given and
its int8 activations are quantised with the range of the whole tensor, so a window decoded with
`context` frames either side is near the whole decode, not equal to it
(benchmarks/windowed_decode.py measures how near, and what a listener would score).
"""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import write_whole
from .onnx_graph import DURATIONS_TENSOR
from .timing import SAMPLES_PER_FRAME

log = logging.getLogger(__name__)

#: the aligned text features, [1, 512, frames]
ALIGNED_TENSOR = "/encoder/MatMul_1_output_0"
#: the predicted pitch and energy curves, [1, 2 * frames]
PITCH_TENSOR = "/encoder/Reshape_output_0"
ENERGY_TENSOR = "/encoder/Reshape_1_output_0"
#: the harmonic source at the audio's rate, [1, 600 * frames]
SOURCE_TENSOR = "/decoder/decoder/generator/Squeeze_output_0"
FRONT_OUTPUTS = (DURATIONS_TENSOR, ALIGNED_TENSOR, PITCH_TENSOR, ENERGY_TENSOR, SOURCE_TENSOR)
DECODER_INPUTS = ("style", ALIGNED_TENSOR, PITCH_TENSOR, ENERGY_TENSOR, SOURCE_TENSOR)
#: pitch and energy points per duration frame
CURVE_PER_FRAME = 2


@dataclass(frozen=True)
class Front:
    """The front's outputs for one chunk: everything the decoder needs, for all its frames."""

    durations: np.ndarray
    aligned: np.ndarray
    pitch: np.ndarray
    energy: np.ndarray
    source: np.ndarray
    style: np.ndarray

    @property
    def frame_count(self) -> int:
        return self.aligned.shape[2]

    def window(self, start: int, end: int) -> dict[str, np.ndarray]:
        """The decoder's inputs for frames [start, end)."""
        curve = slice(CURVE_PER_FRAME * start, CURVE_PER_FRAME * end)
        return {
            "style": self.style,
            ALIGNED_TENSOR: np.ascontiguousarray(self.aligned[:, :, start:end]),
            PITCH_TENSOR: np.ascontiguousarray(self.pitch[:, curve]),
            ENERGY_TENSOR: np.ascontiguousarray(self.energy[:, curve]),
            SOURCE_TENSOR: np.ascontiguousarray(self.source[:, SAMPLES_PER_FRAME * start : SAMPLES_PER_FRAME * end]),
        }


def cut_graphs(graph: Path) -> tuple[Path, Path]:
    """The front and the decoder of `graph`, cut once and cached beside it."""
    version = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    front, decoder = (graph.with_name(f"{graph.stem}.{part}-{version}.onnx") for part in ("front", "decoder"))
    if not (front.is_file() and decoder.is_file()):
        log.info("cutting %s into front and decoder (once)", graph.name)
        write_cut_graphs(graph, front, decoder)
    return front, decoder


def write_cut_graphs(graph: Path, front: Path, decoder: Path) -> None:
    import onnx
    from onnx.utils import Extractor

    model = onnx.load(graph)
    # the extractor types its new inputs and outputs from the graph's value_info: the export has
    # an entry for each of these tensors; a graph rewritten since may not
    known = {value.name for value in [*model.graph.value_info, *model.graph.output]}
    model.graph.value_info.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        for name in FRONT_OUTPUTS[1:]
        if name not in known
    )
    extractor = Extractor(model)
    inputs = [value.name for value in extractor.graph.input]
    front_model = extractor.extract_model(inputs, list(FRONT_OUTPUTS))
    decoder_model = extractor.extract_model(list(DECODER_INPUTS), [extractor.graph.output[0].name])
    write_whole(front, lambda partial: onnx.save(front_model, partial))
    write_whole(decoder, lambda partial: onnx.save(decoder_model, partial))
