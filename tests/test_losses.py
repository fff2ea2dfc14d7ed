import math

import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning import losses


def test_minimax_losses_match_their_formulas_and_stay_finite():
    real, fake = torch.tensor([-2.0, 0.0, 3.0]), torch.tensor([1.0, -1.0, 0.5])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    assert_close(losses.minimax_discriminator_loss(real, fake), (-torch.log(d_real)).mean() + (-torch.log(1 - d_fake)).mean())
    assert_close(losses.minimax_generator_loss(fake), torch.log(1 - d_fake).mean())
    assert_close(losses.nonsaturating_generator_loss(fake), (-torch.log(d_fake)).mean())
    # Where sigmoid saturates, the naive log(sigmoid) form gives inf; the logit form stays exact.
    big = torch.tensor([-200.0, 200.0])
    for value in [losses.minimax_discriminator_loss(big, big), losses.minimax_generator_loss(big),
                  losses.nonsaturating_generator_loss(big)]:
        assert torch.isfinite(value)
    assert_close(losses.nonsaturating_generator_loss(torch.tensor([-200.0])), torch.tensor(200.0))


def test_wasserstein_losses():
    real, fake = torch.tensor([3.0, 5.0]), torch.tensor([1.0, 0.0])
    assert_close(losses.wasserstein_critic_loss(real, fake), torch.tensor(0.5 - 4.0))
    assert_close(losses.wasserstein_generator_loss(fake), torch.tensor(-0.5))


def linear_critic(weight: list[float]) -> nn.Module:
    critic = nn.Linear(len(weight), 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weight]))
        critic.bias.fill_(0.3)
    return critic


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic_and_positive_for_a_steep_one():
    real, fake = torch.randn(16, 2) + 4, torch.randn(16, 2)
    flat = losses.gradient_penalty(linear_critic([0.6, 0.8]), real, fake)  # ||w|| = 1
    steep = losses.gradient_penalty(linear_critic([3.0, 4.0]), real, fake)  # ||w|| = 5
    assert_close(flat, torch.tensor(0.0), atol=1e-6, rtol=0)
    assert_close(steep, torch.tensor(16.0))  # (5 - 1)^2


def test_the_one_sided_gradient_penalty_leaves_gentle_slopes_alone_and_charges_steep_ones_as_the_two_sided():
    real, fake = torch.randn(16, 2) + 4, torch.randn(16, 2)
    gentle, steep = linear_critic([0.3, 0.4]), linear_critic([3.0, 4.0])  # ||w|| = 0.5 and 5
    assert_close(losses.gradient_penalty(gentle, real, fake), torch.tensor(0.25))  # (0.5 - 1)^2
    assert_close(losses.gradient_penalty(gentle, real, fake, one_sided=True), torch.tensor(0.0), atol=1e-6, rtol=0)
    assert_close(losses.gradient_penalty(steep, real, fake, one_sided=True), torch.tensor(16.0))


def test_gradient_penalty_backpropagates_into_the_critic_and_works_on_images():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 1))
    penalty = losses.gradient_penalty(critic, torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    penalty.backward()
    # For a linear critic the input gradient is w everywhere: penalty (||w|| - 1)^2, gradient 2 (||w|| - 1) w / ||w||.
    w = critic[1].weight.detach().flatten()
    assert_close(penalty.detach(), (w.norm() - 1) ** 2)
    assert_close(critic[1].weight.grad.flatten(), 2 * (w.norm() - 1) * w / w.norm())


def test_clip_weights():
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-3.0, 0.005], [0.02, -0.004]]))
        net.bias.copy_(torch.tensor([0.0, 7.0]))
    losses.clip_weights(net, 0.01)
    # Values beyond the bound are clamped to it, values inside it stay exactly as they were.
    assert_close(net.weight.detach(), torch.tensor([[-0.01, 0.005], [0.01, -0.004]]), rtol=0, atol=0)
    assert_close(net.bias.detach(), torch.tensor([0.0, 0.01]), rtol=0, atol=0)


def test_hinge_least_squares_and_relativistic_losses_against_hand_computed_values():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 1.5])
    # Hinge: mean(relu(1 - real)) = (0 + 0.5 + 2) / 3; mean(relu(1 + fake)) = (0 + 1 + 2.5) / 3.
    assert_close(losses.hinge_discriminator_loss(real, fake), torch.tensor(2.5 / 3 + 3.5 / 3))
    assert_close(losses.hinge_generator_loss(fake), torch.tensor(-(-3.0 + 0.0 + 1.5) / 3))
    # Least squares: 0.5 mean((real - 1)^2) + 0.5 mean(fake^2); G: 0.5 mean((fake - 1)^2).
    assert_close(losses.least_squares_discriminator_loss(real, fake),
                 torch.tensor(0.5 * (1 + 0.25 + 4) / 3 + 0.5 * (9 + 0 + 2.25) / 3))
    assert_close(losses.least_squares_generator_loss(fake), torch.tensor(0.5 * (16 + 1 + 0.25) / 3))
    # Relativistic pairing: softplus of the paired differences, log(1 + e^d).
    d = fake - real  # -5, -0.5, 2.5
    expected = sum(math.log1p(math.exp(v)) for v in d.tolist()) / 3
    assert_close(losses.relativistic_discriminator_loss(real, fake), torch.tensor(expected))
    expected_g = sum(math.log1p(math.exp(-v)) for v in d.tolist()) / 3
    assert_close(losses.relativistic_generator_loss(real, fake), torch.tensor(expected_g))
    big = torch.tensor([300.0])  # stays finite where exp overflows
    assert_close(losses.relativistic_discriminator_loss(-big, big), torch.tensor(600.0))


def test_feature_matching_loss_is_the_squared_distance_of_the_batch_means():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # means (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 8.0], [1.0, 4.0]])  # means (1, 4)
    assert_close(losses.feature_matching_loss(real, fake), torch.tensor(((2 - 1) ** 2 + (3 - 4) ** 2) / 2))
    # Feature maps [B, C, H, W] count every position as a feature; equal means give 0.
    maps = torch.randn(4, 3, 2, 2)
    assert_close(losses.feature_matching_loss(maps, maps.flip(0)), torch.tensor(0.0))
