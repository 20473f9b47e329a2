"""The campaign spec: what a researcher writes to start a campaign, validated before anything runs.

A spec is YAML; ``lab`` names the lab file (relative to the spec) or holds it inline::

    name: snar-yield
    goal: Maximise the yield of the ortho product of the SnAr coupling.
    seed: 7
    space:
      parameters:
        - {name: temperature, type: continuous, low: 30, high: 120, unit: degC}
        - {name: solvent, type: categorical, levels: [EtOH, MeCN]}
    objectives:
      - {name: yield, direction: maximize, unit: "%"}
      - {name: e_factor, direction: minimize, weight: 0}   # recorded, not optimised
    budget: {experiments: 40}
    batch_size: 4
    lab: lab.yaml
    protocol: [...]

:func:`load_spec` turns any mistake into one :class:`~cfl.errors.SpecError` that names the field and
the fix, and touches nothing on disk, so a bad spec never writes to the store.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cfl.clock import LabClock
from cfl.errors import SpecError
from cfl.faults import FaultSpec
from cfl.lab import DevicePolicy, DeviceSpec, Lab, LabSpec, LocationSpec
from cfl.protocol import Step, validate_protocol
from cfl.registry import load_plugin
from cfl.space import CategoricalParameter, ContinuousParameter, IntegerParameter, SearchSpace

__all__ = ["Budget", "CampaignSpec", "Objective", "StopRules", "Target", "load_lab", "load_spec"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Objective(_Frozen):
    """A measured quantity the campaign cares about."""

    name: str
    direction: Literal["maximize", "minimize"]
    unit: str | None = None
    weight: float = Field(default=1.0, ge=0)
    """Weight in the optimised score; 0 records the quantity without optimising it."""
    noise_sd: float | None = Field(default=None, gt=0)
    """Measurement repeatability, one standard deviation in the objective's unit, if known.

    With it the co-scientist can tell an effect from noise after a handful of experiments;
    without it, it must estimate the noise from the data too, and waits much longer."""


class Budget(_Frozen):
    """How much the campaign may spend."""

    experiments: int = Field(ge=1)
    """Experiments designed in total, failed ones included (they consumed the bench)."""


class Target(_Frozen):
    """Stop once an objective reaches a value."""

    objective: str
    value: float


class StopRules(_Frozen):
    """When to stop before the budget is spent."""

    target: Target | None = None
    patience: int | None = Field(default=None, ge=1)
    """Stop after this many rounds in a row without a better score."""
    converged: bool = False
    """Stop when the planner judges another experiment unlikely to improve the score (its
    ``stop_reason()``; ``cfl-gp``: expected improvement below 0.1 % of the observed range for
    three evaluations running). Planners without one never stop this way."""


class CampaignSpec(_Frozen):
    """Everything needed to run a campaign, frozen and validated."""

    name: str
    """Lowercase letters, digits and hyphens; campaign ids are built from it."""
    goal: str
    """The researcher's goal in plain words; agents read it."""
    seed: int = 0
    space: SearchSpace
    objectives: tuple[Objective, ...] = Field(min_length=1)
    budget: Budget
    batch_size: int = Field(ge=1)
    """Experiments designed per round; they run in parallel on free devices."""
    max_in_flight: int | None = Field(default=None, ge=1)
    """Most experiments designed but not finished at once (default: ``batch_size``). Set it to a
    multiple of the batch to design the next round while earlier ones run, around them, so
    devices never wait for the planner."""
    initial_design: int = Field(default=8, ge=1)
    """Space-filling experiments before the model takes over."""
    stop: StopRules = StopRules()
    planner: str = "cfl-gp"
    """Entry-point name in ``cfl.planners``: ``cfl-gp`` (CFL's GP with log EI, constraints,
    warm start and a convergence test), ``skopt-gp`` (scikit-optimize's GP-EI), ``random``."""
    plan_for: Literal["score", "front"] = "score"
    """What the planner improves. ``score``: the weighted sum of the objectives, the weights
    being the exchange rate between their units. ``front``: the Pareto front of the objectives
    with a weight above 0, whatever the weights, so the campaign maps the trade-off (yield
    against cost, say) instead of committing to one exchange rate; ``cfl-gp`` then plans by
    expected hypervolume improvement (two objectives) or ParEGO (more)."""
    warm_start: tuple[str, ...] = ()
    """Ids of earlier campaigns in the same store, on a space with the same parameters, whose
    finished observations the planner learns from before designing anything (scored with this
    spec's objectives). They shape the model; they do not count toward ``initial_design`` or the
    budget, and are never reported as this campaign's results."""
    coscientist: str | None = "auto"
    """Entry-point name in ``cfl.agents``: ``auto`` (a language model when ``CFL_LLM_*`` names
    one, else ``offline``), ``llm``, ``offline``; ``null`` runs without hypotheses."""
    notes: tuple[str, ...] = ()
    """What the researcher knows or suspects, in words, for the co-scientist to take into account
    when it proposes hypotheses (a language model reads them; the offline one cannot)."""
    approval: bool = False
    """Each designed batch waits, *proposed*, until a person approves or rejects it
    (``cfl approve``, ``cfl chat``); the run holds meanwhile. Every decision and who made it go
    to the ledger."""
    testing_share: float = Field(default=0.25, ge=0, le=1)
    """Share of each batch designed to tell the leading open hypotheses apart rather than to
    improve the objective (:mod:`cfl.discriminate`); the planner designs the rest. Used only
    while open hypotheses exist; 0 leaves all design to the planner."""
    lab: LabSpec
    protocol: tuple[Step, ...]

    @field_validator("name")
    @classmethod
    def _validate_name(cls, name: str) -> str:
        if not _SLUG.match(name):
            raise ValueError(
                f"name {name!r} must be lowercase letters, digits and hyphens (e.g. 'snar-yield')"
            )
        return name

    @model_validator(mode="after")
    def _validate_objectives(self) -> CampaignSpec:
        if self.max_in_flight is not None and self.max_in_flight < self.batch_size:
            raise ValueError(
                f"max_in_flight ({self.max_in_flight}) must be at least batch_size "
                f"({self.batch_size}); raise it or drop it"
            )
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        if not any(o.weight > 0 for o in self.objectives):
            raise ValueError("at least one objective needs a weight above 0 to be optimised")
        if self.plan_for == "front":
            optimised = [o.name for o in self.objectives if o.weight > 0]
            if len(optimised) < 2:
                raise ValueError(
                    f"plan_for: front needs two or more objectives with a weight above 0, got "
                    f"{optimised}; add one or use plan_for: score"
                )
            if self.stop.converged:
                raise ValueError(
                    "stop.converged reads the expected improvement of one score, which a "
                    "Pareto front does not have; with plan_for: front stop by budget, patience "
                    "or target"
                )
            if self.planner != "cfl-gp":
                raise ValueError(
                    f"plan_for: front needs a planner that reads each objective (cfl-gp); "
                    f"planner {self.planner!r} plans on the weighted score only. Use planner: "
                    "cfl-gp or plan_for: score"
                )
        if self.stop.target is not None and self.stop.target.objective not in names:
            raise ValueError(
                f"stop.target.objective {self.stop.target.objective!r} is not an objective; "
                f"objectives: {names}"
            )
        return self


