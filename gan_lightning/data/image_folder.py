"""Any folder (or zip) of images, decoded once into a uint8 cache and batched from memory.

Images are found at any depth (jpg, jpeg, png, webp, bmp), converted to RGB, resized so the
short side is ``image_size`` and center-cropped to a square. The decoded tensor is cached in
``<data_dir>/.gan_lightning_cache/`` (next to a zip: ``<zip>.cache/``), keyed by the source
files' names, sizes and modification times and by ``image_size``, so later epochs and later
runs never decode a JPEG again, and a changed source rebuilds the cache.
"""

import hashlib
import io
import os
import threading
import tempfile
import urllib.request
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from tqdm import tqdm

from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.errors import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
HOW_TO_GET = "see the README section 'Anime faces' for where to get the data"


def decode(source, image_size: int) -> np.ndarray:
    """An image file (path or file object) -> uint8 ``[3, image_size, image_size]``."""
    with Image.open(source) as image:
        square = ImageOps.fit(image.convert("RGB"), (image_size, image_size), Image.Resampling.BICUBIC)
    return np.asarray(square).transpose(2, 0, 1)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ImageFolderDataModule(InMemoryImageDataModule):
    """Images from a folder tree or a zip, as ``[B, 3, image_size, image_size]`` in [-1, 1].

    Args:
        data_dir: a folder of images (any depth), or a ``.zip`` of them.
        image_size: side of the square images (64 for the DCGAN configs).
        download: fetch ``download_url`` in ``prepare_data`` when ``data_dir`` does not exist yet
            (as ``MNISTDataModule``'s flag: nothing is fetched unless it is true).
        download_url: URL of a zip of the images, checked against ``sha256`` and extracted into
            ``data_dir``.
        sha256: the zip's SHA-256; a download that does not match is deleted and refused.
        labels: one sub-folder per class (``data_dir/<class name>/...``): batches are ``(images,
            labels)``, the classes numbered in the sorted order of their names (``class_names``,
            kept in checkpoints).
        **kwargs: batching arguments of ``InMemoryImageDataModule`` (``batch_size``, ``val_size``, ...).
    """

    def __init__(self, data_dir: str = "data/images", image_size: int = 64, download: bool = False,
                 download_url: Optional[str] = None, sha256: Optional[str] = None, batch_size: int = 64,
                 batches_per_step: int = 1, val_size: int = 5000, num_workers: int = 0, seed: int = 0,
                 labels: bool = False, mirror: bool = False):
        super().__init__(batch_size, batches_per_step, val_size, num_workers, seed, labels, mirror)
        name = type(self).__name__
        if image_size < 4:
            raise ConfigError(f"{name}: image_size must be >= 4, got {image_size}")
        if download and not download_url:
            raise ConfigError(f"{name}: download is true but no download_url was given; set "
                              f"--data.init_args.download_url URL --data.init_args.sha256 HEX")
        if download_url and not sha256:
            raise ConfigError(f"{name}: download_url needs the sha256 of the file, to verify it; set --data.init_args.sha256 HEX")
        self.data_dir, self.image_size = Path(data_dir), image_size
        self.download, self.download_url, self.sha256 = download, download_url, sha256
        self.class_names: Optional[list[str]] = None
        self.image_names: list[str] = []  # of the decoded images, in order: their sub-folders are their classes

    # ---- download ------------------------------------------------------------------------

    def prepare_data(self) -> None:
        if not self.download or self.data_dir.exists():
            return
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.data_dir.parent, prefix=".download-") as tmp:
            archive = Path(tmp) / "download.zip"
            with urllib.request.urlopen(self.download_url) as response, open(archive, "wb") as f:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {self.download_url}") as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        f.write(block)
                        bar.update(len(block))
            digest = sha256_of(archive)
            if digest != self.sha256.lower():
                raise ConfigError(f"{type(self).__name__}: {self.download_url} has sha256 {digest}, expected "
                                  f"{self.sha256}; nothing was kept")
            extracted = Path(tmp) / "extracted"
            with zipfile.ZipFile(archive) as z:
                z.extractall(extracted)
            os.replace(extracted, self.data_dir)  # the folder appears whole or not at all

    def check_data(self) -> None:
        if self.download and not self.data_dir.exists():
            return  # prepare_data fetches it
        sources = self.sources()
        self.check_enough_images(len(sources))
        if self.labels:
            self.class_names_of(sources)

    # ---- classes -------------------------------------------------------------------------

    @property
    def classes(self) -> int | None:
        """How many class sub-folders there are (``None`` while the data is not there yet)."""
        if self.class_names is None and self.data_dir.exists():
            self.class_names = self.class_names_of(self.sources())
        return len(self.class_names) if self.class_names is not None else None

    def class_names_of(self, sources: list[tuple[str, int, int]]) -> list[str]:
        top_level = [name for name, _, _ in sources if "/" not in name.replace(os.sep, "/")]
        if top_level:
            raise ConfigError(f"{type(self).__name__}: labels: true takes the class of an image from its sub-folder "
                              f"(data_dir/<class>/...), but {top_level[0]} lies directly in {self.data_dir}")
        names = sorted({self.class_of(name) for name, _, _ in sources})
        if len(names) < 2:
            raise ConfigError(f"{type(self).__name__}: labels: true needs 2 or more class sub-folders in "
                              f"{self.data_dir}, found {names}")
        return names

    @staticmethod
    def class_of(name: str) -> str:
        return name.replace(os.sep, "/").split("/", 1)[0]

    def load_labels(self) -> Tensor:
        index = {name: i for i, name in enumerate(self.class_names or self.class_names_of(self.sources()))}
        return torch.tensor([index[self.class_of(name)] for name in self.image_names], dtype=torch.int64)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "class_names": self.class_names}

    # ---- decoding and the cache ----------------------------------------------------------

    def sources(self) -> list[tuple[str, int, int]]:
        """(name, size, mtime) of every image file, sorted; a zip's members have mtime 0."""
        if not self.data_dir.exists():
            fetch = (f"set --data.init_args.download true to fetch {self.download_url}" if self.download_url
                     else HOW_TO_GET)
            raise ConfigError(f"{type(self).__name__}: {self.data_dir} does not exist; {fetch}")
        if self.data_dir.is_file() and zipfile.is_zipfile(self.data_dir):
            with zipfile.ZipFile(self.data_dir) as z:
                found = [(i.filename, i.file_size, 0) for i in z.infolist()
                         if not i.is_dir() and i.filename.lower().endswith(IMAGE_SUFFIXES)]
        elif self.data_dir.is_dir():
            found = []
            for path in self.data_dir.rglob("*"):
                if path.suffix.lower() in IMAGE_SUFFIXES and ".gan_lightning_cache" not in path.parts and path.is_file():
                    stat = path.stat()
                    found.append((str(path.relative_to(self.data_dir)), stat.st_size, stat.st_mtime_ns))
        else:
            raise ConfigError(f"{type(self).__name__}: {self.data_dir} is neither a folder nor a zip of images; {HOW_TO_GET}")
        if not found:
            raise ConfigError(f"{type(self).__name__}: no images ({', '.join(IMAGE_SUFFIXES)}) under {self.data_dir}; {HOW_TO_GET}")
        return sorted(found)

    def cache_path(self, sources: list[tuple[str, int, int]]) -> Path:
        # "names": the cache holds the decoded files' names too (0.2's held the images alone).
        key = hashlib.sha256(repr((sources, self.image_size, "names")).encode()).hexdigest()[:16]
        if self.data_dir.is_file():
            folder = self.data_dir.with_name(self.data_dir.name + ".cache")
            key = hashlib.sha256(repr((sources, self.data_dir.stat().st_mtime_ns, self.image_size, "names")).encode()
                                 ).hexdigest()[:16]
        else:
            folder = self.data_dir / ".gan_lightning_cache"
        return folder / f"images-{self.image_size}px-{key}.pt"

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return 3, self.image_size, self.image_size

    def load_images(self) -> Tensor:
        sources = self.sources()
        cache = self.cache_path(sources)
        if cache.is_file():
            cached = torch.load(cache, weights_only=True)
            self.image_names = cached["names"]
            return cached["images"]
        images, self.image_names = self.decode_all([name for name, _, _ in sources])
        cache.parent.mkdir(parents=True, exist_ok=True)
        for stale in cache.parent.glob(f"images-{self.image_size}px-*.pt"):
            stale.unlink()  # the source changed: the old cache can never be used again
        with tempfile.NamedTemporaryFile(dir=cache.parent, suffix=".tmp", delete=False) as f:
            torch.save({"images": images, "names": self.image_names}, f)
        os.replace(f.name, cache)  # a crash mid-write leaves no half cache behind
        return images

    def decode_all(self, names: list[str]) -> tuple[Tensor, list[str]]:
        """(uint8 ``[N, 3, S, S]`` of the readable files, their names): unreadable ones are skipped with a warning.

        Decodes on every core: Pillow lets go of the GIL while it decodes and resizes, so threads suffice.
        """
        out = np.empty((len(names), 3, self.image_size, self.image_size), np.uint8)
        kept, bad, kept_names = 0, [], []
        local, archives = threading.local(), []  # a zip handle per thread: ZipFile objects are not shared safely

        def decode_one(name: str) -> Optional[np.ndarray]:
            try:
                if self.data_dir.is_file():
                    if not hasattr(local, "archive"):
                        local.archive = zipfile.ZipFile(self.data_dir)
                        archives.append(local.archive)
                    return decode(io.BytesIO(local.archive.read(name)), self.image_size)
                return decode(self.data_dir / name, self.image_size)
            except (OSError, ValueError, SyntaxError, zipfile.BadZipFile, Image.DecompressionBombError):
                return None

        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        with ThreadPoolExecutor(workers) as pool:
            decoded = pool.map(decode_one, names)  # in order: the cache is the same on any machine
            for name, image in zip(tqdm(names, desc=f"decoding {len(names)} images to {self.image_size}px on "
                                                    f"{workers} cores (cached once)", unit="img"), decoded):
                if image is None:
                    bad.append(name)
                else:
                    out[kept] = image
                    kept += 1
                    kept_names.append(name)
        for archive in archives:
            archive.close()
        if bad:
            warnings.warn(f"{type(self).__name__}: skipped {len(bad)} of {len(names)} image files that could not be "
                          f"read, e.g. {bad[0]}")
        if kept == 0:
            raise ConfigError(f"{type(self).__name__}: none of the {len(names)} image files under {self.data_dir} "
                              f"could be read; {HOW_TO_GET}")
        return torch.from_numpy(out[:kept].copy()), kept_names


class AnimeFacesDataModule(ImageFolderDataModule):
    """64x64 anime faces from a folder or zip, e.g. the Kaggle "Anime Face Dataset" (63,632 faces)
    or the 51,223 getchu faces of the TF2 tutorial, as downloaded. Only the default folder differs
    from ``ImageFolderDataModule``, whose arguments it takes."""

    def __init__(self, data_dir: str = "data/anime", **kwargs):
        super().__init__(data_dir, **kwargs)
