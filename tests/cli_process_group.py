"""``python -m gan_lightning ARGS`` as a script (Lightning's launcher starts rank 1 with the same command
line) that then writes whether a ``torch.distributed`` process group is still open as the process is
about to exit: "True" or "False" in ``group-open-rank<LOCAL_RANK>.txt`` in the current folder.

    python tests/cli_process_group.py fit --config ... --trainer.strategy ddp --trainer.devices 2
"""

import os
import sys
from pathlib import Path

from gan_lightning.commands import main, process_group_open

if __name__ == "__main__":
    main()
    Path(f"group-open-rank{os.environ.get('LOCAL_RANK', '0')}.txt").write_text(str(process_group_open()))
