import pytest

from engine import device

pytestmark = pytest.mark.unit


def test_auto_is_cpu_where_the_cuda_driver_sees_no_gpu(monkeypatch):
    monkeypatch.setattr(device, "cuda_device_count", lambda: 0)
    assert device.choose_device("auto") == "cpu"
    with pytest.raises(RuntimeError, match="KOKORO_DEVICE=cuda but the CUDA driver sees no GPU"):
        device.choose_device("cuda")


def test_auto_is_cuda_where_the_driver_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(device, "cuda_device_count", lambda: 2)
    monkeypatch.setattr(device, "torch_installed", lambda: True)
    assert device.choose_device("auto") == "cuda"
    assert device.choose_device("cuda:1") == "cuda:1"
    assert device.choose_device("cpu") == "cpu"


def test_a_gpu_is_left_alone_by_an_install_without_torch(monkeypatch):
    """The CPU install runs on onnxruntime even where the machine has a GPU."""
    monkeypatch.setattr(device, "cuda_device_count", lambda: 1)
    monkeypatch.setattr(device, "torch_installed", lambda: False)
    assert device.choose_device("auto") == "cpu"
    with pytest.raises(RuntimeError, match="KOKORO_DEVICE=cuda needs torch.*requirements-gpu.txt"):
        device.choose_device("cuda")


def test_the_driver_count_is_zero_without_a_driver(monkeypatch):
    """A host without the CUDA driver: the probe says so rather than fail (on any host, GPU or not)."""

    def no_driver(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(device.ctypes, "CDLL", no_driver)
    assert device.cuda_device_count() == 0


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("fpu avx2 avx512f avx512_vnni", True), ("fpu avx2 avx_vnni", True), ("fpu avx2 avx512f", False)],
)
def test_vnni_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert device.cpu_has_vnni(cpuinfo) is expected


def test_vnni_is_false_where_the_cpu_cannot_be_read(tmp_path):
    assert device.cpu_has_vnni(tmp_path / "missing") is False
