"""Every parameter, stated once: its name, default, meaning and valid
values (``make params S=4`` lists them).

A set of parameters is a frozen dataclass that pydantic checks
(:func:`parameter_set`). A field's type says what a params file must give
(``int``, ``float``, a ``Literal`` of choices, a list as ``tuple[...]``,
``X | None``), its :func:`key` gives the default, the meaning and the
bounds (pydantic's ``ge``, ``le``, ``gt``, ``lt``, list lengths), so
building the dataclass checks every value: a bad one fails here, in one
line, not hours into a run. The valid values that messages and
``describe`` show are written from those same types and bounds
(:func:`valid_values`): a bound is stated once. Each section's parameters
are one such class (:data:`SCHEMAS`). Sections 4 and 5 and every training
run (:class:`RunConfig`) share :class:`Training`, the handout's training
settings, so those keys and their defaults are written once. They stay
dataclasses (``dataclasses.fields``, ``replace``, hashing), which is how
the rest of the library uses them.

The build checks a section's params file with :func:`validate` before
anything runs; the section's second chunk calls :func:`load`, which lays
the same overrides over the defaults and shows them. Every problem is an
:class:`a2.config.files.ParamsError` naming the file (or ``--set``), the
key and the valid values.
"""

from __future__ import annotations

import functools
import re
import typing
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import annotated_types as at
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo

from a2.config.files import ParamsError, mapping, shown, suggest

# --- how a parameter is declared -----------------------------------------

# A value keeps the type a params file wrote: the text "3" is no integer,
# nor is 3.0, a YAML true is no number; an int is taken for a float (and
# becomes one); .inf, .nan and 1e999 are no number at all.
RULES = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def key(
    default: Any,
    help: str,
    *,
    null: str | None = None,
    note: str = "",
    **bounds: Any,
) -> Any:
    """A parameter: its default, what it means (``describe`` shows it),
    its ``bounds`` (pydantic's ``ge``, ``le``, ``gt``, ``lt``,
    ``min_length``, ``max_length``), a ``note`` added to its valid
    values, and for a key that may be null, what null means in words
    (the parameters line shows "all", not "null")."""
    extra = {"null": null, "note": note}
    return Field(default, description=help, json_schema_extra=extra, **bounds)


def _distinct(values: tuple) -> tuple:
    if len(set(values)) != len(values):
        raise ValueError("a value repeats")
    return values


def _increasing(values: tuple) -> tuple:
    if any(a >= b for a, b in zip(values, values[1:])):
        raise ValueError("not increasing")
    return values


# A repeated seed would be compared with itself; batch sizes are read
# from the smallest to the largest.
DISTINCT = AfterValidator(_distinct)
INCREASING = AfterValidator(_increasing)
LIST = dict(min_length=1, max_length=32, strict=False)  # a YAML list
# numpy's and torch's seeds are 32-bit unsigned
Seed = Annotated[int, at.Ge(0), at.Le(2**32 - 1)]
BatchSize = Annotated[int, at.Ge(1), at.Le(65536)]  # a bound on memory
MODELS = ("pool_upsample", "conv_transpose", "unet")
DEVICES = ("auto", "cpu", "cuda")
KERNELS = (3, 4, 5)


def parameter_set(cls: type) -> type:
    """``cls`` as a frozen dataclass that pydantic checks whenever one
    is built (``replace`` too); a failure is a one-line ParamsError."""
    cls = dataclass(frozen=True, config=RULES)(cls)
    init = cls.__init__

    @functools.wraps(init)
    def checked_init(self: Params, *args: Any, **given: Any) -> None:
        try:
            init(self, *args, **given)
        except ValidationError as err:
            raise ParamsError(
                _message(type(self), err.errors()[0], given)
            ) from None

    cls.__init__ = checked_init
    return cls


# --- what a key accepts, in words ------------------------------------------


def _number(value: float) -> str:
    """A bound as a person writes it: 1024, 0.5, 1e12, 2**32 - 1."""
    if value == 2**32 - 1:
        return f"{value} (2**32 - 1)"
    if isinstance(value, int):
        return str(value)
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", f"{value:g}")


def _either(choices: list[str]) -> str:
    return ", ".join(choices[:-1]) + " or " * (len(choices) > 1) + choices[-1]


