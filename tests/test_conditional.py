"""Class-conditional GANs: labels through the data, conditional networks, sampling by class."""

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.callbacks import SampleGrid
from gan_lightning.callbacks.sample_grid import grid_inputs
from gan_lightning.commands import main
from gan_lightning.data import GaussianMixtureDataModule, MNISTDataModule, StackedMNISTDataModule
from gan_lightning.metrics import SampleMetrics
from gan_lightning.models import NSGAN
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gan_lightning.regularizers import ClassificationLoss
from helpers import CONFIGS, TINY_MNIST, run_cli
from images import write_mnist


@pytest.mark.parametrize("generator", [
    MLPGenerator(latent_dim=4, output_shape=[2], hidden=[16], num_classes=8),
    DCGANGenerator(latent_dim=8, image_size=28, channels=1, base_width=8, num_classes=10),
])
def test_a_conditional_generator_gives_other_samples_for_other_labels_from_one_z(generator):
    torch.manual_seed(0)
    generator.eval()
    z = torch.randn(1, generator.latent_dim).repeat(2, 1)
    a, b = generator(z, torch.tensor([0, 1]))
    assert (a - b).abs().max() > 1e-3 * a.abs().max()  # at initialization outputs are small: compare relatively
    torch.testing.assert_close(generator(z[:1], torch.tensor([1]))[0], b)  # same z and label: same sample
    with pytest.raises(ValueError, match="give labels"):
        generator(z)


@pytest.mark.parametrize("discriminator, x", [
    (MLPDiscriminator(input_shape=[2], hidden=[16, 16], num_classes=3), torch.randn(5, 2)),
    (DCGANDiscriminator(image_size=28, channels=1, base_width=8, norm="none", num_classes=3), torch.randn(5, 1, 28, 28)),
    (DCGANDiscriminator(image_size=28, channels=1, base_width=8, norm="none", num_classes=3, conditioning="both"),
     torch.randn(5, 1, 28, 28)),
])
def test_the_projection_term_is_linear_in_the_class_embedding(discriminator, x):
    """D(x, y) = psi(phi(x)) + embed(y) . phi(x): set class 2's embedding to a e0 + b e1 and the
    class term follows, D(x, 2) - psi = a (D(x, 0) - psi) + b (D(x, 1) - psi)."""
    torch.manual_seed(0)
    embed = discriminator.projection.embed.weight
    with torch.no_grad():
        embed.normal_()
        embed[2] = 0.3 * embed[0] - 1.7 * embed[1]
        out = {c: discriminator(x, torch.full((len(x),), c)) for c in range(3)}
        embed.zero_()
        psi = discriminator(x, torch.zeros(len(x), dtype=torch.long))  # no class term left
    torch.testing.assert_close(out[2] - psi, 0.3 * (out[0] - psi) - 1.7 * (out[1] - psi), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(out[0], out[1])


def test_labelled_data_modules_yield_the_class_of_each_sample(tmp_path):
    images, digits = write_mnist(tmp_path, n_train=300)
    mnist = MNISTDataModule(data_dir=str(tmp_path), batch_size=300, val_size=0, labels=True)
    mnist.setup("fit")
    x, y = mnist.on_after_batch_transfer(next(iter(mnist.train_dataloader())), 0)
    assert mnist.num_classes == 10 and x.shape == (300, 1, 28, 28) and y.dtype == torch.int64
    # Each image comes with its own digit: match the batch back to the files.
    index = {images[i].tobytes(): int(digits[i]) for i in range(len(images))}
    as_uint8 = ((x + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()
    assert [index[img.tobytes()] for img in as_uint8] == y.tolist()
    assert MNISTDataModule(data_dir=str(tmp_path)).num_classes is None  # unlabelled: bare tensors, as before

    stacked = StackedMNISTDataModule(data_dir=str(tmp_path), train_size=64, batch_size=64, val_size=30, labels=True)
    stacked.setup("fit")
    _, modes = next(iter(stacked.train_dataloader()))
    assert stacked.num_classes == 1000 and set(modes.tolist()) <= set(stacked.train_modes.tolist())
    assert modes.min() >= 0 and modes.max() < 1000

    ring = GaussianMixtureDataModule(layout="ring8", batch_size=500, epoch_length=1, labels=True)
    x, y = next(iter(ring.train_dataloader()))
    assert ring.num_classes == 8 and torch.equal(torch.cdist(x, ring.means).argmin(1), y)
    assert isinstance(next(iter(GaussianMixtureDataModule(epoch_length=1).train_dataloader())), torch.Tensor)


def conditional_ring_model(conditioning="projection", classify_fakes=True, classification_weight=1.0, **kwargs):
    terms = [] if conditioning == "projection" else [ClassificationLoss(classification_weight, classify_fakes)]
    return NSGAN(MLPGenerator(latent_dim=8, output_shape=[2], hidden=[64, 64], num_classes=8),
                 MLPDiscriminator(input_shape=[2], hidden=[64, 64], num_classes=8, conditioning=conditioning),
                 optimizer_g=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.5, 0.999)),
                 optimizer_d=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.5, 0.999)), regularizers=terms, **kwargs)


