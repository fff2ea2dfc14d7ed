"""The training step reads nothing back from the device between logging intervals.

On a GPU every host read of a device tensor (``bool()``, ``.item()``, ``.tolist()``, ...) waits for all
queued kernels, idling the GPU between steps. On the CPU the test counts the reads the package's own
code makes while Lightning runs training batches, by wrapping the reading methods of ``torch.Tensor``.
"""

import sys
from pathlib import Path

import lightning as L
import pytest
import torch

import gan_lightning
from gan_lightning.data import GaussianMixtureDataModule
from gan_lightning.ema import EMA
from gan_lightning.models import NSGAN, WGAN, WGANGP
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from gan_lightning.regularizers import R1, GradientPenalty

PACKAGE = str(Path(gan_lightning.__file__).parent)
READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy")


class CountHostReads(L.Callback):
    """Counts the reads of tensors that the package's code makes inside training batches."""

    def __init__(self):
        self.count, self.inside = 0, False

    def on_train_batch_start(self, *args):
        self.inside = True

    def on_train_batch_end(self, *args):
        self.inside = False


def counting(original, counter):
    def read(tensor, *args, **kwargs):
        if counter.inside and sys._getframe(1).f_code.co_filename.startswith(PACKAGE):
            counter.count += 1
        return original(tensor, *args, **kwargs)
    return read


MODELS = {
    "NS-GAN, R1, EMA": lambda g, d: NSGAN(g, d, regularizers=[R1(0.1)], ema=EMA(0.99)),
    "WGAN-GP, 5 critic steps": lambda g, d: WGANGP(g, d, n_critic=5, regularizers=[GradientPenalty(10.0)]),
    "WGAN, clipping": lambda g, d: WGAN(g, d, n_critic=5),
}


@pytest.mark.parametrize("name", MODELS)
def test_training_reads_the_device_once_per_logging_interval(name, monkeypatch):
    counter = CountHostReads()
    for method in READS:
        monkeypatch.setattr(torch.Tensor, method, counting(getattr(torch.Tensor, method), counter))
    L.seed_everything(0)
    model = MODELS[name](MLPGenerator(latent_dim=4, output_shape=[2], hidden=[16]),
                         MLPDiscriminator(input_shape=[2], hidden=[16]))
    data = GaussianMixtureDataModule(batch_size=16, batches_per_step=model.n_critic, epoch_length=60, val_size=64)
    trainer = L.Trainer(max_epochs=1, log_every_n_steps=20, callbacks=[counter], logger=False, limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    assert model.iteration == 60
    # One read per logging interval: the divergence check of the 20 iterations it closes (a read per
    # iteration before; the check at the end of fit comes after the last batch).
    assert counter.count == 60 // 20, counter.count


def test_a_diverged_step_between_logs_is_named_at_the_next_check():
    from gan_lightning.divergence import DivergenceWatch
    from gan_lightning.errors import TrainingDiverged

    watch = DivergenceWatch()
    for i, d_loss in enumerate([0.5, 0.4, float("nan"), float("inf")]):
        watch.watch(i, {"train/d_loss": torch.tensor(d_loss), "train/g_loss": torch.tensor(1.0)})
    with pytest.raises(TrainingDiverged, match=r"diverged at iteration 2: train/d_loss=nan\. The last good checkpoint "
                                               r"is runs/x/last.ckpt"):
        watch.check("NSGAN", "runs/x/last.ckpt")
    watch.check("NSGAN", "-")  # the window was consumed: nothing left to refuse
