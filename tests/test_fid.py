import socket
import urllib.error

import pytest
import torch

from gan_lightning.errors import ConfigError
from gan_lightning.metrics import FID
from gan_lightning.metrics.fid import to_inception_input
from images import SmallFeatures, digit_images


def as_model_images(array):
    return torch.from_numpy(array).unsqueeze(1).float() / 127.5 - 1


def fid_between(fid, real, fake):
    fid.update(real, real=True)
    fid.update(fake, real=False)
    return float(fid.compute()["val/fid"])


def test_fid_with_a_small_feature_net_behaves_as_a_distance():
    real = as_model_images(digit_images(400, seed=0)[0])
    other = as_model_images(digit_images(400, seed=5)[0])  # same distribution, other draws
    g = torch.Generator().manual_seed(0)
    noisy = (other + 0.5 * torch.randn(other.shape, generator=g)).clamp(-1, 1)
    shifted = torch.roll(other, shifts=(6, 6), dims=(2, 3))
    noise = torch.rand(other.shape, generator=g) * 2 - 1
    fid = FID(feature=SmallFeatures(), num_samples=400)
    fid.build()
    same = fid_between(fid, real, real)
    scores = {name: fid_between(fid, real, x) for name, x in
              [("other", other), ("shifted", shifted), ("noisy", noisy), ("noise", noise)]}
    assert abs(same) < 1e-3
    assert scores["other"] < scores["shifted"] and scores["other"] < scores["noisy"]
    assert max(scores["shifted"], scores["noisy"]) < scores["noise"], scores


def test_grayscale_images_reach_inception_as_uint8_rgb():
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3)
    out = to_inception_input(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 1, 3)
    assert out[0, :, 0].tolist() == [[0, 128, 255]] * 3


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_fid_from_a_local_inception_weights_file_without_network(tmp_path, monkeypatch, no_network):
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    # The torch-fidelity architecture with freshly initialised weights, written to a file.
    with monkeypatch.context() as m:
        m.setattr(inception, "load_state_dict_from_url", lambda *a, **k: {})
        m.setattr(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        net = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(net.state_dict(), path)

    fid = FID(feature=2048, weights_path=str(path), num_samples=6)
    fid.build()
    real = as_model_images(digit_images(6, seed=0)[0])
    fake = as_model_images(digit_images(6, seed=1)[0])
    value = fid_between(fid, real, fake)
    assert torch.isfinite(torch.tensor(value)) and value > 0


def test_missing_inception_weights_stop_with_one_line(monkeypatch, no_network):
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("no internet")
    monkeypatch.setattr(inception, "load_state_dict_from_url", unreachable)
    with pytest.raises(ConfigError, match="set fid.init_args.weights_path to a local weights-inception-2015-12-05-6726825d.pth"):
        FID().build()
    with pytest.raises(ConfigError, match="no weights file at /nowhere.pth"):
        FID(weights_path="/nowhere.pth").build()
