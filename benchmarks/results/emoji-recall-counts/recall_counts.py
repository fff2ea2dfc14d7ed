"""Recall (k=3) against the 800 held-out emoji at several generated-sample counts, for best_emoji.yaml's seed-0
run, and the training emoji themselves at their own counts: how much of 0.75 the sample count decides."""
import sys
import torch
from gan_lightning.metrics.emoji_classifier import EmojiFeatures
from gan_lightning.metrics.manifold import precision_recall
from gan_lightning.sample import draw, load_datamodule, load_model

ckpt = sys.argv[1]
torch.manual_seed(0)
data = load_datamodule(ckpt)
from pathlib import Path; data.data_dir = Path("data/emoji").resolve()  # where this checkout keeps the emoji
features = EmojiFeatures().eval()

@torch.no_grad()
def feats(images):  # [N, 3, S, S] in [-1, 1]
    return torch.cat([features.features_and_probabilities(b)[0] for b in images.split(500)])

real = feats(data.reference("val"))
train = data.reference("train")  # with mirror images: each training emoji and its mirror
model = load_model(ckpt)
fake = feats(draw(model, 10000, seed=12345) * 2 - 1)
train_f = feats(train)
print(f"reals {len(real)}, training images (mirrored too) {len(train)}")
for n in (800, 2000, 3012, 6024, 10000):
    p, r = precision_recall(real, fake[:n], k=3)
    line = f"generated {n:6d}: precision {float(p):.3f} recall {float(r):.3f}"
    if n <= len(train_f):
        idx = torch.randperm(len(train_f), generator=torch.Generator().manual_seed(n))[:n]
        tp, tr = precision_recall(real, train_f[idx], k=3)
        line += f" | training images {n:6d}: precision {float(tp):.3f} recall {float(tr):.3f}"
    print(line, flush=True)
