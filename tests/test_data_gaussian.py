import pytest
import torch
from torch.testing import assert_close

from gan_lightning.data import GaussianDataModule
from gan_lightning.errors import ConfigError


def test_batches_come_whole_with_the_right_shape_and_statistics():
    dm = GaussianDataModule(dim=3, mu=[1.0, -2.0, 4.0], sigma=[0.5, 1.0, 2.0], batch_size=500,
                            batches_per_step=4, epoch_length=3)
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and all(b.shape == (2000, 3) for b in batches)
    data = torch.cat(batches)
    assert_close(data.mean(0), torch.tensor([1.0, -2.0, 4.0]), atol=0.1, rtol=0)
    assert_close(data.std(0), torch.tensor([0.5, 1.0, 2.0]), atol=0.1, rtol=0)
    assert dm.val_data.shape == (2000, 3)
    val = torch.cat(list(dm.val_dataloader()))
    assert_close(val, dm.val_data)


def test_stream_is_repeatable_and_fresh_each_epoch():
    first, again = GaussianDataModule(seed=3), GaussianDataModule(seed=3)
    epoch0 = next(iter(first.train_dataloader()))
    assert_close(epoch0, next(iter(again.train_dataloader())))
    epoch1 = next(iter(first.train_dataloader()))
    assert not torch.equal(epoch0, epoch1)
    # The epoch counter is what a checkpoint carries, so a resumed run continues the stream.
    restored = GaussianDataModule(seed=3)
    restored.load_state_dict(first.state_dict())
    assert_close(next(iter(restored.train_dataloader())), next(iter(first.train_dataloader())))


def test_density_integrates_to_one():
    dm = GaussianDataModule(mu=4.0, sigma=0.5)
    x = torch.linspace(0, 8, 4001).unsqueeze(1)
    assert_close(torch.trapezoid(dm.density(x).squeeze(1), x.squeeze(1)), torch.tensor(1.0), atol=1e-4, rtol=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"sigma": 0.0}, "sigma must be > 0"),
    ({"sigma": -1.0}, "sigma must be > 0"),
    ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
    ({"dim": 2, "mu": [1.0, 2.0, 3.0]}, "mu has 3 values but dim is 2"),
])
def test_bad_settings_fail_where_they_enter(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GaussianDataModule(**kwargs)
