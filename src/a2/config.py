"""Parameters: the one place where YAML meets the library.

Every key a section may take is declared once in ``SPECS`` with its type and
valid range. A params file is checked against it before any work starts; a bad
file raises :class:`ParamsError`, whose message names the file, the key and the
valid values (the CLI and the build print it without a traceback).

Params files and ``--set`` values are read by a YAML loader made for them:
numbers in the notation people write (``1e-3``, ``5E2``: YAML 1.1 reads
them as strings), no anchors or aliases (a few lines of them expand to
billions of values), no duplicate keys, bounded size and nesting. Every
number must be finite and sizes have upper bounds, so a bad value fails
here, not hours into a run or in a huge allocation.
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


POSITIVE = Spec("float", "a number > 0", _pos)
NONNEGATIVE = Spec("float", "a number >= 0", _nonneg)


def _within(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: lo <= v <= hi


def ints(lo: int, hi: int, note: str = "") -> Spec:
    """An integer in [lo, hi]; the bound keeps a typo from asking for a
    huge allocation."""
    return Spec("int", f"an integer from {lo} to {hi}{note}", _within(lo, hi))


def int_list(lo: int, hi: int, most: int, note: str = "") -> Spec:
    return Spec(
        "int_list",
        f"a list of 1 to {most} integers from {lo} to {hi}{note}",
        lambda v: 0 < len(v) <= most and all(lo <= x <= hi for x in v),
    )


def int_or_none(hi: int, note: str) -> Spec:
    return Spec(
        "int_or_none",
        f"{note} or an integer from 1 to {hi}",
        lambda v: v is None or 1 <= v <= hi,
    )


SEED_MAX = 2**32 - 1  # numpy's and torch's seeds are 32-bit unsigned
SEED_NOTE = " (2**32 - 1)"
MODELS = ("pool_upsample", "conv_transpose", "unet")
DEVICES = ("auto", "cpu", "cuda")

# The keys of a training run (RunConfig, `python -m a2 train --set`) and
# of the data; the sections' own keys live in a2.params.
SPECS: dict[str, Spec] = {
    "model": Spec("str", "one of " + ", ".join(MODELS), lambda v: v in MODELS),
    "models": Spec(
        "str_list",
        "a non-empty list of " + ", ".join(MODELS),
        lambda v: len(v) > 0 and all(m in MODELS for m in v),
    ),
    "kernel": Spec(
        "int",
        "3, 4 or 5 (odd only for pool_upsample)",
        lambda v: v in (3, 4, 5),
    ),
    "num_filters": ints(1, 1024),
    "num_colours": ints(2, 256),
    "dilation": Spec(
        "int", "1 (the handout's transposed convolutions)", lambda v: v == 1
    ),
    "lr": POSITIVE,
    "batch_size": ints(1, 65536),
    "batch_sizes": int_list(1, 65536, 32),
    # Epochs are time, not memory: each one is saved as it finishes.
    "epochs": Spec("int", "an integer >= 1", _pos),
    "sweep_epochs": Spec("int", "an integer >= 1", _pos),
    "seed": ints(0, SEED_MAX, SEED_NOTE),
    "seeds": int_list(0, SEED_MAX, 32, SEED_NOTE),
    "label": Spec(
        "int", "a CIFAR-10 class label, 0..9", lambda v: 0 <= v <= 9
    ),
    "n_train": int_or_none(10**6, "null (all)"),
    "n_valid": int_or_none(10**6, "null (all)"),
    "n_samples": ints(1, 64),
    "shuffle": Spec(
        "str",
        "'epoch' (reshuffle every epoch) or 'once'",
        lambda v: v in ("epoch", "once"),
    ),
    "device": Spec(
        "str", "one of " + ", ".join(DEVICES), lambda v: v in DEVICES
    ),
    "palette": Spec(
        "str_or_none", "null (k-means) or a path to a palette file"
    ),
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


def _finite(kind: str, v: Any) -> bool:
    """No inf or nan in a float key (an int too large for a float is
    infinite as one)."""
    if not kind.startswith("float"):
        return True
    values = v if isinstance(v, list) else [v]
    try:
        return all(x is None or math.isfinite(float(x)) for x in values)
    except OverflowError:
        return False


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 8, 8
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 80, 80, 40
MAX_SHOWN = 120  # characters of a value in a message


def shown(value: Any) -> str:
    """``repr(value)``, cut short: a message stays one readable line
    whatever a file holds."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # an int too long for repr, a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def suggest(key: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for a near miss, else ''."""
    if len(key) > 64:  # no near miss, and difflib is slow on long keys
        return ""
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_spec(key: str, spec: Spec, value: Any, where: str = "") -> Any:
    """Check one value against a spec; floats given as ints become
    floats. The message names the key and the valid values."""
    prefix = f"{where}: " if where else ""
    if not _type_ok(spec.kind, value):
        raise ParamsError(
            f"{prefix}key '{key}' has value {shown(value)}; "
            f"valid: {spec.valid}"
        )
    if not _finite(spec.kind, value):
        raise ParamsError(
            f"{prefix}key '{key}' has value {shown(value)}, "
            f"not a finite number; valid: {spec.valid}"
        )
    if not spec.check(value):
        raise ParamsError(
            f"{prefix}key '{key}' has value {shown(value)}; "
            f"valid: {spec.valid}"
        )
    if spec.kind == "float":
        return float(value)
    return value


