"""Params files read safely: the one place where YAML meets the library.

Params files and ``--set`` values are read as YAML 1.2 (its core schema),
by PyYAML's safe loader with the rules below. PyYAML follows YAML 1.1,
where ``1:30`` is 90 (base 60), ``yes`` and ``on`` are true, ``012`` is 10
(octal), ``1_000`` is 1000 and ``2024-01-01`` a date; YAML 1.2 reads each
as text or as decimal 12. A file that the two read differently could
train other runs than its author meant, or than another tool would
read, so such a plain value is refused, in one line that gives both
readings and how to write the value so that they agree. Where YAML 1.1
reads text and 1.2 a number (``1e-3``, ``0o17``), the number is meant.

Also refused: merge keys (``<<``, YAML 1.1 only), anchors and aliases (a
few lines of them expand to billions of values), tags (``!!python/...``,
``!!set``: a params file holds plain values), a ``%YAML`` directive
other than 1.2, duplicate keys, and more than 64 KiB or 8 levels of
nesting.

ruamel.yaml, which reads YAML 1.2, was tried instead (0.19, safe and
pure): it still merges ``<<``, expands aliases, makes ``2024-01-01`` a
date and ``1_000`` 1000, so it would need the same rules, and PyYAML is
installed anyway (papermill reads YAML with it).

What the keys mean and accept is ``a2.config.params``'s concern; every
problem, here or there, is a :class:`ParamsError` whose one-line message
names the file (the CLI and the build print it without a traceback).
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
_CORE = "tag:yaml.org,2002:"
# The YAML 1.2 core schema (spec 1.2.2, section 10.3.2), in its order: a
# plain scalar that none of these matches is text. int comes before float
# so that 12 stays an integer.
_YAML12 = [
    ("null", r"~|null|Null|NULL|", [*"~nN", ""]),
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
]
# PyYAML as it stands: YAML 1.1, the reading other tools may give a file.
_YAML11 = yaml.SafeLoader("")


class _Refused(yaml.YAMLError):
    """YAML that a params file may not use; the message says what."""


def _written(value: Any) -> str | None:
    """``value`` as a params file writes it so that YAML 1.1 and 1.2
    read it alike; None for a date (no parameter is one)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def _read_by_yaml11(text: str) -> Any:
    """How PyYAML's YAML 1.1 rules read the plain scalar ``text``."""
    tag = _YAML11.resolve(yaml.ScalarNode, text, (True, False))
    construct = _YAML11.yaml_constructors.get(tag)  # none for << and =
    try:
        return construct(_YAML11, yaml.ScalarNode(tag, text))
    except Exception:  # no constructor; a 5000-digit int
        return text


class _ParamsLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the changes the module docstring lists."""

    def compose_document(self) -> Any:
        event = self.peek_event()
        if getattr(event, "version", None) not in (None, (1, 2)):
            major, minor = event.version
            raise _Refused(
                f"line {event.start_mark.line + 1}: %YAML {major}.{minor}:"
                f" params are read as YAML 1.2; remove the line"
            )
        return super().compose_document()

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
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise _Refused(
                f"line {line}: tags ({tag.replace(_CORE, '!!')[:60]}) are "
                f"not allowed in params; write the plain value"
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

    def compose_scalar_node(self, anchor: Any) -> Any:
        node = super().compose_scalar_node(anchor)
        if node.style is not None:  # quoted or a block: text in both
            return node
        line, text = node.start_mark.line + 1, node.value
        if text == "<<":
            raise _Refused(
                f"line {line}: merge keys (<<) are YAML 1.1 only; params "
                f"are read as YAML 1.2: write each key out"
            )
        old = _read_by_yaml11(text)
        new = self.construct_object(node)
        # Where YAML 1.1 reads text (1e-3, 0o17), 1.2's number is meant.
        if isinstance(old, str) or (type(old), repr(old)) == (
            type(new),
            repr(new),
        ):
            return node
        forms = [f for f in (_written(old), _written(new)) if f]
        was = _written(old) or f"a {type(old).__name__}"
        now = _written(new) + (" (text)" if isinstance(new, str) else "")
        raise _Refused(
            f"line {line}: {text[:40]} is {was} in YAML 1.1 but {now} in "
            f"YAML 1.2, which params follow; write {' or '.join(forms)} "
            f"so that both read it alike"
        )

    def construct_yaml_int(self, node: Any) -> int:
        text = node.value
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set = set()
        for key_node, _ in node.value:
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


_ParamsLoader.yaml_implicit_resolvers = {}
for _name, _pattern, _first in _YAML12:
    _ParamsLoader.add_implicit_resolver(
        _CORE + _name, re.compile(f"^(?:{_pattern})$"), list(_first)
    )
_ParamsLoader.add_constructor(_CORE + "int", _ParamsLoader.construct_yaml_int)


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
