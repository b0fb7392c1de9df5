"""Every parameter, stated once: its name, default, meaning and valid
values (``make params S=4`` lists them).

A set of parameters is a frozen dataclass whose fields are declared with
:func:`key`. A field's type is what a params file must give for it, and
building the dataclass checks every value, so a bad one fails here, in
one line, not hours into a run. Each section's parameters are one such
class (:data:`SCHEMAS`). Sections 4 and 5 and every training run
(:class:`RunConfig`) share :class:`Training`, the handout's training
settings, so those keys and their defaults are written once.

The build checks a section's params file with :func:`validate` before
anything runs; the section's second chunk calls :func:`load`, which lays
the same overrides over the defaults and shows them. Every problem is an
:class:`a2.config.files.ParamsError` naming the file (or ``--set``), the key
and the valid values.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Callable
from dataclasses import Field, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from a2.config.files import ParamsError, mapping, shown, suggest

# --- what a key accepts --------------------------------------------------


@dataclass(frozen=True)
class Valid:
    """What a key accepts: ``text`` for messages, ``ok`` the test that
    follows the type check."""

    text: str
    ok: Callable[[Any], bool] = lambda v: True


def key(default: Any, help: str, valid: Valid, null: str | None = None) -> Any:
    """A parameter: its default, what it means (``describe`` shows it),
    what it accepts, and for a key that may be null, what null means in
    words (the parameters line shows "all", not "null")."""
    meta = {"help": help, "valid": valid, "null": null}
    return field(default=default, metadata=meta)


def ints(lo: int, hi: int, note: str = "") -> Valid:
    """An integer in [lo, hi]: the bound keeps a typo from asking for a
    huge allocation or a week of simulation."""
    return Valid(
        f"an integer from {lo} to {hi}{note}", lambda v: lo <= v <= hi
    )


def int_or_null(hi: int, null: str) -> Valid:
    return Valid(
        f"{null} or an integer from 1 to {hi}",
        lambda v: v is None or 1 <= v <= hi,
    )


def int_list(
    lo: int, hi: int, note: str = "", increasing: bool = False
) -> Valid:
    """1 to 32 integers in [lo, hi], no two equal (a repeat would be
    compared with itself); ``increasing`` where the text reads the list
    from smallest to largest."""
    order = "each larger than the last" if increasing else "no two equal"

    def ok(v: tuple[int, ...]) -> bool:
        ordered = (
            all(a < b for a, b in zip(v, v[1:]))
            if increasing
            else len(set(v)) == len(v)
        )
        return 0 < len(v) <= 32 and all(lo <= x <= hi for x in v) and ordered

    return Valid(
        f"a list of 1 to 32 integers from {lo} to {hi}{note}, {order}", ok
    )


def one_of(*choices: str) -> Valid:
    return Valid("one of " + ", ".join(choices), lambda v: v in choices)


POSITIVE = Valid("a number > 0", lambda v: v > 0)
NONNEGATIVE = Valid("a number >= 0", lambda v: v >= 0)
DECAY = Valid("a number in [0, 1)", lambda v: 0 <= v < 1)
# Epochs are time, not memory: each one is saved as it finishes.
AT_LEAST_ONE = Valid("an integer >= 1", lambda v: v >= 1)
SEED_NOTE = " (2**32 - 1)"  # numpy's and torch's seeds are 32-bit unsigned
SEED = ints(0, 2**32 - 1, SEED_NOTE)
MODELS = ("pool_upsample", "conv_transpose", "unet")
DEVICES = ("auto", "cpu", "cuda")
KERNELS = (3, 4, 5)


def _type_ok(tp: Any, v: Any) -> bool:
    """Is ``v`` of the field type ``tp`` (int, float, str, X | None or
    tuple[X, ...], which a YAML list fills)?"""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple:
        return isinstance(v, (list, tuple)) and all(
            _type_ok(args[0], x) for x in v
        )
    if args:  # X | None
        return any(_type_ok(a, v) for a in args)
    if tp is type(None):
        return v is None
    if isinstance(v, bool):  # a YAML true is never a number here
        return tp is bool
    return isinstance(v, (int, float) if tp is float else tp)


def _checked(name: str, tp: Any, valid: Valid, value: Any) -> Any:
    """``value`` of key ``name`` if it has type ``tp``, is finite and is
    ``valid``; a float given as an int becomes a float, a list a tuple."""

    given = value  # a message shows what the file holds

    def refuse(why: str = "") -> None:
        raise ParamsError(
            f"key '{name}' has value {shown(given)}{why}; valid: {valid.text}"
        )

    if not _type_ok(tp, value):
        refuse()
    scalar = typing.get_origin(tp) is not tuple
    if scalar and float in (tp, *typing.get_args(tp)) and value is not None:
        try:  # an int too large for a float is infinite as one
            value = float(value)
        except OverflowError:
            refuse(", not a finite number")
        if not math.isfinite(value):
            refuse(", not a finite number")
    if not valid.ok(value):
        refuse()
    return tuple(value) if isinstance(value, list) else value


def _plain(value: Any) -> Any:
    """A value as YAML and papermill write it (a tuple as a list)."""
    return list(value) if isinstance(value, tuple) else value


@functools.cache
def _fields(cls: type) -> tuple[tuple[Field, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in fields(cls))


# --- sets of parameters ----------------------------------------------------


@dataclass(frozen=True)
class Params:
    """A set of parameters (subclasses declare them with :func:`key`).
    Building one checks every value; shown in a notebook, it prints one
    line, marking the values that differ from the defaults."""

    stem: ClassVar[str] = ""  # the section whose parameters these are
    trains: ClassVar[tuple[str, ...]] = ()  # networks that section trains

    def __post_init__(self) -> None:
        for f, tp in _fields(type(self)):
            value = getattr(self, f.name)
            value = _checked(f.name, tp, f.metadata["valid"], value)
            object.__setattr__(self, f.name, value)
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve several keys (subclasses)."""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def check(cls, name: str, value: Any, where: str = "") -> Any:
        """One value of key ``name``, checked alone (``--set``)."""
        f, tp = next((f, tp) for f, tp in _fields(cls) if f.name == name)
        try:
            return _plain(_checked(name, tp, f.metadata["valid"], value))
        except ParamsError as err:
            raise ParamsError(
                f"{where}: {err}" if where else str(err)
            ) from None

    @classmethod
    def validate(cls, raw: Any, where: str) -> dict[str, Any]:
        """The overrides in ``raw`` (a params file's mapping), checked
        over the defaults; an unknown key gets a suggestion."""
        raw, names = mapping(raw, where), cls.names()
        for k in raw:
            if k not in names:
                raise ParamsError(
                    f"{where}: unknown key {shown(k)}"
                    f"{suggest(str(k), names)}; valid keys for "
                    f"{cls.stem}: {', '.join(names) or '(none)'}"
                )
        try:
            checked = cls(**raw)
        except ParamsError as err:
            raise ParamsError(f"{where}: {err}") from None
        return {k: _plain(getattr(checked, k)) for k in raw}

    @classmethod
    def describe(cls) -> str:
        """Every key with its default, meaning and valid values."""
        import yaml

        lines = [f"{cls.stem}:"]
        for f in fields(cls):
            value = yaml.safe_dump(_plain(f.default), default_flow_style=True)
            value = value.removesuffix("\n...\n").strip()
            lines.append(
                f"  {f.name}: {value}  # {f.metadata['help']}; "
                f"{f.metadata['valid'].text}"
            )
        return "\n".join(lines)

    def keys(self) -> list[str]:
        return self.names()

    def __getitem__(self, name: str) -> Any:
        """A value as a params file holds it, so that ``dict(p)`` is the
        mapping the build records (lists, not tuples)."""
        if name not in self.names():
            raise KeyError(name)
        return _plain(getattr(self, name))

    def changed(self) -> list[str]:
        return [
            f.name for f in fields(self) if getattr(self, f.name) != f.default
        ]

    def _repr_markdown_(self) -> str:
        """The values as a reader would write them: a null as what it
        means ("all"); nothing at all for a section without parameters."""
        from a2.report import code, fmt

        changed, nbsp = set(self.changed()), "\u00a0"  # a pair never breaks

        def shown(f: Field, v: Any) -> str:
            if v is None and f.metadata["null"]:
                return f.metadata["null"]
            return code(v) if isinstance(v, str) else fmt(v)

        items = [
            f"`{f.name}`{nbsp}={nbsp}{shown(f, getattr(self, f.name))}"
            + ("\\*" if f.name in changed else "")
            for f in fields(self)
        ]
        if not items:
            return ""
        note = " (\\* set by the params file)" if changed else ""
        return f"*Parameters{note}:* " + ", ".join(items) + "."