def _bounds(metadata: list) -> str:
    """'from 1 to 1024', '>= 1', 'in [0, 1)' for the bounds in
    ``metadata`` (annotated-types' Ge, Gt, Le, Lt, as pydantic keeps
    them)."""
    sign = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    b = {k: getattr(m, k) for m in metadata for k in sign if hasattr(m, k)}
    if "ge" in b and "le" in b:
        return f"from {_number(b['ge'])} to {_number(b['le'])}"
    if len(b) == 2:  # an open end: interval notation
        lo = f"[{_number(b['ge'])}" if "ge" in b else f"({_number(b['gt'])}"
        hi = f"{_number(b['le'])}]" if "le" in b else f"{_number(b['lt'])})"
        return f"in {lo}, {hi}"
    return " ".join(f"{sign[k]} {_number(v)}" for k, v in b.items())


def _accepts(tp: Any, metadata: list, null: str | None, many: bool) -> str:
    """What a value of type ``tp`` with ``metadata`` may be, in words
    (``many``: as the items of a list)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return _accepts(args[0], [*args[1:], *metadata], null, many)
    if origin is Literal:
        return _either([str(a) for a in args])
    if type(None) in args:  # X | None
        (kind,) = [a for a in args if a is not type(None)]
        said = f"null ({null})" if null else "null"
        return f"{said} or {_accepts(kind, metadata, None, many)}"
    if origin is tuple:
        found = {type(m).__name__: m for m in metadata}
        rules = [
            text
            for rule, text in (
                (DISTINCT, "no two equal"),
                (INCREASING, "each larger than the last"),
            )
            if rule in metadata
        ]
        return (
            f"a list of {found['MinLen'].min_length} to "
            f"{found['MaxLen'].max_length} "
            f"{_accepts(args[0], [], None, True)}"
            + "".join(f", {r}" for r in rules)
        )
    kind = {int: ("an integer", "integers"), float: ("a number", "numbers")}
    if tp in kind:
        words, limits = kind[tp][many], _bounds(metadata)
        return f"{words} {limits}" if limits else words
    return "text"


def valid_values(info: FieldInfo) -> str:
    """The values a key accepts, in words, from its type and bounds."""
    extra = info.json_schema_extra or {}
    text = _accepts(info.annotation, info.metadata, extra["null"], False)
    return f"{text} ({extra['note']})" if extra["note"] else text


def _refused(cls: type[Params], name: str, given: Any, why: str) -> str:
    info = cls.__pydantic_fields__[name]
    return (
        f"key '{name}' has value {shown(given)}{why}; "
        f"valid: {valid_values(info)}"
    )


def _unknown(cls: type[Params], name: Any) -> str:
    names = cls.names()
    return (
        f"unknown key {shown(name)}{suggest(str(name), names)}; valid keys "
        f"for {cls.stem or cls.__name__}: {', '.join(names) or '(none)'}"
    )


def _message(cls: type[Params], error: dict, given: dict) -> str:
    """One of pydantic's errors as one line: the key, the value as
    ``given`` and the valid values."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ParamsError):  # a rule between keys
        return str(cause)
    name, kind, value = error["loc"][0], error["type"], error["input"]
    if kind == "unexpected_keyword_argument":
        return _unknown(cls, name)
    # pydantic refuses an int too large for a float as "not a number"
    huge = kind == "float_type" and type(value) is int
    why = ", not a finite number" if kind == "finite_number" or huge else ""
    return _refused(cls, name, given.get(name, value), why)


def _plain(value: Any) -> Any:
    """A value as YAML and papermill write it (a tuple as a list)."""
    return list(value) if isinstance(value, tuple) else value


@functools.cache
def _one_key(cls: type[Params], name: str) -> TypeAdapter:
    """A validator of key ``name`` alone (``--set``), with its bounds."""
    info = cls.__pydantic_fields__[name]
    tp = info.annotation
    if info.metadata:
        tp = Annotated[(tp, *info.metadata)]
    return TypeAdapter(tp, config=RULES)


# --- sets of parameters ----------------------------------------------------


