"""FID extrapolated to infinitely many samples, on Gaussians whose Frechet distance is known in closed form."""

import torch

from gan_lightning.metrics.fid_infinity import fid_infinity, frechet_distance, statistics


def test_the_extrapolated_fid_finds_the_true_distance_that_finite_samples_overstate():
    """Reals N(0, I) and fakes N(mu, I) in 32 dimensions: the Frechet distance is ||mu||^2 = 1 exactly. FID from 500
    fakes overstates it by about dims / n; the line through FID at 500..5,000 fakes read at 1/n = 0 does not."""
    g = torch.Generator().manual_seed(0)
    dims = 32
    mu = torch.zeros(dims)
    mu[0] = 1.0
    real = torch.randn(100_000, dims, generator=g)
    fake = torch.randn(5_000, dims, generator=g) + mu
    at_500 = float(frechet_distance(*statistics(real), *statistics(fake[:500])))
    extrapolated, points = fid_infinity(real, fake, smallest=500)
    assert at_500 - 1.0 > 0.04  # the finite-sample bias the extrapolation removes
    assert abs(float(extrapolated) - 1.0) < 0.02, (float(extrapolated), points)
    assert points[0][0] == 500 and points[-1][0] == 5_000 and len(points) >= 10
    assert [v for _, v in points][0] > [v for _, v in points][-1]  # FID falls with the count, as the bias does


def test_the_frechet_distance_of_scaled_covariances_is_the_closed_form():
    # N(0, a^2 I) against N(0, b^2 I) in d dimensions: d (a - b)^2.
    d, a, b = 6, 1.5, 0.5
    value = frechet_distance(torch.zeros(d), a ** 2 * torch.eye(d), torch.zeros(d), b ** 2 * torch.eye(d))
    torch.testing.assert_close(value, torch.tensor(d * (a - b) ** 2, dtype=torch.float64))
