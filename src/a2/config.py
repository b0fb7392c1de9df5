"""Parameters: the one place where YAML meets the library.

Every key a section may take is declared once in ``SPECS`` with its type and
valid range. A params file is checked against it before any work starts; a bad
file raises :class:`ParamsError`, whose message names the file, the key and the
valid values (the CLI and the build print it without a traceback).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml


class ParamsError(ValueError):
    """A params file or override that cannot be used; the message says why."""


@dataclass(frozen=True)
class Spec:
    # "int", "float", "str", "bool", "int_list", "float_list", "str_list",
    # "str_or_none" or "int_or_none"
    kind: str
    valid: str  # what a user may write, shown in errors
    check: Callable[[Any], bool] = lambda v: True


def _pos(v: Any) -> bool:
    return v > 0


def _nonneg(v: Any) -> bool:
    return v >= 0


def _all_pos(v: list) -> bool:
    return len(v) > 0 and all(x > 0 for x in v)


def _all_nonneg(v: list) -> bool:
    return len(v) > 0 and all(x >= 0 for x in v)


MODELS = ("pool_upsample", "conv_transpose", "unet")
DEVICES = ("auto", "cpu", "cuda")

SPECS: dict[str, Spec] = {
    # Colourisation runs (sections 4, 5).
    "model": Spec("str", "one of " + ", ".join(MODELS), lambda v: v in MODELS),
    "models": Spec("str_list", "a non-empty list of " + ", ".join(MODELS),
                   lambda v: len(v) > 0 and all(m in MODELS for m in v)),
    "kernel": Spec("int", "3, 4 or 5 (odd only for pool_upsample)",
                   lambda v: v in (3, 4, 5)),
    "num_filters": Spec("int", "an integer >= 1", _pos),
    "num_colours": Spec("int", "an integer >= 2", lambda v: v >= 2),
    "dilation": Spec("int", "1 (the handout's transposed convolutions)",
                     lambda v: v == 1),
    "lr": Spec("float", "a number > 0", _pos),
    "batch_size": Spec("int", "an integer >= 1", _pos),
    "batch_sizes": Spec("int_list", "a non-empty list of integers >= 1",
                        _all_pos),
    "epochs": Spec("int", "an integer >= 1", _pos),
    "sweep_epochs": Spec("int", "an integer >= 1", _pos),
    "seed": Spec("int", "an integer >= 0", _nonneg),
    "seeds": Spec("int_list", "a non-empty list of integers >= 0",
                  _all_nonneg),
    "label": Spec("int", "a CIFAR-10 class label, 0..9",
                  lambda v: 0 <= v <= 9),
    "n_train": Spec("int_or_none", "null (all) or an integer >= 1",
                    lambda v: v is None or v > 0),
    "n_valid": Spec("int_or_none", "null (all) or an integer >= 1",
                    lambda v: v is None or v > 0),
    "n_samples": Spec("int", "an integer >= 1", _pos),
    "shuffle": Spec("str", "'epoch' (reshuffle every epoch) or 'once'",
                    lambda v: v in ("epoch", "once")),
    "device": Spec("str", "one of " + ", ".join(DEVICES),
                   lambda v: v in DEVICES),
    "palette": Spec("str_or_none",
                    "null (k-means) or a path to a palette file"),
    # Theory experiments (sections 1-3).
    "n": Spec("int", "an integer >= 1", _pos),
    "d": Spec("int", "an integer >= 1", _pos),
    "steps": Spec("int", "an integer >= 1", _pos),
    "instances": Spec("int", "an integer >= 1", _pos),
    "trials": Spec("int", "an integer >= 1", _pos),
    "eta": Spec("float", "a number > 0", _pos),
    "beta": Spec("float", "a number in [0, 1)", lambda v: 0 <= v < 1),
    "eps": Spec("float", "a number > 0", _pos),
    "weight_decay": Spec("float", "a number >= 0", _nonneg),
    "noise_std": Spec("float", "a number >= 0", _nonneg),
    "curvature": Spec("float", "a number > 0", _pos),
    "target_loss": Spec("float", "a number > 0", _pos),
    "grid_points": Spec("int", "an integer >= 2", lambda v: v >= 2),
    # --- Sections 1-3 additions (minnorm, weightdecay, scaling) ---
    "adaptive_lr": Spec("float", "a number > 0", _pos),
    "adaptive_steps": Spec("int", "an integer >= 1", _pos),
    "base_params": Spec("float", "a number > 0 (non-embedding parameters)",
                        _pos),
    "base_steps": Spec("int_or_none", "null (stop at the compute-efficient "
                       "frontier) or an integer >= 1",
                       lambda v: v is None or v > 0),
    "compute_factor": Spec("float", "a number > 1", lambda v: v > 1),
    # --- end of sections 1-3 additions ---
}

_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
}


def _type_ok(kind: str, v: Any) -> bool:
    if kind.endswith("_or_none"):
        return v is None or _type_ok(kind[: -len("_or_none")], v)
    if kind.endswith("_list"):
        return isinstance(v, list) and all(_type_ok(kind[:-5], x) for x in v)
    # bool is an int in Python; a YAML `true` is never a valid number here.
    if isinstance(v, bool) and kind != "bool":
        return False
    return isinstance(v, _TYPES[kind])


def suggest(key: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for a near miss, else ''."""
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_value(key: str, value: Any, where: str = "") -> Any:
    """Check one value against its spec; floats given as ints become floats."""
    prefix = f"{where}: " if where else ""
    if key not in SPECS:
        raise ParamsError(f"{prefix}unknown key '{key}'{suggest(key, SPECS)}")
    spec = SPECS[key]
    if not _type_ok(spec.kind, value) or not spec.check(value):
        raise ParamsError(
            f"{prefix}key '{key}' has value {value!r}; valid: {spec.valid}")
    if spec.kind == "float":
        return float(value)
    return value


def validate(raw: Any, allowed: dict[str, Any], where: str) -> dict[str, Any]:
    """Check a mapping of overrides against the keys a section takes.

    ``allowed`` holds the section's defaults (its notebook's parameters cell);
    a key outside it is an error with a suggestion, even when it is a key some
    other section takes.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{where}: expected a mapping of key: value, "
                          f"got {type(raw).__name__}")
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            valid = ", ".join(sorted(allowed))
            raise ParamsError(f"{where}: unknown key '{key}'"
                              f"{suggest(str(key), list(allowed))}; "
                              f"valid keys: {valid}")
        out[key] = check_value(key, value, where)
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a params file, turning every failure into a ParamsError."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML ({err})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of key: value, "
                          f"got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """'key=value' from the command line, the value read as YAML."""
    if "=" not in text:
        raise ParamsError(f"--set {text!r}: expected key=value")
    key, _, value = text.partition("=")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ParamsError(f"--set {text!r}: value is not valid YAML") from None


type_ok = _type_ok  # for the section schemas in a2.params


def short(value: Any, limit: int = 60) -> str:
    """repr of a value for an error message, cut to ``limit`` characters
    (a huge value must not flood, or stall, the message)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
