"""Shared fixtures, and the test tiers.

Every test belongs to one tier, marked on its module (or, where a module mixes tiers, on each
test): `pytest -m unit` and the others in README.md run one. A module none of whose tiers `-m`
selects is not even imported, so the unit tier never imports torch (the CPU install has none).
A run of several tiers runs them cheapest first, each tier's tests in their usual order: a
broken unit fails in seconds, and the tests on the live server run one after another, so that
one server serves them all and is up only while they run.

The tiny model has random weights: it tests shapes and arithmetic, never speech.
"""

import ast
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest.mark.expression import Expression

from engine.config import kokoro_config
from tests.live import serve_for_tests

if TYPE_CHECKING:
    from kokoro.model import KModel

#: pyproject.toml's markers, cheapest first
TIERS = ("unit", "torch", "http", "weights", "server", "browser", "image")


def declared_tiers(module: Path) -> set[str]:
    """The tiers a test module's source marks, on the module or on its tests, read without importing it."""
    marks = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mark"
            and node.attr in TIERS
        ):
            marks.add(node.attr)
    return marks


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    expression = config.getoption("markexpr")
    if not expression or not (collection_path.name.startswith("test_") and collection_path.suffix == ".py"):
        return None
    selects = Expression.compile(expression).evaluate
    tiers = declared_tiers(collection_path)
    if not tiers or any(selects(lambda name, tier=tier, **_: name == tier) for tier in tiers):
        return None  # a module that marks no tier is collected, and refused below
    return True


def tier_of(item: pytest.Item) -> str:
    tiers = [mark.name for mark in item.iter_markers() if mark.name in TIERS]
    if len(tiers) != 1:
        raise pytest.UsageError(f"{item.nodeid} is marked {tiers or 'with no tier'}: mark one of {', '.join(TIERS)}")
    return tiers[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: TIERS.index(tier_of(item)))  # stable: each tier keeps its order


#: the live server's port when it is free (another is taken when it is not)
PREFERRED_PORT = 8123


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[str]:
    """A live `./serve.sh` (the README's start command) with the real weights: one for the
    deployment, server and browser tiers, which run one after another."""
    yield from serve_for_tests(tmp_path_factory, PREFERRED_PORT)


#: Kokoro-82M's architecture shrunk where kokoro lets it: a small PL-BERT, one prosody layer,
#: one resblock. style_dim stays 128 (KModel splits the voice vector at 128), hidden_dim and the
#: generator's channels stay 512 (kokoro's Decoder hard-codes them), the iSTFTNet rates stay so a
#: frame is 600 samples.
TINY_OVERRIDES = {
    "n_layer": 1,
    "plbert": {
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 512,
        "num_hidden_layers": 1,
        "dropout": 0.1,
    },
    "istftnet": {
        "upsample_kernel_sizes": [20, 12],
        "upsample_rates": [10, 6],
        "gen_istft_hop_size": 5,
        "gen_istft_n_fft": 20,
        "resblock_dilation_sizes": [[1, 3, 5]],
        "resblock_kernel_sizes": [3],
        "upsample_initial_channel": 512,
    },
}


def tiny_config() -> dict:
    config = copy.deepcopy(kokoro_config())
    config.update(copy.deepcopy(TINY_OVERRIDES))
    return config


@pytest.fixture(scope="session")
def tiny_model() -> "KModel":
    """RANDOM WEIGHTS, for unit tests only: a KModel with Kokoro's structure and tiny sizes."""
    import torch

    from engine.model import empty_kmodel

    torch.manual_seed(0)
    model = empty_kmodel(tiny_config()).eval()
    # Untrained, every token would last ~25 frames; sigmoid(-2.5) * 50 outputs ~ 4 frames, with
    # some spread from the scaled-up weights, keeps the audio short and the tests fast.
    projection = model.predictor.duration_proj.linear_layer
    with torch.no_grad():
        projection.weight.mul_(4.0)
        projection.bias.fill_(-2.5)
    return model
