"""Color emoji: 64x64 RGBA drawings of two vendors, from the npm packages ``emoji-datasource-<vendor>``.

Each package (``npm pack emoji-datasource-google@16.0.0``, 74 MB; twitter's 62 MB) holds
``package/img/<vendor>/64/*.png`` and ``package/emoji.json``, which gives every emoji its category
and skin-tone variants. Without the variants that is 1,906 emoji (the five skin-tone swatches of
the "Component" category are not emoji) in each drawing style: 3,812 images, a small data set with
labels. Google's images are Apache-2.0 and Twitter's CC-BY-4.0; the Apple and Facebook sets of the
same project are not licensed for this use and are refused.

Transparent pixels are put on a background colour, the images resized (antialiased) to
``image_size`` and cached once as one uint8 tensor, as image folders are. The held-out split is
by emoji: every drawing of a held-out emoji (both vendors, every skin tone) is held out together.
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from PIL import Image, ImageColor
from torch import Tensor
from tqdm import tqdm

from gan_lightning.data.images import InMemoryImageDataModule
from gan_lightning.errors import ConfigError

VERSION = "16.0.0"
VENDORS = ("google", "twitter")
UNLICENSED = {"apple": "Apple's emoji images may not be used outside Apple's platforms",
              "facebook": "Facebook's emoji images are not licensed for use outside Facebook's products"}
# Unicode's emoji categories in their own order: a label is the index here.
CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
              "Activities", "Objects", "Symbols", "Flags")
SOURCE_SIZE = 64  # the packages' img/<vendor>/64 folders


def npm_pack_command(vendors) -> str:
    return "npm pack " + " ".join(f"emoji-datasource-{v}@{VERSION}" for v in vendors)


def emoji_entries(catalogue: list[dict], vendor: str, skin_tones: bool) -> list[tuple[str, str, int]]:
    """(emoji code, image file name, category index) of each image ``vendor`` draws, in catalogue order;
    skin-tone variants carry their emoji's code, so a split by code keeps them together."""
    out = []
    for emoji in catalogue:
        if emoji["category"] not in CATEGORIES:  # "Component": the skin-tone swatches, hair styles
            continue
        category = CATEGORIES.index(emoji["category"])
        if emoji.get(f"has_img_{vendor}"):
            out.append((emoji["unified"], emoji["image"], category))
        if skin_tones:
            for variant in emoji.get("skin_variations", {}).values():
                if variant.get(f"has_img_{vendor}"):
                    out.append((emoji["unified"], variant["image"], category))
    return out


def decode(png: bytes, image_size: int, background: tuple[int, int, int]) -> np.ndarray:
    """An RGBA PNG -> uint8 ``[3, image_size, image_size]`` on ``background``, resized with Lanczos (antialiased)."""
    with Image.open(io.BytesIO(png)) as image:
        rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    rgb = Image.alpha_composite(canvas, rgba).convert("RGB")
    if rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(rgb).transpose(2, 0, 1)


