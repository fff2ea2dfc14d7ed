"""CIFAR10DataModule on a tiny archive in CIFAR-10's own format (pickled batches) made in the test."""

import pickle

import numpy as np
import pytest
import torch

from gan_lightning.data import CIFAR10DataModule
from gan_lightning.errors import ConfigError
from images import write_cifar


def test_reads_the_five_training_batches_in_order_with_their_labels(tmp_path):
    write_cifar(tmp_path)
    data = CIFAR10DataModule(data_dir=str(tmp_path), batch_size=8, val_size=12, labels=True)
    images, labels = data.load()
    assert images.shape == (60, 3, 32, 32) and images.dtype == torch.uint8
    assert images[:, 1, 0, 0].tolist() == [b for b in range(5) for _ in range(12)]  # batches 1..5 in order
    assert torch.equal(images[:, 0, 0, 0].long(), labels * 20)  # each image keeps its own label
    test = CIFAR10DataModule(data_dir=str(tmp_path), split="test", val_size=0).load()[0]
    assert test.shape == (12, 3, 32, 32) and (test[:, 1] == 5).all()
    data.setup("fit")
    x, y = data.on_after_batch_transfer(next(iter(data.train_dataloader())), 0)
    assert x.shape == (8, 3, 32, 32) and len(data.val_images) == 12
    assert x.min() >= -1 and x.max() <= 1 and y.dtype == torch.int64 and data.num_classes == 10
    assert data.class_names[0] == "airplane" and data.state_dict()["class_names"][9] == "truck"


def test_missing_files_and_bad_arguments_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"no data_batch_1, .* under .*cifar-10-batches-py; set --data.init_args.download true"):
        CIFAR10DataModule(data_dir=str(tmp_path)).check_data()
    with pytest.raises(ConfigError, match="split must be 'train' or 'test', got 'val'"):
        CIFAR10DataModule(split="val")
    folder = write_cifar(tmp_path)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({"data": np.zeros((4, 100), dtype=np.uint8), "labels": [0] * 4}, f)
    with pytest.raises(ConfigError, match=r"data_batch_3 holds data of shape \(4, 100\), expected \[N, 3072\]"):
        CIFAR10DataModule(data_dir=str(tmp_path)).load()
