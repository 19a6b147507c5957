"""Read a transformers checkpoint (a local directory or a hub id) as `config.json` + NumPy tensors."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"
#: `owner/name`, as the Hugging Face hub spells repository ids.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message names what is wrong and the fix."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One transformers checkpoint in memory.

    Attributes:
        source: the directory or hub id it was read from.
        config: the parsed `config.json`.
        tensors: `{state-dict key: float32/int array}` in PyTorch layout (Linear weights `(out, in)`).
        preprocessor: the parsed `preprocessor_config.json`, or `None` when there is none.
    """

    source: str
    config: dict
    tensors: dict[str, np.ndarray]
    preprocessor: dict | None = None


def read_checkpoint(source: str | os.PathLike) -> Checkpoint:
    """Read `source`: a directory in the transformers layout or, where the network allows, a hub id.

    The directory holds `config.json` and `model.safetensors` (or a sharded
    `model.safetensors.index.json`, or `pytorch_model.bin`, which needs torch). Safetensors are
    read with the `safetensors` package's NumPy API: converting needs no torch.

    Raises:
        ConversionError: a missing directory or file, a missing package, a failed download.
    """
    text = os.fspath(source)
    folder = Path(text)
    if not folder.exists():
        if not HUB_ID.match(text):
            raise ConversionError(f"{text!r} is neither a checkpoint directory nor a hub id like "
                                  "'deepmind/vision-perceiver-fourier'.")
        folder = _download(text)
    if not folder.is_dir():
        raise ConversionError(f"{text!r} is a file; pass the directory that holds {CONFIG_FILE} and the weights.")
    config = _read_json(folder / CONFIG_FILE, required=True)
    preprocessor = _read_json(folder / PREPROCESSOR_FILE, required=False)
    return Checkpoint(text, config, _read_tensors(folder), preprocessor)


def _read_json(path: Path, required: bool) -> dict | None:
    if not path.is_file():
        if required:
            raise ConversionError(f"{str(path.parent)!r} has no {path.name}: a transformers checkpoint directory holds "
                                  f"{CONFIG_FILE} and {SAFETENSORS_FILE} (or {TORCH_FILE}).")
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ConversionError(f"{str(path)!r} is not valid JSON ({error}).") from error


def _read_tensors(folder: Path) -> dict[str, np.ndarray]:
    if (folder / SAFETENSORS_FILE).is_file():
        return _read_safetensors([folder / SAFETENSORS_FILE])
    if (folder / SAFETENSORS_INDEX).is_file():
        shards = sorted(set(_read_json(folder / SAFETENSORS_INDEX, True).get("weight_map", {}).values()))
        return _read_safetensors([folder / shard for shard in shards])
    if (folder / TORCH_FILE).is_file():
        return _read_torch(folder / TORCH_FILE)
    raise ConversionError(f"{str(folder)!r} has no weights: expected {SAFETENSORS_FILE}, {SAFETENSORS_INDEX} or "
                          f"{TORCH_FILE}.")


def _read_safetensors(paths: list[Path]) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError as error:
        raise ConversionError("reading safetensors needs the safetensors package: pip install "
                              "'perceiver_tf[convert]' (or pip install safetensors).") from error
    tensors = {}
    for path in paths:
        if not path.is_file():
            raise ConversionError(f"the shard {str(path)!r} named in {SAFETENSORS_INDEX} is missing.")
        try:
            tensors.update(load_file(str(path)))
        except Exception as error:  # noqa: BLE001 - safetensors raises its own error types
            raise ConversionError(f"{str(path)!r} is not a readable safetensors file ({error}).") from error
    return tensors


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as error:
        raise ConversionError(f"{str(path)!r} is a PyTorch pickle, which needs torch to read: pip install torch, or "
                              "save the checkpoint as safetensors (model.save_pretrained(..., "
                              "safe_serialization=True)).") from error
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {key: value.float().numpy() if value.is_floating_point() else value.numpy() for key, value in state.items()}


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise ConversionError(f"{repo_id!r} is not a local directory; downloading it needs huggingface_hub: pip "
                              "install 'perceiver_tf[convert]', or download the checkpoint elsewhere and pass its "
                              "directory.") from error
    patterns = [CONFIG_FILE, PREPROCESSOR_FILE, "*.safetensors", SAFETENSORS_INDEX]
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=patterns))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(repo_id, allow_patterns=[CONFIG_FILE, PREPROCESSOR_FILE, TORCH_FILE]))
    except Exception as error:  # noqa: BLE001 - network, authentication and missing-repository errors alike
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConversionError(f"could not download {repo_id!r} from the Hugging Face hub ({reason}); check the id "
                              "and the network, or download it elsewhere and pass its directory.") from error
    return folder
