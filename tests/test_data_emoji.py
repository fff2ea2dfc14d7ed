"""EmojiDataModule on npm packages of the emoji-datasource layout made in the test."""

import os
import stat

import numpy as np
import pytest
import torch

import gan_lightning.data.emoji as emoji
from gan_lightning.data import EmojiDataModule
from gan_lightning.errors import ConfigError
from images import EMOJI_CATEGORIES, emoji_drawing, png_bytes, write_emoji_packages


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("emoji")
    catalogue = write_emoji_packages(root, n=27)
    return root, catalogue


def loaded(data_dir, **kwargs):
    dm = EmojiDataModule(data_dir=str(data_dir), **{"batch_size": 4, "val_size": 8, **kwargs})
    dm.setup("fit")
    return dm


def test_reads_both_vendors_from_the_tarballs_on_white_without_components(packages):
    root, catalogue = packages
    dm = loaded(root, val_size=0)
    assert dm.train_images.shape == (2 * 27, 3, 32, 32) and dm.train_images.dtype == torch.uint8  # no Component
    first = emoji.decode(png_bytes(emoji_drawing(0, 0, "google")), 32, (255, 255, 255))
    assert (torch.from_numpy(first.copy()) == dm.load_images()[0]).all()  # google's first, as the catalogue lists it
    assert (dm.load_images()[0][:, 0, 0] == 255).all()  # a transparent corner on white
    on_black = EmojiDataModule(data_dir=str(root), background="black", val_size=0, batch_size=4).load_images()
    assert (on_black[0][:, 0, 0] == 0).all()
    batch = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert batch.shape == (4, 3, 32, 32) and batch.min() >= -1 and batch.max() <= 1


def test_resizing_is_antialiased_and_64_keeps_the_drawing(packages):
    root, _ = packages
    full = EmojiDataModule(data_dir=str(root), image_size=64, val_size=0, batch_size=4).load_images().float()
    small = EmojiDataModule(data_dir=str(root), image_size=16, val_size=0, batch_size=4).load_images().float()
    assert full.shape[-1] == 64 and small.shape[-1] == 16
    # Antialiased: a 16-pixel image is close to the 4x4 block means of the 64-pixel one (nearest-neighbour
    # resizing would pick single pixels and miss thin outlines).
    blocks = torch.nn.functional.avg_pool2d(full, 4)
    assert (small - blocks).abs().mean() < 0.5 * (small - full[..., 2::4, 2::4]).abs().mean()


def test_the_split_holds_out_whole_emoji_in_both_styles(packages):
    root, _ = packages
    for skin_tones in (False, True):
        dm = EmojiDataModule(data_dir=str(root), val_size=9, batch_size=4, skin_tones=skin_tones)
        images = dm.load_images()
        ((train, held),) = dm.split(torch.arange(len(images)))
        codes = np.array(dm.emoji_codes)
        held_set, train_set = set(codes[held.numpy()]), set(codes[train.numpy()])
        assert len(held) == 9 and not held_set & train_set
        # Only the emoji at the boundary can lose images (one of its styles or tones); none is lost otherwise.
        assert len(train) + len(held) >= len(images) - (11 if skin_tones else 1)
    again = EmojiDataModule(data_dir=str(root), val_size=9, batch_size=4, skin_tones=True)
    assert torch.equal(again.split(again.load_images())[0][1], dm.split(images)[0][1])  # seeded
    other = EmojiDataModule(data_dir=str(root), val_size=9, batch_size=4, skin_tones=True, seed=1)
    assert not torch.equal(other.split(other.load_images())[0][1], dm.split(images)[0][1])


def test_skin_tones_add_the_variants(packages):
    root, catalogue = packages
    tones = sum(len(e.get("skin_variations", {})) for e in catalogue if e["category"] != "Component")
    assert tones > 0
    assert len(loaded(root, val_size=0, skin_tones=True).train_images) == 2 * (27 + tones)


def test_labels_are_the_categories_and_their_names_go_into_checkpoints(packages):
    root, catalogue = packages
    dm = loaded(root, val_size=0, labels=True)
    assert dm.num_classes == 9 and dm.class_names == list(EMOJI_CATEGORIES)
    expected = [EMOJI_CATEGORIES.index(e["category"]) for e in catalogue[:27]] * 2  # google's, then twitter's
    assert dm.load_labels().tolist() == expected
    images, labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (4, 3, 32, 32) and labels.dtype == torch.int64 and 0 <= labels.min() <= labels.max() < 9
    assert dm.state_dict()["class_names"] == list(EMOJI_CATEGORIES)


def test_mirror_trains_on_each_image_and_its_mirror_image_and_holds_out_the_originals(packages):
    root, _ = packages
    plain, mirrored = loaded(root, labels=True), loaded(root, labels=True, mirror=True)
    images, labels = mirrored.training_set()
    n = len(plain.train_images)
    assert torch.equal(images[:n], plain.train_images) and torch.equal(images[n:], plain.train_images.flip(-1))
    assert not torch.equal(images[n:], images[:n])  # the drawings are not symmetric
    assert torch.equal(labels, torch.cat([plain.train_labels, plain.train_labels]))
    assert torch.equal(mirrored.reference("val"), plain.reference("val"))
    assert len(mirrored.reference("train")) == 2 * n  # memorization compares with everything training saw
    batches = list(mirrored.train_dataloader())
    assert len(batches) == 2 * n // 4 and {tuple(b.shape) for b, _ in batches} == {(4, 3, 32, 32)}
    rows = lambda x: [bytes(r) for r in x.flatten(1).numpy()]  # noqa: E731
    seen, pool = rows(torch.cat([b for b, _ in batches])), rows(images)
    assert all(seen.count(r) <= pool.count(r) for r in seen)  # an epoch draws from the doubled set without repeats
    assert sum(r in rows(plain.train_images.flip(-1)) for r in seen) >= n - 3  # mirror images among them


