"""Two CPU ranks (gloo) fit WGAN-GP; once training has ended, rank 0 waits for rank 1 to exit, then it and
W&B's service are sent SIGTERM, as a SLURM step that is ending signals the ranks still tearing down: the
script behind test_faults.py's test of it. Prints "fit ended" on rank 0 when fit returns. Rank 1's exit
code is printed, not asserted: a gloo process group left to the interpreter's exit (this script builds
its Trainer itself, without the CLI, which closes the group) aborts a process now and then ("terminate
called without an active exception", about 1 run in 17 here), which is not what this script is about.

    python tests/sigterm_after_training.py ROOT
"""

import os
import signal
import subprocess
import sys
import time

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from gan_lightning.callbacks import CheckpointOnInterrupt
from gan_lightning.data import GaussianDataModule
from gan_lightning.models import WGANGP
from gan_lightning.networks import MLPDiscriminator, MLPGenerator


class SigtermOnceThePeerHasExited(L.Callback):
    def on_train_end(self, trainer, pl_module):
        if trainer.global_rank != 0:
            return
        (peer,) = trainer.strategy.launcher.procs  # rank 1, started by rank 0
        deadline = time.monotonic() + 60
        while peer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"rank 1 exit code {peer.returncode}", flush=True)
        # The whole job is signalled, W&B's service (rank 0's other child) too.
        children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
        assert children, "W&B's service is not running"
        for child in children:
            os.kill(int(child), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)


def main(root):
    L.seed_everything(0)
    model = WGANGP(MLPGenerator(4, [1], [16, 16]), MLPDiscriminator([1], [16, 16]), n_critic=1)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_epochs=1,
                        logger=WandbLogger(save_dir=root, offline=True), enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        default_root_dir=root,
                        callbacks=[CheckpointOnInterrupt(), SigtermOnceThePeerHasExited()])
    trainer.fit(model, GaussianDataModule(batch_size=16, epoch_length=3))
    if trainer.global_rank == 0:
        print("fit ended", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
