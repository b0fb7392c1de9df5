"""Params files read safely: the one place where YAML meets the library.

Params files and ``--set`` values are read by a YAML loader made for them:
numbers in the notation people write (``1e-3``, ``5E2``: YAML 1.1 reads
them as strings), no anchors or aliases (a few lines of them expand to
billions of values), no duplicate keys, bounded size and nesting. What
the keys mean and accept is ``a2.config.params``'s concern; every problem,
here or there, is a :class:`ParamsError` whose one-line message names
the file (the CLI and the build print it without a traceback).
"""

from __future__ import annotations

import difflib
import re
import reprlib
from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """A params file or override that cannot be used; the message says why."""


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
    from a2.fileio import FileRefused, read_bounded

    path = Path(path)
    try:
        if path.is_dir():
            raise ParamsError(f"{path}: is a folder, not a file")
        if not path.exists():
            raise ParamsError(f"{path}: params file not found")
        text = read_bounded(path, MAX_PARAMS_BYTES).decode("utf-8")
    except FileRefused as err:  # a pipe, a device, too large
        raise ParamsError(f"{path}: {err}") from None
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
    return mapping(data, str(path))


def mapping(data: Any, where: str) -> dict[str, Any]:
    """``data`` as the mapping of key: value that a params file or a
    profile's entry holds (``None``, an empty entry, is no keys)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{where}: expected a mapping of key: value, "
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