def _check_kernel(
    kernel: int, networks: tuple[str, ...], dilation: int, what: str
) -> None:
    """The kernel must build every network with handout Fig. 4's shapes
    (an even one cannot keep 4a's in a stride-1 convolution)."""
    from a2.colour.padding import check_kernel

    def problem(k: int) -> str | None:
        for model in networks:
            try:
                check_kernel(model, k, dilation)
            except ValueError as err:
                return f"{model}: {err}"
        return None

    found = problem(kernel)
    if found is not None:
        valid = [str(k) for k in KERNELS if problem(k) is None]
        raise ParamsError(
            f"key 'kernel' has value {kernel}; valid: "
            f"{' or '.join(valid) or 'none'} for {what} ({found})"
        )


@dataclass(frozen=True)
class Training(Params):
    """The handout's training settings (the course's helper code)."""

    kernel: int = key(
        3,
        "convolution kernel size k",
        Valid(
            "3, 4 or 5 (odd only for pool_upsample)", lambda v: v in KERNELS
        ),
    )
    num_filters: int = key(
        32, "NF, the filters of the first convolution", ints(1, 1024)
    )
    lr: float = key(0.001, "Adam learning rate", POSITIVE)
    batch_size: int = key(100, "mini-batch size", ints(1, 65536))
    epochs: int = key(25, "training epochs", AT_LEAST_ONE)
    seed: int = key(0, "seed of the weights and of the data order", SEED)

    def _check_together(self) -> None:
        if self.trains:
            _check_kernel(
                self.kernel,
                self.trains,
                1,
                f"section {self.stem}, which trains {', '.join(self.trains)}",
            )

    def run(self, model: str) -> RunConfig:
        """The run of ``model`` with these training settings."""
        values = {f.name: getattr(self, f.name) for f in fields(Training)}
        return RunConfig(model=model, **values)