def accuracy(model, data) -> float:
    metrics = SampleMetrics(num_samples=800, metrics=["accuracy"])
    metrics.setup(data, None)
    return float(metrics.evaluate(model, seed=1)["accuracy"])


class RecordLogs(L.Callback):
    def on_train_end(self, trainer, pl_module):
        self.logged = dict(trainer.callback_metrics)


@pytest.mark.parametrize("conditioning, classify_fakes", [("projection", True), ("auxiliary", True), ("both", False)])
def test_a_conditional_gan_learns_to_put_each_class_on_its_mode(conditioning, classify_fakes):
    L.seed_everything(0)
    data = GaussianMixtureDataModule(layout="ring8", batch_size=128, epoch_length=600, labels=True)
    model = conditional_ring_model(conditioning, classify_fakes=classify_fakes)
    before = accuracy(model, data)
    logs = RecordLogs()
    L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0, log_every_n_steps=50, callbacks=[logs]).fit(model, data)
    after = accuracy(model, data)
    assert before < 0.4 and after > 0.9, (before, after)
    # AC-GAN's class head is trained: its cross-entropy on real samples is logged and near 0 on these modes.
    assert ("train/d_class" in logs.logged) == (conditioning != "projection")
    if conditioning != "projection":
        assert float(logs.logged["train/d_class"]) < 0.3


@pytest.mark.parametrize("conditioning", ["auxiliary", "both"])
def test_classify_fakes_decides_whether_d_learns_the_classes_of_generated_samples(conditioning):
    """D's loss is the objective's plus w * (CE(real classes) + CE(fake classes)) (Odena et al.), or
    w * CE(real classes) alone with ``classify_fakes: false``; G's loss has w * CE(fake classes) either way."""
    torch.manual_seed(0)
    real, fake, labels = torch.randn(16, 2), torch.randn(16, 2), torch.randint(0, 8, (16,))
    models = {flag: conditional_ring_model(conditioning, classify_fakes=flag, classification_weight=0.7) for flag in (True, False)}
    models[False].load_state_dict(models[True].state_dict())
    terms = {flag: model.critic_loss(real, fake, 0, labels) for flag, model in models.items()}
    fake_classes = models[True].critic(fake, labels).classes
    fake_ce = torch.nn.functional.cross_entropy(fake_classes, labels)
    torch.testing.assert_close(terms[True]["d_loss"] - terms[False]["d_loss"], 0.7 * fake_ce)
    torch.testing.assert_close(terms[True]["d_class"], terms[False]["d_class"])


