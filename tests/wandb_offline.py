"""Reads an offline W&B run back from disk: the ``run-<id>.wandb`` file.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic 0xBEE1, version), then 32 KiB
blocks of chunks, each with a 7-byte header (CRC32, little-endian uint16 length, type: 1 full,
2 first, 3 middle, 4 last) around a serialized ``wandb_internal_pb2.Record``.
"""

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path):
    data = Path(path).read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:HEADER])
    assert ident == b":W&B" and magic == 0xBEE1, f"{path} is not a W&B log"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # too little room for a chunk header: the block is padded
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            pending = chunk
        elif kind == FIRST:
            pending = chunk
            continue
        elif kind == MIDDLE:
            pending += chunk
            continue
        elif kind == LAST:
            pending += chunk
        else:
            break  # zero padding at the end of the file
        record = wandb_internal_pb2.Record()
        record.ParseFromString(pending)
        yield record


def read_run(run_dir: Path) -> dict:
    """History rows, config, logged file names and run facts (id, group, tags) of the offline run in ``run_dir``."""
    (path,) = Path(run_dir).glob("run-*.wandb")
    history, config, files, run = [], {}, [], {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item})
        elif kind == "config":
            for item in record.config.update:
                config[item.key] = json.loads(item.value_json)
        elif kind == "run":
            run = {"id": record.run.run_id, "group": record.run.run_group, "tags": list(record.run.tags)}
        elif kind == "files":
            files.extend(f.path for f in record.files.files)
    return {"history": history, "config": config, "files": files, "run": run}
