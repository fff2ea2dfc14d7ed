import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.networks import AnimeCritic, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gan_lightning.networks.dcgan import LatentProjection


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


@pytest.mark.parametrize("make, shape", [
    (lambda: MLPDiscriminator(input_shape=[2], hidden=[64, 64], spectral_norm=True), (2,)),
    (lambda: DCGANDiscriminator(image_size=28, channels=1, base_width=8, norm="none", spectral_norm=True), (1, 28, 28)),
    (lambda: AnimeCritic(base_width=4, spectral_norm=True), (3, 64, 64)),
], ids=["mlp", "dcgan", "anime"])
def test_spectral_norm_holds_every_layers_top_singular_value_near_one(make, shape, tmp_path):
    net = make()
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    with torch.no_grad():
        for m in layers:
            m.parametrizations.weight.original.mul_(50)  # the raw scale must not matter after normalization
    net.train()
    for _ in range(30):  # power iterations run in training-mode forward passes
        net(torch.randn(4, *shape))
    net.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert 0.9 < float(sigma) < 1.1, (m, float(sigma))
    # Checkpoints keep the parametrization: a fresh network loads the state and computes the same output.
    torch.save(net.state_dict(), tmp_path / "d.pt")
    again = make()
    again.load_state_dict(torch.load(tmp_path / "d.pt"))
    again.eval()
    x = torch.randn(3, *shape)
    assert_close(again(x), net(x))


def test_mlp_networks_work_in_units_standardized_by_the_data():
    torch.manual_seed(0)
    g = MLPGenerator(latent_dim=2, output_shape=[1], data_mean=4.0, data_std=0.5)
    g_plain = MLPGenerator(latent_dim=2, output_shape=[1])
    g_plain.load_state_dict(g.state_dict())  # same weights: the standardization is no parameter
    z = torch.randn(5, 2)
    assert_close(g(z), 4.0 + 0.5 * g_plain(z))
    d = MLPDiscriminator(input_shape=[1], data_mean=4.0, data_std=0.5)
    d_plain = MLPDiscriminator(input_shape=[1])
    d_plain.load_state_dict(d.state_dict())
    x = 4.0 + 0.5 * torch.randn(5, 1)
    assert_close(d(x), d_plain((x - 4.0) / 0.5))
    for bad in (0.0, -1.0):
        with pytest.raises(ConfigError, match=f"MLPDiscriminator: data_std must be > 0, got {bad}"):
            MLPDiscriminator(data_std=bad)