def test_the_fixed_grid_has_one_row_per_class(tmp_path):
    generator = DCGANGenerator(latent_dim=8, image_size=28, channels=1, base_width=8, num_classes=10)
    model = NSGAN(generator, DCGANDiscriminator(image_size=28, channels=1, base_width=8, num_classes=10))
    noise, labels = grid_inputs(model, 80)
    assert labels.tolist() == [c for c in range(10) for _ in range(8)]
    torch.testing.assert_close(noise[:8], noise[8:16])  # the same noise in every row

    class Trainer:  # what SampleGrid reads of a trainer
        sanity_checking, default_root_dir, loggers = False, str(tmp_path), []

    SampleGrid(num_samples=80).on_validation_epoch_end(Trainer(), model)
    grid = Image.open(tmp_path / "plots" / "samples_0000000.png")
    assert grid.size == (8 * 30 + 2, 10 * 30 + 2)  # 8 columns, 10 rows of 28-pixel images, 2-pixel padding


def fit_conditional_ring(tmp_path, *extra):
    return run_cli(["fit", "--config", str(CONFIGS / "cgan_ring8.yaml"), "--trainer.default_root_dir", "runs",
                    "--run_name", "c", "--trainer.max_epochs", "1", "--data.init_args.epoch_length", "20",
                    "--trainer.logger", "false", "--trainer.enable_model_summary", "false", *extra], cwd=tmp_path)


def test_sample_by_label_writes_samples_with_their_labels(tmp_path):
    fit_conditional_ring(tmp_path)
    ckpt = tmp_path / "runs" / "c" / "checkpoints" / "last.ckpt"
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "30", "--labels", "3", "--output", str(tmp_path / "a.pt")])
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "30", "--labels", "0,5,7", "--output", str(tmp_path / "b.npy")])
    main(["sample", "--ckpt_path", str(ckpt), "--num_samples", "16", "--output", str(tmp_path / "c.pt")])
    a = torch.load(tmp_path / "a.pt")
    assert set(a) == {"samples", "labels"} and a["samples"].shape == (30, 2) and a["labels"].tolist() == [3] * 30
    assert np.load(tmp_path / "b_labels.npy").tolist() == [0, 5, 7] * 10 and np.load(tmp_path / "b.npy").shape == (30, 2)
    assert torch.load(tmp_path / "c.pt")["labels"].tolist() == [c % 8 for c in range(16)]  # all: balanced


@pytest.mark.parametrize("case, message", [
    ("label out of range", "label 8 is outside [0, 8)"),
    ("labels, unconditional", "this checkpoint's model is unconditional"),
    ("labelled config, unlabelled data", "model.num_classes is 8 but GaussianMixtureDataModule yields no labels"),
])
def test_bad_conditional_input_is_one_line(tmp_path, case, message):
    if case == "labelled config, unlabelled data":
        out = run_cli(["fit", "--config", str(CONFIGS / "cgan_ring8.yaml"), "--data.init_args.labels", "false",
                       "--trainer.default_root_dir", "runs"], cwd=tmp_path, check=False)
        assert not (tmp_path / "runs").exists()
    else:
        config = "cgan_ring8.yaml" if case == "label out of range" else "nsgan_ring8.yaml"
        run_cli(["fit", "--config", str(CONFIGS / config), "--trainer.default_root_dir", "runs", "--run_name", "r",
                 "--trainer.max_epochs", "1", "--data.init_args.epoch_length", "5", "--trainer.logger", "false"],
                cwd=tmp_path)
        out = run_cli(["sample", "--ckpt_path", "runs/r/checkpoints/last.ckpt", "--labels", "2,8", "--output", "x.pt"],
                      cwd=tmp_path, check=False)
        assert not (tmp_path / "x.pt").exists()
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr


