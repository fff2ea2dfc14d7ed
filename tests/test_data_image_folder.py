import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan_lightning.data.image_folder as image_folder
from gan_lightning.commands import main
from gan_lightning.data import AnimeFacesDataModule, ImageFolderDataModule
from gan_lightning.errors import ConfigError
from images import write_faces
from helpers import CONFIGS


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    write_faces(root, n=200)
    return root


def load(data_dir, **kwargs):
    dm = AnimeFacesDataModule(data_dir=str(data_dir), image_size=32, batch_size=8, val_size=20, **kwargs)
    dm.setup("fit")
    return dm


def test_folder_at_any_depth_skips_the_corrupt_file_with_a_count(faces, tmp_path):
    data = tmp_path / "copy"
    import shutil
    shutil.copytree(faces, data)
    with pytest.warns(UserWarning, match=r"skipped 1 of 201 image files"):
        dm = load(data)
    assert dm.train_images.shape == (180, 3, 32, 32) and dm.val_images.shape == (20, 3, 32, 32)
    assert dm.train_images.dtype == torch.uint8
    batch = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert batch.shape == (8, 3, 32, 32) and -1 <= batch.min() and batch.max() <= 1


def test_rgb_channel_order_resize_and_center_crop(tmp_path):
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20] = (0, 0, 255)  # blue sides, red middle: the center crop keeps the red
    wide[:, 20:40] = (255, 0, 0)
    wide[:, 40:] = (0, 0, 255)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    Image.new("L", (10, 10), 255).save(tmp_path / "gray.png")  # grayscale becomes RGB
    images = ImageFolderDataModule(data_dir=str(tmp_path), image_size=8).load_images()
    gray, red = images[0], images[1]  # sorted by name
    assert images.shape == (2, 3, 8, 8)
    assert red[0].min() > 200 and red[1].max() < 30 and red[2].max() < 30
    assert (gray == 255).all()


def test_zip_gives_the_same_images_as_the_folder(faces, tmp_path):
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(faces.rglob("*")):
            if path.is_file() and ".gan_lightning_cache" not in path.parts:
                z.write(path, path.relative_to(faces))
    with pytest.warns(UserWarning, match="skipped 1"):
        from_zip = ImageFolderDataModule(data_dir=str(archive), image_size=32).load_images()
    with pytest.warns(UserWarning, match="skipped 1"):
        from_folder = ImageFolderDataModule(data_dir=str(faces), image_size=32).load_images()
    torch.testing.assert_close(from_zip, from_folder, rtol=0, atol=0)
    assert (tmp_path / "faces.zip.cache").is_dir()


@pytest.mark.parametrize("as_zip", [False, True])
def test_decoding_on_two_cores_gives_the_one_core_images_in_order(faces, tmp_path, monkeypatch, as_zip):
    source = faces
    if as_zip:
        source = tmp_path / "faces.zip"
        with zipfile.ZipFile(source, "w") as z:
            for path in sorted(faces.rglob("*")):
                if path.is_file() and ".gan_lightning_cache" not in path.parts:
                    z.write(path, path.relative_to(faces))
    threads = set()
    decode = image_folder.decode

    def recording_decode(*args):
        threads.add(threading.get_ident())
        return decode(*args)

    monkeypatch.setattr(image_folder, "decode", recording_decode)
    names = [name for name, _, _ in ImageFolderDataModule(data_dir=str(source)).sources()]
    decoded = {}
    for cores in ({0}, {0, 1}):
        monkeypatch.setattr(image_folder.os, "sched_getaffinity", lambda pid, cores=cores: cores, raising=False)
        threads.clear()
        with pytest.warns(UserWarning, match="skipped 1 of 201"):
            decoded[len(cores)], _ = ImageFolderDataModule(data_dir=str(source), image_size=32).decode_all(names)
        assert len(threads) == len(cores)
    torch.testing.assert_close(decoded[2], decoded[1], rtol=0, atol=0)
    assert decoded[2].shape == (200, 3, 32, 32)