class Params:
    """A set of parameters (subclasses, made with :func:`parameter_set`,
    declare them with :func:`key`). Shown in a notebook, it prints one
    line, marking the values that differ from the defaults."""

    stem: ClassVar[str] = ""  # the section whose parameters these are
    trains: ClassVar[tuple[str, ...]] = ()  # networks that section trains
    __pydantic_fields__: ClassVar[dict[str, FieldInfo]]

    def __post_init__(self) -> None:
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve several keys (subclasses)."""

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.__pydantic_fields__)

    @classmethod
    def check(cls, name: str, value: Any, where: str = "") -> Any:
        """One value of key ``name``, checked alone (``--set``)."""
        try:
            return _plain(_one_key(cls, name).validate_python(value))
        except ValidationError as err:
            error = {**err.errors()[0], "loc": (name,)}
            text = _message(cls, error, {name: value})
        raise ParamsError(f"{where}: {text}" if where else text)

    @classmethod
    def validate(cls, raw: Any, where: str) -> dict[str, Any]:
        """The overrides in ``raw`` (a params file's mapping), checked
        over the defaults; an unknown key gets a suggestion."""
        raw = mapping(raw, where)
        for name in raw:
            if name not in cls.names():  # a key that is no text too
                raise ParamsError(f"{where}: {_unknown(cls, name)}")
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
        for name, info in cls.__pydantic_fields__.items():
            value = yaml.safe_dump(
                _plain(info.default), default_flow_style=True
            )
            value = value.removesuffix("\n...\n").strip()
            lines.append(
                f"  {name}: {value}  # {info.description}; "
                f"{valid_values(info)}"
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
            name
            for name, info in self.__pydantic_fields__.items()
            if getattr(self, name) != info.default
        ]

    def _repr_markdown_(self) -> str:
        """The values as a reader would write them: a null as what it
        means ("all"); nothing at all for a section without parameters."""
        from a2.report import code, fmt

        changed, nbsp = set(self.changed()), "\u00a0"  # a pair never breaks

        def shown(name: str, v: Any) -> str:
            null = self.__pydantic_fields__[name].json_schema_extra["null"]
            if v is None and null:
                return null
            return code(v) if isinstance(v, str) else fmt(v)

        items = [
            f"`{name}`{nbsp}={nbsp}{shown(name, getattr(self, name))}"
            + ("\\*" if name in changed else "")
            for name in self.names()
        ]
        if not items:
            return ""
        note = " (\\* set by the params file)" if changed else ""
        # Styled as a source line: names of the code's settings, shown so
        # that a reader sees the values this section ran with.
        line = f"*Parameters{note}:* " + ", ".join(items) + "."
        return f"[{line}]{{.a2-params}}"


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


@parameter_set
class Training(Params):
    """The handout's training settings (the course's helper code)."""

    kernel: Literal[KERNELS] = key(
        3, "convolution kernel size k", note="odd only for pool_upsample"
    )
    num_filters: int = key(
        32, "NF, the filters of the first convolution", ge=1, le=1024
    )
    lr: float = key(0.001, "Adam learning rate", gt=0)
    batch_size: BatchSize = key(100, "mini-batch size")
    # Epochs are time, not memory: each one is saved as it finishes.
    epochs: int = key(25, "training epochs", ge=1)
    seed: Seed = key(0, "seed of the weights and of the data order")

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


@parameter_set
class Network(Params):
    model: Literal[MODELS] = key(
        "pool_upsample", "the network of handout Fig. 4"
    )


# A dataclass lists its bases' fields in reverse order of inheritance:
# here the model first, then the training settings, then the rest.
@parameter_set
class RunConfig(Training, Network):
    """Everything that defines a training run; the defaults are the
    handout's. ``device`` does not change the result on purpose (see
    ``a2.colour.cache``): 'auto' picks CUDA when present, else the CPU."""

    num_colours: int = key(
        24, "NC, the palette's colours (the course's 24)", ge=2, le=256
    )
    dilation: Literal[1] = key(
        1,
        "dilation of the transposed convolutions",
        note="the handout's transposed convolutions",
    )
    shuffle: Literal["once", "epoch"] = key(
        "once",
        "training order: drawn once (the course's helper) or every epoch",
    )
    device: Literal[DEVICES] = key(
        "auto", "where to train ('auto': CUDA when present)"
    )

    def _check_together(self) -> None:
        _check_kernel(
            self.kernel, (self.model,), self.dilation, f"model {self.model}"
        )

    def replace(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@parameter_set
class Images(Params):
    """Which images of the class a colourisation run sees."""

    n_train: int | None = key(
        None,
        "training images (null: all 5,000 of the class)",
        null="all",
        ge=1,
        le=10**6,
    )
    n_valid: int | None = key(
        None, "validation images (null: all 1,000)", null="all", ge=1, le=10**6
    )


@parameter_set
class TrainCommand(Images, RunConfig):
    """``python -m a2 train``: one run, and the data it trains on."""

    label: int = key(7, "the CIFAR-10 class (7: horse)", ge=0, le=9)
    palette: str | None = key(
        None,
        "a palette file (null: k-means of the class's pixels)",
        null="k-means",
        note="a path to a palette file",
    )

    def run_config(self) -> RunConfig:
        values = {f.name: getattr(self, f.name) for f in fields(RunConfig)}
        return RunConfig(**values)


# --- the sections' parameters ------------------------------------------

POSITIVE = dict(gt=0)
SIZE = dict(ge=1, le=10_000)  # a bound on memory and time
STEPS = dict(ge=1, le=100_000)


@parameter_set
class Optimization(Params):
    stem = "1-optimization"
    n: int = key(20, "examples", **SIZE)
    d: int = key(50, "features (d > n: over-parameterised)", **SIZE)
    instances: int = key(5, "random problems for 1.1.1", ge=1, le=1000)
    batch_size: int = key(5, "mini-batch size b of SGD (< n)", **SIZE)
    eta: float = key(
        1.0, "SGD learning rate (rows of X have norm about 1)", **POSITIVE
    )
    steps: int = key(3000, "SGD steps", **STEPS)
    adaptive_lr: float = key(
        0.05,
        "learning rate of GD, RMSProp, Adagrad and Adam in 1.2",
        **POSITIVE,
    )
    adaptive_steps: int = key(2000, "steps of each method in 1.2", **STEPS)
    beta: float = key(0.9, "RMSProp decay, handout eq. (4)", ge=0, lt=1)
    eps: float = key(1e-8, "epsilon of RMSProp, Adagrad and Adam", **POSITIVE)
    seed: Seed = key(0, "seed of the random problems")


@parameter_set
class Hyperparameters(Params):
    stem = "2-hyperparameters"
    n: int = key(30, "examples", **SIZE)
    d: int = key(10, "features", **SIZE)
    trials: int = key(5, "random problems for 2.1", ge=1, le=1000)
    grid_points: int = key(
        20001, "grid search over eta in 2.1", ge=2, le=10**6
    )
    eta: float = key(0.02, "gradient-descent learning rate in 2.2", **POSITIVE)
    adaptive_lr: float = key(
        0.01, "RMSProp and Adam learning rate in 2.2.3", **POSITIVE
    )
    weight_decay: float = key(0.01, "lambda of handout eq. (5)", ge=0)
    steps: int = key(2000, "steps in 2.2.3", **STEPS)
    beta: float = key(0.9, "RMSProp decay", ge=0, lt=1)
    eps: float = key(1e-8, "epsilon of RMSProp and Adam", **POSITIVE)
    seed: Seed = key(0, "seed of the random problems")


@parameter_set
class Resources(Params):
    stem = "3-resources"
    curvature: float = key(
        1.0, "a in the scalar NQM, L(w) = a w^2 / 2", **POSITIVE
    )
    noise_std: float = key(1.0, "sigma, per-example gradient noise", ge=0)
    steps: int = key(100, "SGD steps in 3.1.1", **STEPS)
    batch_sizes: Annotated[tuple[BatchSize, ...], INCREASING] = key(
        (1, 4, 16, 64, 256), "simulated batch sizes in 3.1.1", **LIST
    )
    trials: int = key(
        2000, "Monte-Carlo chains per batch size and learning rate", **STEPS
    )
    grid_points: int = key(
        40, "learning rates tried per batch size", ge=2, le=10_000
    )
    d: int = key(
        1000, "dimensions of the NQM of 3.1.2 (curvatures 1/i)", **STEPS
    )
    target_loss: float = key(
        0.1, "loss to reach in 3.1.2 (initial loss about 3.7)", **POSITIVE
    )
    base_params: float = key(
        1.0e8,
        "3.2: non-embedding parameters of the baseline model",
        ge=1e3,
        le=1e12,
    )
    base_steps: int | None = key(
        None,
        "3.2: training steps of the baseline (null: stop at the "
        "compute-efficient frontier)",
        null="the compute-efficient length",
        ge=1,
        le=10**12,
    )
    compute_factor: float = key(
        10.0, "3.2: how much more compute is available", gt=1, le=1e6
    )
    seed: Seed = key(0, "seed of the simulations")


@parameter_set
class Pooling(Images, Training):  # the training settings, then the images
    stem = "4-pooling"
    trains = ("pool_upsample",)
    n_samples: int = key(8, "validation images in the figures", ge=1, le=64)


@parameter_set
class Transposed(Pooling):
    stem = "5-transposed"
    trains = ("pool_upsample", "conv_transpose", "unet")
    seeds: Annotated[tuple[Seed, ...], DISTINCT] = key(
        (0, 1, 2), "repeats of the comparison of 5.3", **LIST
    )
    batch_sizes: Annotated[tuple[BatchSize, ...], INCREASING] = key(
        (32, 64, 128, 256, 512), "batch sizes of the sweep of 5.5", **LIST
    )
    sweep_epochs: int = key(15, "epochs of every run of the sweep", ge=1)
    timed_images: int = key(
        1000,
        "training images per timed epoch in 5.3 and 5.5 (at most n_train)",
        ge=1,
        le=50_000,
    )


@parameter_set
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
