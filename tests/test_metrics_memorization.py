"""The memorization share: copies of training images count, new images of the same kind count as held-out ones do."""

import torch
from torch.testing import assert_close

from gan_lightning.metrics.memorization import Memorization, memorization_reference, nearest_distance


def blobs(n: int, seed: int) -> torch.Tensor:
    """``n`` images ``[3, 8, 8]`` in [-1, 1]: one smooth random colour field each, all of one distribution."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 2, 2, generator=generator) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=8, mode="bilinear", align_corners=False)


def test_nearest_distance_is_the_brute_force_minimum_in_any_chunking():
    images, train = blobs(37, 0).flatten(1), blobs(50, 1).flatten(1)
    brute = torch.stack([min(torch.linalg.vector_norm(x - t) for t in train) for x in images])
    assert_close(nearest_distance(images, train, chunk=5), brute, rtol=1e-5, atol=1e-5)


def test_copies_score_one_new_images_about_what_held_out_reals_score_and_far_images_zero():
    train, held_out, new = blobs(400, 0), blobs(400, 1), blobs(400, 2)
    reference = memorization_reference(train, held_out)
    assert 0.35 < float(reference["memorization_reals"]) < 0.65  # the other half of the held-out images, by the median

    def share(images):
        metric = Memorization(train, reference["memorization_threshold"], reference["memorization_reals"])
        for batch in images.split(64):
            metric.update(batch)
        out = metric.compute()
        assert_close(float(out["memorization_reals"]), float(reference["memorization_reals"]), rtol=1e-6, atol=1e-6)
        return float(out["memorization"])

    copies = train[torch.randint(0, 400, (300,), generator=torch.Generator().manual_seed(3))]
    assert share(copies) == 1.0
    assert abs(share(new) - float(reference["memorization_reals"])) < 0.1
    assert share(torch.full((50, 3, 8, 8), 5.0)) == 0.0
    # Half copies, half new: the share lies between.
    assert 0.6 < share(torch.cat([copies[:200], new[:200]])) < 0.9
