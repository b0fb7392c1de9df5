"""Each section's parameters: name, default, meaning and valid values,
stated once, here.

A section notebook starts with a cell tagged ``parameters`` holding
``params = {}``; the build injects the section's params file there, and
the next cell calls :func:`load`, which lays those overrides over the
defaults below and checks them. The build calls :func:`validate` on the
same files before any section runs, so a bad file fails in one line
(:class:`a2.config.ParamsError`) before hours of work.

The handout's training settings (kernel, NF, Adam's learning rate, batch
size, epochs, seed) are stated once, in :data:`TRAINING`; sections 4 and 5
and :class:`a2.train.RunConfig` take their defaults from there and their
checks from ``a2.config.SPECS``. Each section's other keys have their own
spec, so a key means one thing within a section.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from a2 import config as cfg
from a2.config import ParamsError, Spec


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    help: str  # what the key means in this section (shown by `describe`)
    spec: Spec


def _spec(kind: str, valid: str, check: Any = lambda v: True) -> Spec:
    return Spec(kind, valid, check)


POS_FLOAT = cfg.POSITIVE
NONNEG_FLOAT = cfg.NONNEGATIVE
DECAY = _spec("float", "a number in [0, 1)", lambda v: 0 <= v < 1)
SEED = cfg.SPECS["seed"]
# Sizes are bounded: a typo must not ask for a huge allocation or a
# week of simulation.
size = cfg.ints


# The handout's training defaults (the course's helper code).
TRAINING: dict[str, Any] = {
    "kernel": 3,  # convolution kernel size
    "num_filters": 32,  # NF
    "lr": 0.001,  # Adam
    "batch_size": 100,
    "epochs": 25,
    "seed": 0,
}


def _run(name: str, help: str) -> Param:
    """A training setting: default from TRAINING, check from SPECS."""
    return Param(name, TRAINING[name], help, cfg.SPECS[name])


def _shared(name: str, default: Any, help: str) -> Param:
    """A data or run-list setting checked by ``a2.config.SPECS``."""
    return Param(name, default, help, cfg.SPECS[name])


def _colour_params() -> tuple[Param, ...]:
    return (
        _run("kernel", "convolution kernel size k"),
        _run("num_filters", "NF, the filters of the first convolution"),
        _run("lr", "Adam learning rate"),
        _run("batch_size", "mini-batch size"),
        _run("epochs", "training epochs"),
        _run("seed", "seed of the weights and of the data order"),
        _shared(
            "n_train", None, "training images (null: all 5,000 of the class)"
        ),
        _shared("n_valid", None, "validation images (null: all 1,000)"),
        _shared("n_samples", 8, "validation images in the figures"),
    )


@dataclass(frozen=True)
class Schema:
    stem: str
    params: tuple[Param, ...]
    trains: tuple[str, ...] = ()  # networks the section trains

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def get(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _schemas() -> dict[str, Schema]:
    colour = _colour_params()
    return {
        s.stem: s
        for s in (
            Schema(
                "1-optimization",
                (
                    Param("n", 20, "examples", size(1, 10_000)),
                    Param(
                        "d",
                        50,
                        "features (d > n: over-parameterised)",
                        size(1, 10_000),
                    ),
                    Param(
                        "instances",
                        5,
                        "random problems for 1.1.1",
                        size(1, 1000),
                    ),
                    Param(
                        "batch_size",
                        5,
                        "mini-batch size b of SGD (< n)",
                        size(1, 10_000),
                    ),
                    Param(
                        "eta",
                        1.0,
                        "SGD learning rate (rows of X have norm about 1)",
                        POS_FLOAT,
                    ),
                    Param("steps", 3000, "SGD steps", size(1, 100_000)),
                    Param(
                        "adaptive_lr",
                        0.05,
                        "learning rate of GD, RMSProp, "
                        "Adagrad and Adam in 1.2",
                        POS_FLOAT,
                    ),
                    Param(
                        "adaptive_steps",
                        2000,
                        "steps of each method in 1.2",
                        size(1, 100_000),
                    ),
                    Param(
                        "beta", 0.9, "RMSProp decay, handout eq. (4)", DECAY
                    ),
                    Param(
                        "eps",
                        1e-8,
                        "epsilon of RMSProp, Adagrad and Adam",
                        POS_FLOAT,
                    ),
                    Param("seed", 0, "seed of the random problems", SEED),
                ),
            ),
            Schema(
                "2-hyperparameters",
                (
                    Param("n", 30, "examples", size(1, 10_000)),
                    Param("d", 10, "features", size(1, 10_000)),
                    Param(
                        "trials", 5, "random problems for 2.1", size(1, 1000)
                    ),
                    Param(
                        "grid_points",
                        20001,
                        "grid search over eta in 2.1",
                        size(2, 10**6),
                    ),
                    Param(
                        "eta",
                        0.02,
                        "gradient-descent learning rate in 2.2",
                        POS_FLOAT,
                    ),
                    Param(
                        "adaptive_lr",
                        0.01,
                        "RMSProp and Adam learning rate in 2.2.3",
                        POS_FLOAT,
                    ),
                    Param(
                        "weight_decay",
                        0.01,
                        "lambda of handout eq. (5)",
                        NONNEG_FLOAT,
                    ),
                    Param("steps", 2000, "steps in 2.2.3", size(1, 100_000)),
                    Param("beta", 0.9, "RMSProp decay", DECAY),
                    Param(
                        "eps", 1e-8, "epsilon of RMSProp and Adam", POS_FLOAT
                    ),
                    Param("seed", 0, "seed of the random problems", SEED),
                ),
            ),
            Schema(
                "3-resources",
                (
                    Param(
                        "curvature",
                        1.0,
                        "a in the scalar NQM, L(w) = a w^2 / 2",
                        POS_FLOAT,
                    ),
                    Param(
                        "noise_std",
                        1.0,
                        "sigma, per-example gradient noise",
                        NONNEG_FLOAT,
                    ),
                    Param(
                        "steps", 100, "SGD steps in 3.1.1", size(1, 100_000)
                    ),
                    Param(
                        "batch_sizes",
                        [1, 4, 16, 64, 256],
                        "simulated batch sizes in 3.1.1",
                        cfg.int_list(1, 65536, 32),
                    ),
                    Param(
                        "trials",
                        2000,
                        "Monte-Carlo chains per batch size and learning rate",
                        size(1, 100_000),
                    ),
                    Param(
                        "grid_points",
                        40,
                        "learning rates tried per batch size",
                        size(2, 10_000),
                    ),
                    Param(
                        "d",
                        1000,
                        "dimensions of the NQM of 3.1.2 (curvatures 1/i)",
                        size(1, 100_000),
                    ),
                    Param(
                        "target_loss",
                        0.1,
                        "loss to reach in 3.1.2 (initial loss about 3.7)",
                        POS_FLOAT,
                    ),
                    Param(
                        "base_params",
                        1.0e8,
                        "3.2: non-embedding parameters of the baseline model",
                        _spec(
                            "float",
                            "a number from 1e3 to 1e12",
                            lambda v: 1e3 <= v <= 1e12,
                        ),
                    ),
                    Param(
                        "base_steps",
                        None,
                        "3.2: training steps of the "
                        "baseline (null: stop at the compute-efficient "
                        "frontier)",
                        cfg.int_or_none(10**12, "null"),
                    ),
                    Param(
                        "compute_factor",
                        10.0,
                        "3.2: how much more compute is available",
                        _spec(
                            "float",
                            "a number from 1 (excluded) to 1e6",
                            lambda v: 1 < v <= 1e6,
                        ),
                    ),
                    Param("seed", 0, "seed of the simulations", SEED),
                ),
            ),
            Schema("4-pooling", colour, trains=("pool_upsample",)),
            Schema(
                "5-transposed",
                colour
                + (
                    _shared(
                        "seeds", [0, 1, 2], "repeats of the comparison of 5.3"
                    ),
                    _shared(
                        "batch_sizes",
                        [32, 64, 128, 256, 512],
                        "batch sizes of the sweep of 5.5",
                    ),
                    _shared(
                        "sweep_epochs", 15, "epochs of every run of the sweep"
                    ),
                ),
                trains=("conv_transpose", "pool_upsample", "unet"),
            ),
            Schema("6-reproducibility", ()),
        )
    }


SCHEMAS = _schemas()


def schema(stem: str) -> Schema:
    if stem not in SCHEMAS:
        raise ParamsError(
            f"no parameters are defined for section '{stem}'"
            f"; sections: {', '.join(SCHEMAS)}"
        )
    return SCHEMAS[stem]


def _check(param: Param, value: Any, where: str) -> Any:
    return cfg.check_spec(param.name, param.spec, value, where)


def validate(stem: str, raw: Any, where: str) -> dict[str, Any]:
    """The overrides in ``raw`` (a params file's mapping), checked against
    the section's schema; unknown keys get a suggestion."""
    s = schema(stem)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ParamsError(
            f"{where}: expected a mapping of key: value, "
            f"got {type(raw).__name__}"
        )
    names = [p.name for p in s]
    out = {}
    for key, value in raw.items():
        param = s.get(str(key))
        if param is None:
            valid = ", ".join(names) or "(none)"
            raise ParamsError(
                f"{where}: unknown key {cfg.shown(key)}"
                f"{cfg.suggest(str(key), names)}; valid keys "
                f"for {stem}: {valid}"
            )
        out[param.name] = _check(param, value, where)
    _check_kernel(s, {**s.defaults, **out}, where)
    return out


def _check_kernel(s: Schema, values: Mapping[str, Any], where: str) -> None:
    """The kernel must build every network the section trains (an even
    kernel cannot keep Figure 4a's shapes in PoolUpsampleNet)."""
    if "kernel" not in values or not s.trains:
        return
    from a2.models import check_kernel

    def problem(k: int) -> str | None:
        for model in s.trains:
            try:
                check_kernel(model, k, 1)
            except ValueError as err:
                return f"{model}: {err}"
        return None

    found = problem(values["kernel"])
    if found is None:
        return
    valid = [k for k in (3, 4, 5) if problem(k) is None]
    raise ParamsError(
        f"{where}: key 'kernel' has value {values['kernel']}; valid: "
        f"{' or '.join(map(str, valid)) or 'none'} for section {s.stem}, "
        f"which trains {', '.join(s.trains)} ({found})"
    )


class SectionParams(Mapping[str, Any]):
    """A section's values: ``p.kernel`` or ``p["kernel"]``. Shown in a
    notebook, it prints one readable line per value, marking those that
    differ from the defaults."""

    def __init__(self, stem: str, values: dict[str, Any]):
        self._stem, self._values = stem, values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def changed(self) -> list[str]:
        defaults = schema(self._stem).defaults
        return [k for k, v in self._values.items() if v != defaults[k]]

    def _repr_markdown_(self) -> str:
        from a2.report import fmt

        changed = set(self.changed())
        nbsp = "\u00a0"  # a pair never breaks across lines
        items = [
            f"`{k}`{nbsp}={nbsp}{fmt(v)}" + ("\\*" if k in changed else "")
            for k, v in self._values.items()
        ]
        if not items:
            return "*No parameters.*"
        note = " (\\* set by the params file)" if changed else ""
        return f"*Parameters{note}:* " + ", ".join(items) + "."

    def __repr__(self) -> str:
        return f"SectionParams({self._stem!r}, {self._values!r})"


def load(
    stem: str,
    overrides: Mapping[str, Any] | None = None,
    where: str = "parameters",
) -> SectionParams:
    """The section's values: its defaults overlaid by ``overrides``
    (checked; a bad value raises ParamsError)."""
    values = {
        **schema(stem).defaults,
        **validate(stem, dict(overrides or {}), where),
    }
    return SectionParams(stem, values)


def describe(stem: str) -> str:
    """Every key of a section with its default, meaning and valid values
    (``python -m a2.pipeline params S``)."""
    import yaml

    lines = [f"{stem}:"]
    for p in schema(stem):
        value = yaml.safe_dump(p.default, default_flow_style=True)
        value = value.removesuffix("\n...\n").strip()
        lines.append(f"  {p.name}: {value}  # {p.help}; {p.spec.valid}")
    return "\n".join(lines)