def check_value(key: str, value: Any, where: str = "") -> Any:
    """Check one value of a key of ``SPECS``."""
    if key not in SPECS:
        prefix = f"{where}: " if where else ""
        raise ParamsError(
            f"{prefix}unknown key {shown(key)}{suggest(str(key), SPECS)}"
        )
    return check_spec(key, SPECS[key], value, where)


# --- the YAML loader for params files and --set values ---------------------

MAX_PARAMS_BYTES = 1 << 16  # a params file is a few lines; 64 KiB is plenty
MAX_DEPTH = 8  # nesting of lists and mappings; params need 2
_FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.1's floats plus YAML 1.2's: an exponent without a dot or sign
# (1e-3, 5E2, 1.0e3). A plain integer stays an integer.
_FLOAT = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Refused(yaml.YAMLError):
    """YAML that a params file may not use; the message says what."""


class _ParamsLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the changes the module docstring lists."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(
            event, "anchor", None
        ):
            raise _Refused(
                f"line {line}: anchors and aliases (&name, "
                f"*name) are not allowed in params"
            )
        depth = getattr(self, "_depth", 0)
        if depth > MAX_DEPTH:
            raise _Refused(
                f"line {line}: nested deeper than {MAX_DEPTH} levels"
            )
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _Refused(
                        f"line {key_node.start_mark.line + 1}: "
                        f"key {shown(key)} appears twice"
                    )
                seen.add(key)
            except TypeError:
                pass  # unhashable: the constructor below reports it
        return super().construct_mapping(node, deep)


_ParamsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ParamsLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


def parse_yaml(text: str) -> Any:
    """YAML text as params read it (see the module docstring); any problem
    is a ParamsError without a location, which callers add."""
    try:
        return yaml.load(text, Loader=_ParamsLoader)
    except _Refused as err:
        raise ParamsError(str(err)) from None
    except RecursionError:
        raise ParamsError(f"nested deeper than {MAX_DEPTH} levels") from None
    except Exception as err:  # YAMLError; ValueError for a 5000-digit int
        raise ParamsError(f"not valid YAML ({_one_line(err)})") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a params file, turning every failure into a ParamsError."""
    path = Path(path)
    if path.is_dir():
        raise ParamsError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise ParamsError(
                f"{path}: {size} bytes; a params file is at "
                f"most {MAX_PARAMS_BYTES} bytes"
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParamsError(
            f"{path}: not UTF-8 text (byte "
            f"0x{err.object[err.start]:02x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        data = parse_yaml(text)
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{path}: expected a mapping of key: value, "
            f"got {type(data).__name__}"
        )
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """'key=value' from the command line, the value read as YAML."""
    quoted = shown(text)
    if "=" not in text:
        raise ParamsError(f"--set {quoted}: expected key=value")
    if len(text) > MAX_PARAMS_BYTES:
        raise ParamsError(
            f"--set {quoted}: longer than {MAX_PARAMS_BYTES} characters"
        )
    key, _, value = text.partition("=")
    try:
        return key.strip(), parse_yaml(value)
    except ParamsError as err:
        raise ParamsError(f"--set {quoted}: value {err}") from None
