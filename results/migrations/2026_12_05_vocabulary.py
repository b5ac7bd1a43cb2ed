"""One-off migration of the committed records to one vocabulary at the edges (issue "one
vocabulary at the edges as well").

In every train line under ``results/`` (``params``, the ``--param`` tokens of ``command`` and
``resolved_params``):

* the kernel models' ``protocol`` is folded into ``validation_fraction``, which now means for
  them what it means for every model: ``protocol="paper"`` (a fixed length, the published
  number of epochs; the recorded ``validation_fraction`` was ignored) becomes
  ``validation_fraction=0``, and ``protocol="validated"`` keeps the recorded share of the
  training ratings carved off (``--param protocol=validated`` becomes ``--param
  validation_fraction=<that share>``);
* AutoRec's and the deep autoencoder's ``default_rating`` (the rating predicted for an unseen
  user or item) is ``fallback_rating``.

The figures are untouched (the models compute the same functions with the same seeds) and a
line without an old name is left byte for byte as it was, so running it twice changes nothing.
Usage: ``python results/migrations/2026_12_05_vocabulary.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1]

KERNEL_MODELS = ("sparse-fc", "glocal-k")
RENAMED = {"default_rating": "fallback_rating"}


def _value_text(value) -> str:
    """A parameter value as ``--param`` writes it (``0.1``, ``0.0``)."""
    return json.dumps(value)


def _param_pairs(command: list[str]) -> list[tuple[int, int, str, str]]:
    """(first token, tokens taken, key, value text) of every ``--param KEY=VALUE`` of
    ``command``, whether written as two tokens or as ``--param=KEY=VALUE``."""
    pairs, index = [], 0
    while index < len(command):
        token = command[index]
        if token == "--param" and index + 1 < len(command):
            key, _, value = command[index + 1].partition("=")
            pairs.append((index, 2, key.strip(), value))
            index += 2
            continue
        if token.startswith("--param="):
            key, _, value = token[len("--param="):].partition("=")
            pairs.append((index, 1, key.strip(), value))
        index += 1
    return pairs


def migrate_command(command: list[str], fraction) -> list[str]:
    """``command`` with ``protocol`` folded into ``validation_fraction`` (``fraction``: the
    value the line's params now hold) and every renamed key renamed."""
    pairs = _param_pairs(command)
    keys = {key for _, _, key, _ in pairs}
    replace: dict[int, list[str]] = {}   # first token -> tokens that replace the pair
    for start, taken, key, value in pairs:
        if key == "protocol":
            # the one validation_fraction token says the share; a paper run ignored any other
            replace[start] = ["--param", f"validation_fraction={_value_text(fraction)}"]
        elif key == "validation_fraction" and "protocol" in keys:
            replace[start] = []
        elif key in RENAMED:
            replace[start] = ["--param", f"{RENAMED[key]}={value}"]
    if not replace:
        return command
    out, index = [], 0
    spans = {start: taken for start, taken, _, _ in pairs}
    while index < len(command):
        if index in replace:
            out += replace[index]
            index += spans[index]
        else:
            out.append(command[index])
            index += 1
    return out


def migrate_params(model: str, params: dict) -> dict:
    """``params`` in the new names, in the same order (``protocol`` gives way to
    ``validation_fraction``)."""
    fraction = params.get("validation_fraction")
    if model in KERNEL_MODELS and "protocol" in params:
        fraction = 0.0 if params["protocol"] == "paper" else fraction
    out = {}
    for key, value in params.items():
        if key == "protocol" and model in KERNEL_MODELS:
            continue
        if key == "validation_fraction":
            value = fraction
        out[RENAMED.get(key, key)] = value
    return out


def migrate_entry(entry: dict) -> dict:
    command = entry.get("command")
    if not (isinstance(command, list) and command[:1] == ["train"]):
        return entry  # benchmark tables and blends are not train runs
    model = entry.get("model")
    params = entry.get("params")
    if isinstance(params, dict):
        entry["params"] = migrate_params(model, params)
        fraction = entry["params"].get("validation_fraction")
    else:
        fraction = None
    entry["command"] = migrate_command(command, fraction)
    if isinstance(entry.get("resolved_params"), dict):
        entry["resolved_params"] = {RENAMED.get(k, k): v
                                    for k, v in entry["resolved_params"].items()}
    return entry


def migrate_line(line: str) -> str:
    if not line.strip():
        return line
    entry = json.loads(line)
    before = json.dumps(entry, allow_nan=False)
    after = json.dumps(migrate_entry(entry), allow_nan=False)
    return line if after == before else after


def main() -> None:
    changed = files = 0
    for path in sorted(RESULTS.rglob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        old = text.split("\n")
        new = [migrate_line(line) for line in old]
        if new != old:
            path.write_text("\n".join(new), encoding="utf-8")
            changed += sum(a != b for a, b in zip(old, new))
            files += 1
    print(f"{changed} record lines in {files} files now use the vocabulary's names")


if __name__ == "__main__":
    main()
