"""Shared fixtures. The tiny model has random weights: it tests shapes and arithmetic, never speech."""

import copy

import pytest
import torch
from kokoro.model import KModel

from engine.config import kokoro_config
from engine.model import empty_kmodel

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
def tiny_model() -> KModel:
    """RANDOM WEIGHTS, for unit tests only: a KModel with Kokoro's structure and tiny sizes."""
    torch.manual_seed(0)
    model = empty_kmodel(tiny_config()).eval()
    # Untrained, every token would last ~25 frames; sigmoid(-2.5) * 50 outputs ~ 4 frames, with
    # some spread from the scaled-up weights, keeps the audio short and the tests fast.
    projection = model.predictor.duration_proj.linear_layer
    with torch.no_grad():
        projection.weight.mul_(4.0)
        projection.bias.fill_(-2.5)
    return model