_MODELS: tuple[type[BaseModel], ...] = (
    CampaignSpec,
    Objective,
    Budget,
    Target,
    StopRules,
    SearchSpace,
    ContinuousParameter,
    IntegerParameter,
    CategoricalParameter,
    Step,
    LabSpec,
    DeviceSpec,
    LocationSpec,
    DevicePolicy,
    FaultSpec,
)
_KNOWN_FIELDS = sorted({name for model in _MODELS for name in model.model_fields})


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in {"continuous", "integer", "categorical"}:
            continue  # pydantic's discriminator tag, not a field the user wrote
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: Any) -> tuple[str, str]:
    """Where a pydantic error points, and what to tell the user about it."""
    where = _location(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        field = str(error["loc"][-1])
        close = difflib.get_close_matches(field, _KNOWN_FIELDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        return where, f"unknown field {field!r}{hint} Remove it or fix its spelling."
    if kind == "missing":
        return where, "required field is missing; add it."
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
        return where, f"{message}, got {error['input']!r}; fix the value."
    return where, message


def _spec_error(exc: ValidationError, *, prefix: str = "") -> SpecError:
    # A misspelt field also shows up as a missing one; the misspelling, with its suggestion, is
    # the error to lead with.
    ordered = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    items = [_describe(e) for e in ordered]
    items = [(f"{prefix}.{where}" if prefix else where, text) for where, text in items]
    where, text = items[0]
    for other_where, other_text in items[1:]:
        text += f"\n  also {other_where}: {other_text}"
    return SpecError(text, field=where)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from exc


def load_lab(path: Path) -> LabSpec:
    """Read and validate a lab file.

    Raises:
        SpecError: the file is missing, not YAML, or not a valid lab.
    """
    data = _read_yaml(path)
    try:
        return LabSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, prefix="lab") from exc


def load_spec(path: Path) -> CampaignSpec:
    """Read a campaign spec and its lab file, and check them against each other.

    Checks beyond field types: the protocol against the lab (see
    :func:`~cfl.protocol.validate_protocol`), that every device driver, the planner and the
    co-scientist are installed. Reads files only; writes nothing.

    Raises:
        SpecError: naming the first bad field and the fix.
    """
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path} must hold a mapping of spec fields, got {type(data).__name__}")
    lab = data.get("lab")
    if isinstance(lab, str):
        data = {**data, "lab": load_lab(path.parent / lab).model_dump(mode="json")}
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc) from exc
    check_spec(spec)
    return spec


def check_spec(spec: CampaignSpec) -> None:
    """Cross-field checks that need the installed plug-ins.

    Every device is built once, and thrown away, so its driver validates its options here rather
    than mid-run (drivers do no I/O in ``from_config``; they connect when first used).

    Raises:
        SpecError: a driver, planner or co-scientist is unknown, or the protocol does not fit.
    """
    lab = Lab.build(spec.lab, clock=LabClock(), seed=spec.seed)  # drivers validate options
    if spec.lab.clock == "virtual":
        for name, device in lab.devices.items():
            if getattr(device, "requires_wall_clock", False):
                raise SpecError(
                    f"device {name!r} ({spec.lab.devices[name].driver}) works in real time, but "
                    "the lab runs on the virtual clock; set clock: wall in the lab file",
                    field="lab.clock",
                )
    validate_protocol(
        spec.protocol,
        spec.lab,
        lab.devices,
        [o.name for o in spec.objectives],
        list(spec.space.names),
    )
    try:
        load_plugin("cfl.planners", spec.planner)
    except SpecError as exc:
        raise SpecError(exc.message, field="planner") from exc
    if spec.coscientist is not None:
        try:
            load_plugin("cfl.agents", spec.coscientist)
        except SpecError as exc:
            raise SpecError(exc.message, field="coscientist") from exc
