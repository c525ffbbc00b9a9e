"""Which device the model runs on, decided once at start without importing torch.

Every BentoML process imports the service module, and the batching it declares depends on the
device, so each must reach the same answer; importing torch only to ask would cost the HTTP face
and the CPU synthesizers 220 MB each. The CUDA driver answers the same question: it sees the
devices CUDA_VISIBLE_DEVICES leaves, as torch does. Torch itself checks again where it runs the
model (engine.torch_backend).

The CPU install (requirements.txt) has no torch: there a GPU is left alone, since only torch runs
the model on one, and an explicit CUDA device says what to install.
"""

import ctypes
import importlib.util
from pathlib import Path

#: CPU flags (Linux's names) whose int8 dot product accumulates in int32 without saturating
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})


def cuda_device_count() -> int:
    """GPUs the CUDA driver sees; 0 where there is no driver."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def torch_installed() -> bool:
    """Found without importing it."""
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:
        return False


def choose_device(requested: str) -> str:
    """'auto' means CUDA where a GPU is visible and torch is installed, else CPU; an explicit
    'cuda' without either is an error."""
    if requested == "auto":
        return "cuda" if cuda_device_count() and torch_installed() else "cpu"
    if requested.startswith("cuda") and not cuda_device_count():
        raise RuntimeError(f"KOKORO_DEVICE={requested} but the CUDA driver sees no GPU; use 'cpu' or 'auto'")
    if requested.startswith("cuda") and not torch_installed():
        raise RuntimeError(
            f"KOKORO_DEVICE={requested} needs torch, which this install lacks: pip install -r requirements-gpu.txt"
        )
    return requested


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether onnxruntime's u8×s8 products are exact here (engine.onnx_graph); False where unknown."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return not VNNI_FLAGS.isdisjoint(flags)