def test_cache_is_written_once_reused_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch):
    write_faces(tmp_path, n=30)
    (tmp_path / "part0" / "broken.jpg").unlink()
    decoded = []
    real_decode = image_folder.decode
    monkeypatch.setattr(image_folder, "decode", lambda src, size: decoded.append(src) or real_decode(src, size))

    first = ImageFolderDataModule(data_dir=str(tmp_path), image_size=16).load_images()
    (cache,) = (tmp_path / ".gan_lightning_cache").glob("*.pt")
    assert len(decoded) == 30
    again = ImageFolderDataModule(data_dir=str(tmp_path), image_size=16).load_images()
    assert len(decoded) == 30  # nothing decoded: the cache was used
    torch.testing.assert_close(first, again, rtol=0, atol=0)

    Image.new("RGB", (20, 20), (0, 255, 0)).save(tmp_path / "part1" / "deeper" / "face0001.png")  # one file changes
    changed = ImageFolderDataModule(data_dir=str(tmp_path), image_size=16).load_images()
    assert len(decoded) == 60
    assert not cache.exists() and len(list((tmp_path / ".gan_lightning_cache").glob("*.pt"))) == 1
    assert not torch.equal(changed, first)
    assert len(list((tmp_path / ".gan_lightning_cache").glob("*.tmp"))) == 0
    bigger = ImageFolderDataModule(data_dir=str(tmp_path), image_size=24).load_images()
    assert bigger.shape[-1] == 24  # another image_size is another cache entry


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "does not exist"),
    (lambda d: d.mkdir(), "no images (.jpg, .jpeg, .png, .webp, .bmp) under"),
    (lambda d: (d.mkdir(), [(d / f"{i}.jpg").write_bytes(b"junk") for i in range(320)], (d / "b.png").write_bytes(b"")),
     "none of the 321 image files"),  # enough files for a batch of 64 x 5 critic steps
])
def test_missing_empty_and_all_corrupt_dirs_give_one_clear_line(tmp_path, capsys, setup, message):
    data = tmp_path / "anime"
    setup(data)
    with pytest.raises(SystemExit) as exit:
        main(["fit", "--config", str(CONFIGS / "wgangp_anime.yaml"), "--data.init_args.data_dir", str(data),
              "--trainer.default_root_dir", str(tmp_path / "runs"), "--model.init_args.metrics", "null",
              "--data.init_args.val_size", "0"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "Traceback" not in err
    (line,) = [l for l in err.splitlines() if l.startswith("gan_lightning: error:")]
    assert message in line and "README section 'Anime faces'" in line


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served_zip(tmp_path):
    """A zip of faces served over HTTP on 127.0.0.1; yields (url, sha256)."""
    site = tmp_path / "site"
    write_faces(tmp_path / "src", n=40)
    site.mkdir()
    with zipfile.ZipFile(site / "faces.zip", "w") as z:
        for path in (tmp_path / "src").rglob("*.png"):
            z.write(path, Path("images") / path.name)
    handler = lambda *a, **k: QuietHandler(*a, directory=str(site), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/faces.zip", hashlib.sha256((site / "faces.zip").read_bytes()).hexdigest()
    server.shutdown()


def test_download_with_the_right_sha256_extracts_the_images(served_zip, tmp_path):
    url, digest = served_zip
    dm = AnimeFacesDataModule(data_dir=str(tmp_path / "anime"), image_size=16, download=True, download_url=url,
                              sha256=digest, batch_size=4, val_size=4)
    dm.prepare_data()
    dm.setup("fit")
    assert len(list((tmp_path / "anime" / "images").glob("*.png"))) == 20
    assert len(dm.train_images) + len(dm.val_images) == 20
    dm.prepare_data()  # the data is there: no second download


def test_download_with_a_wrong_sha256_keeps_nothing(served_zip, tmp_path):
    url, _ = served_zip
    dm = AnimeFacesDataModule(data_dir=str(tmp_path / "anime"), download=True, download_url=url, sha256="0" * 64)
    with pytest.raises(ConfigError, match="has sha256 .* expected 0000"):
        dm.prepare_data()
    assert not (tmp_path / "anime").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".download-")]


def test_no_download_without_the_download_flag(served_zip, tmp_path):
    url, digest = served_zip
    dm = AnimeFacesDataModule(data_dir=str(tmp_path / "anime"), download_url=url, sha256=digest)
    dm.prepare_data()
    assert not (tmp_path / "anime").exists()
    with pytest.raises(ConfigError, match=r"does not exist; set --data.init_args.download true to fetch http://127"):
        dm.setup("fit")
    with pytest.raises(ConfigError, match="download is true but no download_url"):
        ImageFolderDataModule(data_dir=str(tmp_path / "x"), download=True)


def test_anime_faces_takes_the_image_folder_arguments_and_saves_them(tmp_path):
    dm = AnimeFacesDataModule(image_size=16, batch_size=4, val_size=3, seed=7)
    assert str(dm.data_dir) == "data/anime"
    assert (dm.image_size, dm.batch_size, dm.val_size, dm.seed) == (16, 4, 3, 7)
    assert {k: dm.hparams[k] for k in ("data_dir", "image_size", "batch_size", "val_size", "seed", "download")} == \
        {"data_dir": "data/anime", "image_size": 16, "batch_size": 4, "val_size": 3, "seed": 7, "download": False}


def test_labels_come_from_the_class_sub_folders(tmp_path):
    from images import face_image

    rng = np.random.default_rng(0)
    for name, count in [("cats", 12), ("dogs", 20)]:
        (tmp_path / "pets" / name / "deeper").mkdir(parents=True)
        for i in range(count):
            face_image(rng).save(tmp_path / "pets" / name / ("deeper" if i % 2 else "") / f"{i}.png")
    dm = ImageFolderDataModule(data_dir=str(tmp_path / "pets"), image_size=16, batch_size=32, val_size=0, labels=True)
    dm.check_data()
    assert dm.num_classes == 2 and dm.state_dict()["class_names"] == ["cats", "dogs"]
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (32, 3, 16, 16) and sorted(labels.tolist()) == [0] * 12 + [1] * 20
    # Each image's label is its folder's: the cached names say where each image came from.
    assert [dm.class_of(n) for n in dm.image_names] == ["cats"] * 12 + ["dogs"] * 20
    again = ImageFolderDataModule(data_dir=str(tmp_path / "pets"), image_size=16, batch_size=32, val_size=0, labels=True)
    again.load_images()  # from the cache this time
    torch.testing.assert_close(again.load_labels(), dm.load_labels())

    face_image(rng).save(tmp_path / "pets" / "stray.png")  # an image outside any class folder
    with pytest.raises(ConfigError, match="stray.png lies directly in"):
        ImageFolderDataModule(data_dir=str(tmp_path / "pets"), image_size=16, val_size=0, batch_size=8,
                              labels=True).check_data()
