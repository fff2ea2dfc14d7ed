import socket
import urllib.error

import pytest
import torch

from gan_lightning.errors import ConfigError
from gan_lightning.metrics import InceptionFeatures, SampleMetrics
from helpers import FixedReference, ReplayGenerator
from images import digit_images


def as_model_images(array):
    return torch.from_numpy(array).unsqueeze(1).float() / 127.5 - 1


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

    real = as_model_images(digit_images(6, seed=0)[0])
    fake = as_model_images(digit_images(6, seed=1)[0])
    net = InceptionFeatures(2048, weights_path=str(path))
    features = net(real)
    assert features.shape == (6, 2048) and torch.isfinite(features).all()
    assert net.digest.startswith("inception2048-")
    metrics = SampleMetrics(feature=2048, weights_path=str(path), metrics=["fid"])
    metrics.setup(FixedReference(real), tmp_path)
    assert metrics.protocol["feature_network"] == net.digest
    torch.testing.assert_close(metrics.reference["features"], features)
    fid = float(metrics.evaluate(ReplayGenerator(fake), seed=0)["fid"])
    assert torch.isfinite(torch.tensor(fid)) and fid > 0
    # The Inception Score from the same pass's ImageNet logits (1008 classes): finite, at least 1.
    scored = SampleMetrics(feature=2048, weights_path=str(path), metrics=["is"])
    scored.setup(FixedReference(real), tmp_path)
    assert scored.reference["logits"].shape == (0, 1008)  # the reals' logits are not kept: IS reads the fakes' only
    assert float(scored.evaluate(ReplayGenerator(fake), seed=0)["is"]) >= 1.0


def test_missing_inception_weights_stop_with_one_line(monkeypatch, no_network):
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("no internet")
    monkeypatch.setattr(inception, "load_state_dict_from_url", unreachable)
    with pytest.raises(ConfigError, match="set metrics.init_args.weights_path to a local weights-inception-2015-12-05-6726825d.pth"):
        SampleMetrics(feature=2048).build_network()
    with pytest.raises(ConfigError, match="no weights file at /nowhere.pth"):
        SampleMetrics(feature=2048, weights_path="/nowhere.pth").build_network()
