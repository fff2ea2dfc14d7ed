"""What a number needs to be reproduced: features that do not depend on the batch they were computed in, and the
protocol every evaluation records beside its numbers."""

import pytest
import torch

from gan_lightning.metrics import SampleMetrics
from gan_lightning.metrics.suite import network_digest
from gan_lightning.metrics.emoji_classifier import EmojiFeatures
from gan_lightning.metrics.mnist_classifier import MNISTFeatures
from helpers import FixedReference, ReplayGenerator


def in_batches(net, images, size):
    with torch.inference_mode():
        return torch.cat([net(batch) for batch in images.split(size)])


@pytest.mark.parametrize("network, shape", [(MNISTFeatures, (1, 28, 28)), (MNISTFeatures, (3, 28, 28)),
                                            (EmojiFeatures, (3, 32, 32)), (EmojiFeatures, (3, 64, 64))])
def test_features_do_not_depend_on_the_batch_size(network, shape):
    torch.manual_seed(0)
    images = torch.rand(64, *shape) * 2 - 1
    net = network().eval()
    one, seven, all_ = (in_batches(net, images, size) for size in (1, 7, 64))
    torch.testing.assert_close(seven, one, rtol=0, atol=1e-4)
    torch.testing.assert_close(all_, one, rtol=0, atol=1e-4)


def test_the_protocol_names_the_network_its_input_and_the_library_versions(tmp_path):
    import torchmetrics

    real = torch.rand(20, 1, 28, 28) * 2 - 1
    metrics = SampleMetrics(feature="mnist", metrics=["fid"])
    metrics.setup(FixedReference(real), tmp_path)
    protocol = metrics.protocol
    assert protocol["feature_network"] == network_digest(metrics.network) and "28x28" in protocol["network_input"]
    assert protocol["versions"] == {"torch": torch.__version__, "torchvision": protocol["versions"]["torchvision"],
                                    "torchmetrics": torchmetrics.__version__}
    values = metrics.evaluate(ReplayGenerator(real), seed=0)
    assert abs(float(values["fid"])) < 1e-3