def test_an_unpacked_package_folder_gives_the_tarballs_images(packages, tmp_path):
    root, _ = packages
    write_emoji_packages(tmp_path, n=27, packed=False)
    assert torch.equal(EmojiDataModule(data_dir=str(tmp_path), val_size=0, batch_size=4).load_images(),
                       EmojiDataModule(data_dir=str(root), val_size=0, batch_size=4).load_images())


def test_one_vendor_alone(packages):
    root, _ = packages
    assert len(loaded(root, val_size=0, vendors=["twitter"]).train_images) == 27


@pytest.mark.parametrize("vendors, message", [(["apple"], "refused: Apple's emoji images"),
                                              (["facebook"], "refused: Facebook's"),
                                              (["noto"], "must be among"), ([], "one at least")])
def test_vendors_outside_the_licensed_two_are_refused_with_why(vendors, message):
    with pytest.raises(ConfigError, match=message):
        EmojiDataModule(vendors=vendors)


@pytest.mark.parametrize("kwargs, message", [({"image_size": 128}, "image_size must be from 4 to 64"),
                                             ({"background": "not-a-colour"}, "background must be a colour")])
def test_bad_settings_name_the_value(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EmojiDataModule(**kwargs)


def test_a_missing_package_gives_the_npm_pack_command(tmp_path):
    write_emoji_packages(tmp_path, n=27, vendors=("google",))
    with pytest.raises(ConfigError, match=r"no emoji of \['twitter'\] in .*npm pack emoji-datasource-twitter@16.0.0.*"
                                          r"--data.init_args.download true"):
        EmojiDataModule(data_dir=str(tmp_path)).check_data()


def test_a_corrupt_tarball_is_one_line_that_says_to_fetch_it_again(tmp_path):
    for vendor in ("google", "twitter"):
        (tmp_path / f"emoji-datasource-{vendor}-16.0.0.tgz").write_bytes(b"not a gzip file")
    with pytest.raises(ConfigError, match="not a readable npm tarball .* delete it and run npm pack"):
        EmojiDataModule(data_dir=str(tmp_path), batch_size=4, val_size=0).load_images()


def test_the_cache_is_reused_and_rebuilt_when_a_package_changes(tmp_path, monkeypatch):
    write_emoji_packages(tmp_path, n=27)
    first = EmojiDataModule(data_dir=str(tmp_path), val_size=0, batch_size=4).load_images()
    (cache,) = (tmp_path / ".gan_lightning_cache").glob("emoji-32px-*.pt")
    monkeypatch.setattr(emoji, "decode", lambda *a: pytest.fail("decoded again although the cache is valid"))
    assert torch.equal(EmojiDataModule(data_dir=str(tmp_path), val_size=0, batch_size=4).load_images(), first)
    monkeypatch.undo()
    write_emoji_packages(tmp_path, n=36)  # a newer package
    assert len(EmojiDataModule(data_dir=str(tmp_path), val_size=0, batch_size=4).load_images()) == 72
    assert not cache.exists()  # the stale cache is gone


def fake_npm(bin_dir, root_of_packages, fail=False):
    """An ``npm`` on the PATH that "packs" by copying tarballs made in the test, or fails as npm does offline."""
    script = bin_dir / "npm"
    body = ('echo "npm error code ENOTFOUND" >&2; exit 1' if fail else
            f'shift; for spec in "$@"; do name="${{spec%@*}}"; '
            f'cp "{root_of_packages}/$name-${{spec##*@}}.tgz" . ; done')
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_download_runs_npm_pack_into_data_dir(tmp_path, monkeypatch):
    packages = tmp_path / "registry"
    packages.mkdir()
    write_emoji_packages(packages, n=27)
    (tmp_path / "bin").mkdir()
    fake_npm(tmp_path / "bin", packages)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    dm = EmojiDataModule(data_dir=str(tmp_path / "data" / "emoji"), download=True, val_size=8, batch_size=4)
    dm.check_data()  # missing but download is on: no error yet
    dm.prepare_data()
    assert sorted(p.name for p in (tmp_path / "data" / "emoji").glob("*.tgz")) == [
        "emoji-datasource-google-16.0.0.tgz", "emoji-datasource-twitter-16.0.0.tgz"]
    dm.setup("fit")
    assert len(dm.train_images) + len(dm.val_images) >= 53


def test_a_failed_download_keeps_nothing_and_says_so(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    fake_npm(tmp_path / "bin", tmp_path, fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    data = tmp_path / "emoji"
    with pytest.raises(ConfigError, match="npm pack emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0 "
                                          r"failed \(npm error code ENOTFOUND\); nothing was kept"):
        EmojiDataModule(data_dir=str(data), download=True).prepare_data()
    assert list(data.iterdir()) == []


def test_download_without_npm_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    with pytest.raises(ConfigError, match="download needs npm on the PATH"):
        EmojiDataModule(data_dir=str(tmp_path / "emoji"), download=True).prepare_data()