def test_an_unconditional_checkpoint_of_the_previous_release_still_loads_and_samples(tmp_path):
    """tests/data/nsgan_gaussian_5d68510.ckpt: nsgan_gaussian.yaml fit for 20 iterations by commit 5d68510 (before
    labels), with 100 samples it drew then (`sample --seed 3`)."""
    from helpers import ROOT

    old = ROOT / "tests" / "data" / "nsgan_gaussian_5d68510.ckpt"
    expected = torch.load(ROOT / "tests" / "data" / "nsgan_gaussian_5d68510_samples_seed3.pt")
    main(["sample", "--ckpt_path", str(old), "--num_samples", "100", "--seed", "3", "--output", str(tmp_path / "a.pt")])
    # Equal to float rounding: another CPU's kernels may round a sample (values near 4) one ulp apart (2.4e-7),
    # where a wrongly loaded weight or noise stream would move it by far more.
    same = dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(torch.load(tmp_path / "a.pt"), expected, **same)  # the generator alone
    from gan_lightning.sample import draw, load_model

    model = load_model(old)  # the whole model, as evaluate loads it
    assert model.num_classes is None and model.ema is not None and model.latent.seed == 0
    torch.testing.assert_close(draw(model, 100, seed=3), expected, **same)


def test_evaluate_a_conditional_mnist_run_reports_accuracy_and_intra_fid(tmp_path):
    import json

    from gan_lightning.metrics import MNISTFeatures
    from images import write_real_mnist

    write_real_mnist(tmp_path / "data")
    run_cli(["fit", "--config", str(CONFIGS / "cgan_mnist.yaml"), *TINY_MNIST, "--trainer.logger", "false",
             "--run_name", "digits"], cwd=tmp_path)
    run_cli(["evaluate", "--ckpt_path", "last", "--num_samples", "200", "--wandb", "false"], cwd=tmp_path)
    metrics = json.loads((tmp_path / "runs" / "digits" / "checkpoints" / "eval-0000003.json").read_text())["metrics"]
    assert {"accuracy", "intra_fid", "fid", "classes"} <= set(metrics) and metrics["intra_fid"] > 0
    # The accuracy is the shipped classifier's agreement with the labels `sample --labels all` draws (same seed).
    run_cli(["sample", "--ckpt_path", "last", "--num_samples", "200", "--labels", "all", "--output", "s.pt"], cwd=tmp_path)
    drawn = torch.load(tmp_path / "s.pt")
    with torch.no_grad():
        _, probabilities = MNISTFeatures().eval().features_and_probabilities(drawn["samples"] * 2 - 1)
    expected = float((probabilities.argmax(-1).flatten() == drawn["labels"]).float().mean())
    assert metrics["accuracy"] == pytest.approx(expected, abs=1e-6)



@pytest.mark.parametrize("objective", ["GAN", "NSGAN", "WGAN", "WGANGP", "Hinge", "LSGAN", "RpGAN"])
def test_every_objective_and_regularizer_trains_conditionally(objective):
    """The shared step with labels: each objective (WGAN-GP's penalty, RpGAN's R1 + R2 differentiate D(., y))
    updates both networks, class embeddings included, with finite losses."""
    from test_objectives import OBJECTIVES

    L.seed_everything(0)
    template = conditional_ring_model()
    model = OBJECTIVES[objective](template.generator, template.discriminator)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logs = RecordLogs()
    data = GaussianMixtureDataModule(layout="ring8", batch_size=32, batches_per_step=model.n_critic, epoch_length=4,
                                     labels=True)
    L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0, log_every_n_steps=1, callbacks=[logs]).fit(model, data)
    for key in ("generator.embed.weight", "discriminator.projection.embed.weight"):
        assert not torch.equal(before[key], model.state_dict()[key]), key
    assert all(torch.isfinite(v) for k, v in logs.logged.items() if k.startswith("train/"))
    if objective in ("WGANGP", "RpGAN"):
        assert {"WGANGP": "train/gp", "RpGAN": "train/r1"}[objective] in logs.logged