class EmojiDataModule(InMemoryImageDataModule):
    """Color emoji as ``[B, 3, image_size, image_size]`` in [-1, 1], with their category as the label.

    Args:
        data_dir: a folder holding the packed ``emoji-datasource-<vendor>-16.0.0.tgz`` files as
            ``npm pack`` writes them, or their contents unpacked (``package/emoji.json`` and
            ``package/img/<vendor>/64/``).
        vendors: which drawing styles: ``google`` (Apache-2.0) and ``twitter`` (CC-BY-4.0).
        image_size: side of the square images, at most 64 (32 for the CPU configs).
        background: the colour transparent pixels are put on (a CSS name or ``#rrggbb``).
        skin_tones: also the skin-tone variants (1,875 more emoji per vendor, nearly all People & Body).
        download: run ``npm pack`` in ``data_dir`` in ``prepare_data`` for a package that is not there.
        val_size: images held out for the metrics' reference, whole emoji at a time: the drawings of one
            emoji are never split between training and held-out (an emoji at the boundary is dropped).
        labels: batches are ``(images, labels)`` with the category (``CATEGORIES``, 9 classes).
        **kwargs: batching arguments of ``InMemoryImageDataModule``.
    """

    classes = len(CATEGORIES)

    def __init__(self, data_dir: str = "data/emoji", vendors: list[str] = list(VENDORS), image_size: int = 32,
                 background: str = "white", skin_tones: bool = False, download: bool = False, batch_size: int = 64,
                 batches_per_step: int = 1, val_size: int = 800, num_workers: int = 0, seed: int = 0,
                 labels: bool = False, mirror: bool = False):
        super().__init__(batch_size, batches_per_step, val_size, num_workers, seed, labels, mirror)
        name = type(self).__name__
        for vendor in vendors:
            if vendor in UNLICENSED:
                raise ConfigError(f"{name}: vendor {vendor!r} is refused: {UNLICENSED[vendor]}; use {list(VENDORS)}")
            if vendor not in VENDORS:
                raise ConfigError(f"{name}: vendors must be among {list(VENDORS)}, got {vendor!r}")
        if not vendors or len(set(vendors)) != len(vendors):
            raise ConfigError(f"{name}: vendors must name each of {list(VENDORS)} at most once, and one at least; "
                              f"got {vendors}")
        if not 4 <= image_size <= SOURCE_SIZE:
            raise ConfigError(f"{name}: image_size must be from 4 to {SOURCE_SIZE} (the drawings are {SOURCE_SIZE}x"
                              f"{SOURCE_SIZE}), got {image_size}")
        try:
            self.background = ImageColor.getrgb(background)[:3]
        except ValueError:
            raise ConfigError(f"{name}: background must be a colour name or #rrggbb, got {background!r}") from None
        self.data_dir, self.vendors, self.image_size = Path(data_dir), list(vendors), image_size
        self.skin_tones, self.download = skin_tones, download
        self.class_names = list(CATEGORIES)
        self.emoji_codes: list[str] = []  # of the decoded images, in order: the split groups by them
        self.image_labels: Optional[Tensor] = None
        self._catalogue: Optional[list[dict]] = None

    # ---- where the packages are -----------------------------------------------------------

    def tarball(self, vendor: str) -> Path:
        return self.data_dir / f"emoji-datasource-{vendor}-{VERSION}.tgz"

    def unpacked(self, vendor: str) -> Path:
        return self.data_dir / "package" / "img" / vendor / str(SOURCE_SIZE)

    def missing(self) -> list[str]:
        return [v for v in self.vendors if not self.tarball(v).is_file() and not self.unpacked(v).is_dir()]

    def prepare_data(self) -> None:
        missing = self.missing()
        if not self.download or not missing:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise ConfigError(f"{type(self).__name__}: download needs npm on the PATH (Node.js); or run "
                              f"{npm_pack_command(missing)} in {self.data_dir} yourself")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.data_dir, prefix=".download-") as tmp:
            done = subprocess.run([npm, "pack", *(f"emoji-datasource-{v}@{VERSION}" for v in missing)], cwd=tmp,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise ConfigError(f"{type(self).__name__}: {npm_pack_command(missing)} failed ({reason}); "
                                  "nothing was kept")
            for vendor in missing:
                packed = Path(tmp) / self.tarball(vendor).name
                if not packed.is_file():
                    raise ConfigError(f"{type(self).__name__}: npm pack wrote no {packed.name}; nothing was kept")
                os.replace(packed, self.tarball(vendor))  # a tarball appears whole or not at all

    def check_data(self) -> None:
        missing = self.missing()
        if missing and not self.download:
            raise ConfigError(f"{type(self).__name__}: no emoji of {missing} in {self.data_dir}; run "
                              f"`mkdir -p {self.data_dir} && cd {self.data_dir} && {npm_pack_command(missing)}` "
                              f"or set --data.init_args.download true")
        if not missing:
            self.check_enough_images(len(self.entries()))

    # ---- reading ----------------------------------------------------------------------------

    def sources(self) -> list[tuple[str, int, int]]:
        """(path, size, mtime) of what the images come from: a tarball or an unpacked folder per vendor."""
        if self.missing():
            self.check_data()  # the one-line error
        out = []
        for vendor in self.vendors:
            path = self.tarball(vendor) if self.tarball(vendor).is_file() else self.unpacked(vendor)
            stat = path.stat()
            out.append((str(path), stat.st_size, stat.st_mtime_ns))
        return out

    def read_members(self, vendor: str, wanted: set[str]) -> dict[str, bytes]:
        """The bytes of ``wanted`` members (paths inside the package, e.g. ``package/emoji.json``) of one vendor."""
        tarball = self.tarball(vendor)
        if not tarball.is_file():
            return {m: (self.data_dir / m).read_bytes() for m in wanted if (self.data_dir / m).is_file()}
        found = {}
        try:
            with tarfile.open(tarball, "r:gz") as archive:
                for member in archive:  # one pass over the gzip stream; the sprite sheets are skipped
                    if member.name in wanted and member.isfile():
                        found[member.name] = archive.extractfile(member).read()
                        if len(found) == len(wanted):
                            break
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ConfigError(f"{type(self).__name__}: {tarball} is not a readable npm tarball ({e}); delete it and "
                              f"run {npm_pack_command([vendor])} in {self.data_dir} again") from None
        return found

    def catalogue(self) -> list[dict]:
        """``package/emoji.json``: the same file in every vendor's package (read once, then kept)."""
        if self._catalogue is not None:
            return self._catalogue
        for vendor in self.vendors:
            found = self.read_members(vendor, {"package/emoji.json"})
            if found:
                self._catalogue = json.loads(found["package/emoji.json"])
                return self._catalogue
        raise ConfigError(f"{type(self).__name__}: no package/emoji.json in {self.data_dir} (for {self.vendors}); "
                          f"run {npm_pack_command(self.vendors)} in {self.data_dir}")

    def entries(self) -> list[tuple[str, str, str, int]]:
        """(vendor, emoji code, image file name, category index) of every image, vendor by vendor."""
        catalogue = self.catalogue()
        return [(v, *entry) for v in self.vendors for entry in emoji_entries(catalogue, v, self.skin_tones)]

    def cache_path(self) -> Path:
        key = (self.sources(), self.image_size, self.background, self.skin_tones)
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return self.data_dir / ".gan_lightning_cache" / f"emoji-{self.image_size}px-{digest}.pt"

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return 3, self.image_size, self.image_size

    def load_images(self) -> Tensor:
        cache = self.cache_path()
        if not cache.is_file():
            cached = self.decode_all()
            cache.parent.mkdir(parents=True, exist_ok=True)
            for stale in cache.parent.glob(f"emoji-{self.image_size}px-*.pt"):
                stale.unlink()  # the packages or options changed: the old cache can never be used again
            with tempfile.NamedTemporaryFile(dir=cache.parent, suffix=".tmp", delete=False) as f:
                torch.save(cached, f)
            os.replace(f.name, cache)  # a crash mid-write leaves no half cache behind
        else:
            cached = torch.load(cache, weights_only=True)
        self.emoji_codes, self.image_labels = cached["codes"], cached["labels"]
        return cached["images"]

    def decode_all(self) -> dict:
        entries = self.entries()
        images = np.empty((len(entries), 3, self.image_size, self.image_size), np.uint8)
        kept = []
        with tqdm(total=len(entries), desc=f"decoding {len(entries)} emoji to {self.image_size}px (cached once)",
                  unit="img") as bar:
            for vendor in self.vendors:
                folder = f"package/img/{vendor}/{SOURCE_SIZE}/"
                mine = [(i, e) for i, e in enumerate(entries) if e[0] == vendor]
                pngs = self.read_members(vendor, {folder + e[2] for _, e in mine})
                for i, (_, code, file, category) in mine:
                    if folder + file in pngs:
                        images[len(kept)] = decode(pngs[folder + file], self.image_size, self.background)
                        kept.append((code, category))
                    bar.update()
        if len(kept) < len(entries):
            raise ConfigError(f"{type(self).__name__}: {len(entries) - len(kept)} of {len(entries)} images that "
                              f"emoji.json lists are missing from {self.data_dir}; run "
                              f"{npm_pack_command(self.vendors)} there again")
        return {"images": torch.from_numpy(images), "codes": [c for c, _ in kept],
                "labels": torch.tensor([c for _, c in kept], dtype=torch.int64)}

    def load_labels(self) -> Tensor:
        if self.image_labels is None:
            self.load_images()
        return self.image_labels

    # ---- the split by emoji -----------------------------------------------------------------

    def split(self, *tensors: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(training part, held-out part) of each of ``tensors``, holding out whole emoji in a seeded order
        until ``val_size`` images are held out; the rest of the emoji at the boundary is used by neither."""
        codes = {code: i for i, code in enumerate(dict.fromkeys(self.emoji_codes))}
        group = torch.tensor([codes[c] for c in self.emoji_codes])
        rank = torch.empty(len(codes), dtype=torch.int64)
        rank[torch.randperm(len(codes), generator=torch.Generator().manual_seed(self.seed))] = torch.arange(len(codes))
        image_rank = rank[group]
        order = torch.sort(image_rank, stable=True).indices
        held, rest = order[:self.val_size], order[self.val_size:]
        if len(held):
            rest = rest[image_rank[rest] > image_rank[held[-1]]]
        return [(t[rest], t[held]) for t in tensors]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "class_names": self.class_names}
