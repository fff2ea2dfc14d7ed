import pytest
import torch

from gan_lightning.errors import ConfigError
from gan_lightning.networks import MLPDiscriminator, MLPGenerator


def test_tutorial_networks_have_the_tutorials_shapes():
    # TF1 1-D tutorial: G 1 -> 4 (softplus) -> 1; D three tanh layers of 8.
    g = MLPGenerator(latent_dim=1, output_shape=[1], hidden=[4], activation="softplus")
    d = MLPDiscriminator(input_shape=[1], hidden=[8, 8, 8], activation="tanh")
    assert sum(p.numel() for p in g.parameters()) == (1 * 4 + 4) + (4 * 1 + 1)
    assert sum(p.numel() for p in d.parameters()) == (1 * 8 + 8) + 2 * (8 * 8 + 8) + (8 + 1)
    assert isinstance(g.net[1], torch.nn.Softplus)
    assert g(torch.randn(7, 1)).shape == (7, 1) and d(torch.randn(7, 1)).shape == (7,)
    # Keras 200-d tutorial: G 200 -> 256 -> 200.
    g200 = MLPGenerator(latent_dim=200, output_shape=[200], hidden=[256])
    assert [m.out_features for m in g200.modules() if isinstance(m, torch.nn.Linear)] == [256, 200]


def test_image_shaped_mlp():
    g = MLPGenerator(latent_dim=8, output_shape=[1, 28, 28], hidden=[32], output_activation="tanh")
    x = g(torch.randn(3, 8))
    assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    assert MLPDiscriminator(input_shape=[1, 28, 28], hidden=[16], dropout=0.3)(x).shape == (3,)


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "swishy"}, "unknown activation 'swishy'"),
    ({"hidden": [0]}, "hidden must hold positive sizes"),
    ({"output_shape": []}, "output_shape must hold positive sizes"),
])
def test_bad_network_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        MLPGenerator(**kwargs)
