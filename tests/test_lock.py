"""The environment is locked: requirements.txt pins every package the
venv holds, `make venv` installs exactly those, and this test fails when
the venv running the suite and the lock disagree (names and versions;
the editable a2 itself aside)."""

from __future__ import annotations

import re
import sysconfig
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def locked() -> dict[str, str]:
    """The lock's pins by canonical name; any other line fails."""
    pins: dict[str, str] = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"requirements.txt: not a pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"requirements.txt: {name} twice"
        pins[name] = match[2]
    return pins


def installed() -> dict[str, str]:
    """Every distribution in the running venv's site-packages."""
    folders = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in distributions(path=sorted(folders))
    }


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_the_venv_holds_exactly_the_lock() -> None:
    have, want = installed(), locked()
    have.pop("a2")  # the project itself, installed editable
    # `make pdf` installs the pinned quarto-cli when it finds no Quarto.
    (quarto,) = map(
        Requirement, pyproject()["optional-dependencies"]["quarto"]
    )
    if have.get("quarto-cli") in quarto.specifier:
        have.pop("quarto-cli")
    differ = {
        name: (have.get(name, "missing"), want.get(name, "not in the lock"))
        for name in sorted(have.keys() | want.keys())
        if have.get(name) != want.get(name)
    }
    assert differ == {}, (
        "the venv (left) and requirements.txt (right) disagree; "
        "`make venv` installs the lock, `make lock` writes a new one: "
        f"{differ}"
    )


def test_the_lock_holds_what_pyproject_asks_for() -> None:
    """Each requirement of pyproject.toml (and its dev extra) is locked at
    a version it allows; torch and torchvision at the build on disk."""
    pins = locked()
    project = pyproject()
    asked = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in map(Requirement, asked):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.txt"
        assert pins[name] in requirement.specifier, (requirement, pins[name])
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")


def test_environment_yml_and_make_venv_read_the_lock() -> None:
    assert "- -r requirements.txt" in (REPO / "environment.yml").read_text()
    venv = (REPO / "Makefile").read_text()
    assert "pip install -q --no-deps -r requirements.txt" in venv
    assert "pip check" in venv  # the lock is whole