@pytest.mark.parametrize("make, shape, last", [
    (lambda: MLPDiscriminator(input_shape=[2], hidden=[8, 6], data_mean=1.0, data_std=2.0), (5, 2), lambda d: d.net[-1]),
    (lambda: DCGANDiscriminator(image_size=28, channels=3, base_width=4, norm="none"), (5, 3, 28, 28), lambda d: d.net[-1]),
    (lambda: AnimeCritic(base_width=4), (5, 3, 64, 64), lambda d: d.convs[-1]),
])
def test_discriminator_features_are_what_the_output_layer_reads(make, shape, last):
    """Feature matching compares ``features(x)``: the output must be the last layer applied to them."""
    torch.manual_seed(0)
    d, x = make(), torch.randn(*shape)
    assert_close(last(d)(d.features(x)).flatten(), d(x))
    assert_close(d.output(d.features(x)), d(x))  # what feature matching judges the generated batch with


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_dcgan_discriminator_hidden_layers_are_each_blocks_activation(norm):
    """``hidden_layers(x)``, which feature_matching_layers 'all' compares, holds each block after its
    LeakyReLU (no value below -0.2 x the block's pre-activation), first to last, the last ``features(x)``."""
    torch.manual_seed(0)
    d, x = DCGANDiscriminator(image_size=32, channels=3, base_width=4, norm=norm), torch.randn(5, 3, 32, 32)
    layers = d.hidden_layers(x)
    assert [tuple(h.shape) for h in layers] == [(5, 4, 16, 16), (5, 8, 8, 8), (5, 16, 4, 4)]
    assert_close(layers[-1], d.features(x))
    assert_close(layers[0], torch.nn.functional.leaky_relu(d.net[0](x), 0.2))


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_mlp_and_anime_discriminators_list_their_hidden_layers_too(spectral_norm):
    """Each block's output, after its activation (and dropout), first to last; the last is ``features(x)``
    (in eval mode: spectral norm's power iteration then leaves the weights alone between passes)."""
    torch.manual_seed(0)
    d = MLPDiscriminator(input_shape=[2], hidden=[8, 6], data_mean=1.0, data_std=2.0, dropout=0.5, spectral_norm=spectral_norm).eval()
    x = torch.randn(5, 2)
    layers = d.hidden_layers(x)
    assert [tuple(h.shape) for h in layers] == [(5, 8), (5, 6)]
    assert_close(layers[0], torch.nn.functional.leaky_relu(d.net[0]((x - 1.0) / 2.0), 0.2))
    assert_close(layers[-1], d.features(x))
    critic, images = AnimeCritic(base_width=4, spectral_norm=spectral_norm).eval(), torch.randn(2, 3, 64, 64)
    layers = critic.hidden_layers(images)
    assert [tuple(h.shape) for h in layers] == [(2, 4, 32, 32), (2, 8, 16, 16), (2, 16, 8, 8), (2, 32 * 16)]
    assert_close(layers[0], torch.nn.functional.leaky_relu(critic.convs[0](images), 0.2))
    assert_close(layers[-1], critic.features(images))


def test_the_generators_first_layer_computes_what_a_transposed_convolution_does():
    g = DCGANGenerator(latent_dim=10, image_size=28, channels=3, base_width=8)
    first = g.net[0]
    assert isinstance(first, LatentProjection) and list(g.state_dict())[0] == "net.0.weight"  # checkpoint keys as before
    reference = torch.nn.ConvTranspose2d(10, 16, 7, 1, 0, bias=False)
    reference.weight.data.copy_(first.weight.data)
    z = torch.randn(5, 10, 1, 1)
    out, expected = first(z), reference(z)
    assert out.shape == (5, 16, 7, 7)
    assert_close(out, expected)
    out.square().sum().backward()
    expected.square().sum().backward()
    assert_close(first.weight.grad, reference.weight.grad)
    # Under the model's channels-last layout (weights converted by Module.to) the numbers stay the same.
    assert_close(first.to(memory_format=torch.channels_last)(z), expected.detach())
    with pytest.raises(ValueError, match=r"expected noise of shape \[B, 10, 1, 1\], got \[5, 10, 2, 2\]"):
        first(torch.randn(5, 10, 2, 2))


def test_minibatch_std_lets_the_discriminator_see_a_batch_of_copies():
    """With ``minibatch_std`` an image's score depends on the other images of its group of 4 (a copied batch scores
    otherwise than a varied one); without it, and in another group, it does not."""
    torch.manual_seed(0)
    images = torch.randn(8, 3, 32, 32)
    copies = images.clone()
    copies[4] = copies[0]  # image 0's group is images 0, 2, 4, 6 (image i in group i % 2)
    for minibatch_std in (True, False):
        d = DCGANDiscriminator(image_size=32, channels=3, base_width=8, norm="none", minibatch_std=minibatch_std)
        with torch.no_grad():
            varied, copied = d(images), d(copies)
        assert (varied[0] != copied[0]).item() == minibatch_std  # image 0 is the same in both batches
        assert_close(varied[1::2], copied[1::2])  # the other group's images and scores are the same
    std = DCGANDiscriminator(image_size=32, channels=3, base_width=8, minibatch_std=True).features(images)
    assert std.shape == (8, 32, 4, 4)  # the extra channel is the output layer's, not a feature
