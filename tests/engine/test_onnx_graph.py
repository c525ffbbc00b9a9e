import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.device import cpu_has_vnni
from engine.onnx_graph import convs_as_matmuls, with_durations

pytestmark = pytest.mark.unit

needs_vnni = pytest.mark.skipif(not cpu_has_vnni(), reason="the rewrite is exact, and used, only on CPUs with VNNI")

#: (out, in, taps, dilation, stride, group): Kokoro's kinds of convolution, and two it must leave alone
CONVS = [
    (16, 8, 1, 1, 1, 1),
    (16, 16, 3, 1, 1, 1),
    (16, 16, 7, 3, 1, 1),
    (16, 16, 11, 5, 1, 1),
    (16, 16, 3, 1, 2, 1),
    (16, 8, 3, 1, 1, 2),
]


def conv_chain(rng: np.random.Generator, weight_zero_point: int = 76) -> onnx.ModelProto:
    """float in → (DynamicQuantizeLinear → ConvInteger → Cast) per conv, as the export quantises them."""
    nodes, weights, outputs = [], [], []
    for index, (out_channels, in_channels, taps, dilation, stride, group) in enumerate(CONVS):
        signal = f"signal{in_channels}"
        quantised, scale, zero_point = f"q{index}", f"scale{index}", f"zp{index}"
        nodes.append(helper.make_node("DynamicQuantizeLinear", [signal], [quantised, scale, zero_point]))
        weight = rng.integers(0, 256, (out_channels, in_channels // group, taps), dtype=np.uint8)
        weight[0, 0, 0], weight[-1, -1, -1] = 0, 255
        weights += [
            numpy_helper.from_array(weight, f"w{index}"),
            numpy_helper.from_array(np.array(weight_zero_point, np.uint8), f"wzp{index}"),
        ]
        pad = (taps - 1) * dilation // 2
        attributes = dict(kernel_shape=[taps], dilations=[dilation], strides=[stride], group=group, pads=[pad, pad])
        nodes.append(
            helper.make_node(
                "ConvInteger", [quantised, f"w{index}", zero_point, f"wzp{index}"], [f"acc{index}"], **attributes
            )
        )
        nodes.append(helper.make_node("Cast", [f"acc{index}"], [f"out{index}"], to=TensorProto.FLOAT))
        outputs.append(helper.make_tensor_value_info(f"out{index}", TensorProto.FLOAT, None))
    inputs = [helper.make_tensor_value_info(f"signal{c}", TensorProto.FLOAT, [1, c, None]) for c in (8, 16)]
    graph = helper.make_graph(nodes, "convs", inputs, outputs, weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def test_only_same_padded_stride_one_ungrouped_convs_are_rewritten():
    model = conv_chain(np.random.default_rng(0))
    assert convs_as_matmuls(model) == 4
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("ConvInteger") == 2
    assert kinds.count("MatMulInteger") == 4
    names = {weight.name for weight in model.graph.initializer}
    assert {"w4", "w5"} <= names, "the convs left alone keep their weights"
    assert not names & {"w0", "w1", "w2", "w3"}, "the rewritten convs' unsigned weights are dropped"


@needs_vnni
@pytest.mark.parametrize("weight_zero_point", [0, 76, 128, 255])
@pytest.mark.parametrize("frames", [1, 5, 400])
def test_rewritten_convs_give_the_same_integers(weight_zero_point: int, frames: int):
    rng = np.random.default_rng(frames + weight_zero_point)
    model = conv_chain(rng, weight_zero_point)
    # wide, lopsided activations quantise to the whole 0..255 range: the saturation a non-VNNI kernel would hit
    feed = {f"signal{c}": (rng.standard_normal((1, c, frames)) * 40 + 7).astype(np.float32) for c in (8, 16)}
    expected = run(model, feed)
    convs_as_matmuls(model)
    for got, want in zip(run(model, feed), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_durations_become_a_second_output():
    tokens = helper.make_tensor_value_info("tokens", TensorProto.INT64, [None])
    audio = helper.make_tensor_value_info("audio", TensorProto.INT64, [None])
    nodes = [
        helper.make_node("Identity", ["tokens"], ["/encoder/Cast_output_0"]),
        helper.make_node("Identity", ["/encoder/Cast_output_0"], ["audio"]),
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [tokens], [audio]))
    with_durations(model)
    assert [output.name for output in model.graph.output] == ["audio", "/encoder/Cast_output_0"]


def test_a_graph_without_durations_is_refused():
    model = conv_chain(np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="not Kokoro-82M"):
        with_durations(model)