@dataclass(frozen=True)
class Network(Params):
    model: str = key(
        "pool_upsample", "the network of handout Fig. 4", one_of(*MODELS)
    )


# A dataclass lists its bases' fields in reverse order of inheritance:
# here the model first, then the training settings, then the rest.
@dataclass(frozen=True)
class RunConfig(Training, Network):
    """Everything that defines a training run; the defaults are the
    handout's. ``device`` does not change the result on purpose (see
    ``a2.colour.cache``): 'auto' picks CUDA when present, else the CPU."""

    num_colours: int = key(
        24, "NC, the palette's colours (the course's 24)", ints(2, 256)
    )
    dilation: int = key(
        1,
        "dilation of the transposed convolutions",
        Valid("1 (the handout's transposed convolutions)", lambda v: v == 1),
    )
    shuffle: str = key(
        "once",
        "training order: drawn once (the course's helper) or every epoch",
        Valid(
            "'epoch' (reshuffle every epoch) or 'once'",
            lambda v: v in ("epoch", "once"),
        ),
    )
    device: str = key(
        "auto", "where to train ('auto': CUDA when present)", one_of(*DEVICES)
    )

    def _check_together(self) -> None:
        _check_kernel(
            self.kernel, (self.model,), self.dilation, f"model {self.model}"
        )

    def replace(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Images(Params):
    """Which images of the class a colourisation run sees."""

    n_train: int | None = key(
        None,
        "training images (null: all 5,000 of the class)",
        int_or_null(10**6, "null (all)"),
        null="all",
    )
    n_valid: int | None = key(
        None,
        "validation images (null: all 1,000)",
        int_or_null(10**6, "null (all)"),
        null="all",
    )


@dataclass(frozen=True)
class TrainCommand(Images, RunConfig):
    """``python -m a2 train``: one run, and the data it trains on."""

    label: int = key(
        7,
        "the CIFAR-10 class (7: horse)",
        Valid("a CIFAR-10 class label, 0..9", lambda v: 0 <= v <= 9),
    )
    palette: str | None = key(
        None,
        "a palette file (null: k-means of the class's pixels)",
        Valid("null (k-means) or a path to a palette file"),
        null="k-means",
    )

    def run_config(self) -> RunConfig:
        values = {f.name: getattr(self, f.name) for f in fields(RunConfig)}
        return RunConfig(**values)


# --- the sections' parameters ------------------------------------------


@dataclass(frozen=True)
class Optimization(Params):
    stem = "1-optimization"
    n: int = key(20, "examples", ints(1, 10_000))
    d: int = key(50, "features (d > n: over-parameterised)", ints(1, 10_000))
    instances: int = key(5, "random problems for 1.1.1", ints(1, 1000))
    batch_size: int = key(5, "mini-batch size b of SGD (< n)", ints(1, 10_000))
    eta: float = key(
        1.0, "SGD learning rate (rows of X have norm about 1)", POSITIVE
    )
    steps: int = key(3000, "SGD steps", ints(1, 100_000))
    adaptive_lr: float = key(
        0.05,
        "learning rate of GD, RMSProp, Adagrad and Adam in 1.2",
        POSITIVE,
    )
    adaptive_steps: int = key(
        2000, "steps of each method in 1.2", ints(1, 100_000)
    )
    beta: float = key(0.9, "RMSProp decay, handout eq. (4)", DECAY)
    eps: float = key(1e-8, "epsilon of RMSProp, Adagrad and Adam", POSITIVE)
    seed: int = key(0, "seed of the random problems", SEED)


@dataclass(frozen=True)
class Hyperparameters(Params):
    stem = "2-hyperparameters"
    n: int = key(30, "examples", ints(1, 10_000))
    d: int = key(10, "features", ints(1, 10_000))
    trials: int = key(5, "random problems for 2.1", ints(1, 1000))
    grid_points: int = key(
        20001, "grid search over eta in 2.1", ints(2, 10**6)
    )
    eta: float = key(0.02, "gradient-descent learning rate in 2.2", POSITIVE)
    adaptive_lr: float = key(
        0.01, "RMSProp and Adam learning rate in 2.2.3", POSITIVE
    )
    weight_decay: float = key(0.01, "lambda of handout eq. (5)", NONNEGATIVE)
    steps: int = key(2000, "steps in 2.2.3", ints(1, 100_000))
    beta: float = key(0.9, "RMSProp decay", DECAY)
    eps: float = key(1e-8, "epsilon of RMSProp and Adam", POSITIVE)
    seed: int = key(0, "seed of the random problems", SEED)


@dataclass(frozen=True)
class Resources(Params):
    stem = "3-resources"
    curvature: float = key(
        1.0, "a in the scalar NQM, L(w) = a w^2 / 2", POSITIVE
    )
    noise_std: float = key(
        1.0, "sigma, per-example gradient noise", NONNEGATIVE
    )
    steps: int = key(100, "SGD steps in 3.1.1", ints(1, 100_000))
    batch_sizes: tuple[int, ...] = key(
        (1, 4, 16, 64, 256),
        "simulated batch sizes in 3.1.1",
        int_list(1, 65536, increasing=True),
    )
    trials: int = key(
        2000,
        "Monte-Carlo chains per batch size and learning rate",
        ints(1, 100_000),
    )
    grid_points: int = key(
        40, "learning rates tried per batch size", ints(2, 10_000)
    )
    d: int = key(
        1000,
        "dimensions of the NQM of 3.1.2 (curvatures 1/i)",
        ints(1, 100_000),
    )
    target_loss: float = key(
        0.1, "loss to reach in 3.1.2 (initial loss about 3.7)", POSITIVE
    )
    base_params: float = key(
        1.0e8,
        "3.2: non-embedding parameters of the baseline model",
        Valid("a number from 1e3 to 1e12", lambda v: 1e3 <= v <= 1e12),
    )
    base_steps: int | None = key(
        None,
        "3.2: training steps of the baseline (null: stop at the "
        "compute-efficient frontier)",
        int_or_null(10**12, "null"),
        null="the compute-efficient length",
    )
    compute_factor: float = key(
        10.0,
        "3.2: how much more compute is available",
        Valid("a number from 1 (excluded) to 1e6", lambda v: 1 < v <= 1e6),
    )
    seed: int = key(0, "seed of the simulations", SEED)


@dataclass(frozen=True)
class Pooling(Images, Training):  # the training settings, then the images
    stem = "4-pooling"
    trains = ("pool_upsample",)
    n_samples: int = key(8, "validation images in the figures", ints(1, 64))


@dataclass(frozen=True)
class Transposed(Pooling):
    stem = "5-transposed"
    trains = ("pool_upsample", "conv_transpose", "unet")
    seeds: tuple[int, ...] = key(
        (0, 1, 2),
        "repeats of the comparison of 5.3",
        int_list(0, 2**32 - 1, SEED_NOTE),
    )
    batch_sizes: tuple[int, ...] = key(
        (32, 64, 128, 256, 512),
        "batch sizes of the sweep of 5.5",
        int_list(1, 65536, increasing=True),
    )
    sweep_epochs: int = key(
        15, "epochs of every run of the sweep", AT_LEAST_ONE
    )
    timed_images: int = key(
        1000,
        "training images per timed epoch in 5.3 and 5.5 (at most n_train)",
        ints(1, 50_000),
    )


@dataclass(frozen=True)
class Reproducibility(Params):
    stem = "6-reproducibility"


SCHEMAS: dict[str, type[Params]] = {
    c.stem: c
    for c in (
        Optimization,
        Hyperparameters,
        Resources,
        Pooling,
        Transposed,
        Reproducibility,
    )
}


def schema(stem: str) -> type[Params]:
    if stem not in SCHEMAS:
        raise ParamsError(
            f"no parameters are defined for section '{stem}'"
            f"; sections: {', '.join(SCHEMAS)}"
        )
    return SCHEMAS[stem]


def validate(stem: str, raw: Any, where: str) -> dict[str, Any]:
    """The overrides in ``raw`` (a params file's or a profile's mapping
    for section ``stem``), checked; ``where`` names the file."""
    return schema(stem).validate(raw, where)


PARAMS_DIR = Path(__file__).resolve().parents[3] / "params"


def profile_path(name: str, folder: Path = PARAMS_DIR) -> Path | None:
    """A profile's file, ``params/<name>.yaml`` (``make pdf
    PROFILE=name``); None for ``full``, the report's own parameters."""
    import re

    if name in ("", "full"):
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ParamsError(
            f"PROFILE={name!r}: a profile is a name such as full or smoke "
            f"(letters, digits, - and _)"
        )
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise ParamsError(f"PROFILE={name}: there is no params/{name}.yaml")
    return path


def profile_entry(profile: Path | None, stem: str) -> dict[str, Any]:
    """A profile's overrides for one section (a profile maps section
    stems to overrides, ``params/smoke.yaml``); a key that is not a
    section is an error."""
    from a2.config.files import load_yaml

    if profile is None:
        return {}
    raw = load_yaml(profile)
    unknown = [k for k in raw if k not in SCHEMAS]
    if unknown:
        raise ParamsError(
            f"{profile}: '{unknown[0]}' is not a section"
            f"{suggest(str(unknown[0]), list(SCHEMAS))}; a profile maps "
            f"section stems ({', '.join(SCHEMAS)}) to their keys"
        )
    return validate(stem, raw.get(stem), str(profile))


def overrides(
    stem: str,
    given: Path | None = None,
    profile: Path | None = None,
    own: Path | None = None,
) -> dict[str, Any]:
    """What a section runs with, over its defaults: its own params file
    (``own``, params/<stem>.yaml; absent means none), then the profile's
    entry; a file ``given`` instead (``make section PARAMS=``) goes over
    the profile, as the user's last word. Any problem: ParamsError."""
    from a2.config.files import load_yaml

    path = given or own or PARAMS_DIR / f"{stem}.yaml"
    raw = load_yaml(path) if given or path.is_file() else {}
    mine = validate(stem, raw, str(path))
    prof = profile_entry(profile, stem)
    values = {**prof, **mine} if given else {**mine, **prof}
    validate(stem, values, str(given or profile or path))
    return values


def load(
    stem: str, overrides: Any = None, where: str = "parameters"
) -> Params:
    """The section's values: its defaults overlaid by ``overrides``
    (checked; a bad value raises ParamsError). A section starts by
    loading them: the runs and checks that follow are its own (for the
    appendix, ``a2.report.provenance``)."""
    from a2.report import provenance

    cls = schema(stem)
    values = cls(**cls.validate(overrides, where))
    provenance.begin(stem)
    return values


def describe(stem: str) -> str:
    """Every key of a section with its default, meaning and valid values
    (``python -m a2.pipeline params S``)."""
    return schema(stem).describe()
