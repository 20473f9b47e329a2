"""The copilot's tools: one small function each, over the store, with a pydantic args model.

Whatever a language model asks for, the rules are enforced here:

- the acting identity is the session's (``cfl chat --as NAME`` gives ``human:NAME``); no tool
  takes one, and a call that tries to set one is refused;
- nothing writes a campaign's ledger: acting tools file control requests
  (:class:`cfl.control.ControlBoard`) that the running engine applies at its next step, and the
  board refuses what the campaign cannot take (a prediction outside the space, a decision on an
  experiment that is not proposed, a finished campaign);
- there is no tool to clear an e-stop, release a lease, release a device or move the robot; a call
  for one is answered with :data:`OPERATOR_PROCEDURE`;
- arguments are validated with pydantic, and a bad call comes back to the model as text naming the
  field, never as an exception.

Every tool returns a :class:`ToolResult`: a short text for people (what the offline copilot
prints) and JSON-able data (what the model reads, with the text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from cfl.campaign import Campaign
from cfl.control import ControlBoard, ControlRequest, check_person, validation_message
from cfl.errors import CFLError, LedgerTampered, NotFound, SpecError
from cfl.journal import Journal
from cfl.ledger import verify_chain
from cfl.models import BestLevel, ExperimentStatus, Hypothesis, Interaction, Prediction, Trend
from cfl.space import CategoricalParameter
from cfl.store import Store

__all__ = [
    "OPERATOR_PROCEDURE",
    "TOOLS",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Toolbox",
    "tool_schemas",
]

OPERATOR_PROCEDURE = (
    "The copilot cannot clear an e-stop, take or release the robot's lease, release a "
    "quarantined device or move the robot, and no tool will. Operator procedure: a named "
    "operator checks the cell at the robot, then clears the e-stop on the robot's own e-stop "
    "channel as human:<name> (robots/kapex/README.md, 'E-stop is its own channel'); a device "
    "taken out of service goes back with `cfl devices release CAMPAIGN DEVICE --by NAME` after "
    "that check. Robot motion only ever comes from an approved experiment's protocol."
)

IDENTITY_KEYS = frozenset(
    {"by", "actor", "as", "as_", "identity", "user", "author", "requester", "operator", "on_behalf"}
)
"""Argument names a call might use to pass an identity; the session's identity is the only one."""

_SAFETY_NAMES = re.compile(
    r"e_?stop|emergency|lease|robot|move|drive|jog|skill|release_device|interlock|safety",
    re.IGNORECASE,
)


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    """What a tool answered: ``ok`` false for refusals and errors, which the text explains."""

    ok: bool
    text: str
    data: dict[str, JsonValue] = field(default_factory=dict)

    def for_model(self) -> str:
        """The result as the JSON text a tool message carries."""
        body: dict[str, JsonValue] = {"ok": self.ok, "summary": self.text}
        if self.data:
            body["data"] = self.data
        return json.dumps(body, ensure_ascii=False)


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a turn, as made and as answered."""

    name: str
    args: dict[str, Any]
    result: ToolResult


def _refused(text: str) -> ToolResult:
    return ToolResult(ok=False, text=text)


# -- argument models ------------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoArgs(_Args):
    """No arguments."""


class CampaignArgs(_Args):
    campaign: str = Field(description="Campaign id, e.g. snar-yield-1 (see list_campaigns).")


class HypothesisArgs(CampaignArgs):
    hypothesis: str = Field(description="Hypothesis id, e.g. H02.")


class AddHypothesisArgs(CampaignArgs):
    statement: str = Field(min_length=1, description="The claim in one sentence.")
    kind: Literal["effect", "interaction", "region", "mechanism"]
    prediction: Prediction = Field(
        description=(
            "What data must show: trend (objective moves with sign 1/-1 in a numeric variable "
            "over [low, high]), best_level (a level of a categorical variable is best), "
            "interaction (effect of variable changes with moderator, sign 1/-1) or optimum (the "
            "best value of a numeric variable lies in [low, high]). Ranges must lie inside the "
            "parameter's bounds."
        )
    )
    rationale: str = Field(default="", description="Why the researcher expects it.")


class DecisionArgs(CampaignArgs):
    experiments: list[str] = Field(min_length=1, description="Ids of proposed experiments.")
    note: str = Field(default="", description="The researcher's reason, recorded.")


class EditArgs(CampaignArgs):
    experiment: str = Field(description="Id of one proposed experiment, e.g. E0012.")
    params: dict[str, float | int | str] = Field(
        min_length=1,
        description='Only the conditions to change, e.g. {"temperature": 100}; each inside '
        "its parameter's bounds.",
    )
    note: str = Field(default="", description="The researcher's reason, recorded.")


class NoteArgs(CampaignArgs):
    note: str = Field(default="", description="The researcher's reason, recorded.")


# -- the tools ------------------------------------------------------------------------------------

Runner = Callable[["Toolbox", Any], ToolResult]


@dataclass(frozen=True)
class Tool:
    """A tool the copilot may call."""

    name: str
    description: str
    args: type[BaseModel]
    run: Runner
    acts: bool = False
    """Files a control request: needs the session's identity."""

    def schema(self) -> dict[str, Any]:
        """The tool in OpenAI's function-calling form."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": _tool_schema(self.args),
            },
        }


TOOLS: dict[str, Tool] = {}


def _tool(
    name: str, args: type[BaseModel], *, description: str, acts: bool = False
) -> Callable[[Runner], Runner]:
    def register(run: Runner) -> Runner:
        TOOLS[name] = Tool(name=name, description=description, args=args, run=run, acts=acts)
        return run

    return register


def _tool_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Pydantic's JSON schema, ``oneOf`` as ``anyOf``, no ``discriminator``, for any tool parser.

    OpenAI, vLLM and Ollama all take this subset.
    """

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("discriminator", "title"):
                continue
            if key in ("properties", "$defs"):
                out[key] = {name: clean(sub) for name, sub in value.items()}
            else:
                out["anyOf" if key == "oneOf" else key] = clean(value)
        tags = [k for k, v in out.get("properties", {}).items() if "const" in v]
        if tags:  # a union member's tag must be sent: it picks the member
            out["required"] = [*tags, *(k for k in out.get("required", []) if k not in tags)]
        return out

    schema: dict[str, Any] = clean(model.model_json_schema())
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    return schema


def _open(toolbox: Toolbox, campaign_id: str) -> Campaign:
    return Journal.open(toolbox.store, campaign_id).campaign


def _best_text(campaign: Campaign) -> str:
    best = campaign.best()
    if best is None:
        return "no observation yet"
    objective = next(o for o in campaign.spec.objectives if o.weight > 0)
    return f"{objective.name} {best[1].values[objective.name]:.4g}{objective.unit or ''}"


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _state(campaign: Campaign) -> str:
    if campaign.finished is not None:
        return f"finished ({campaign.finished.reason}: {campaign.finished.detail})"
    if campaign.paused is not None:
        return f"paused: {campaign.paused.detail}"
    return "not finished (running, or interrupted)"


@_tool(
    "list_campaigns",
    NoArgs,
    description=(
        "List every campaign in the store, newest first, with its state, progress and best result."
    ),
)
def list_campaigns(toolbox: Toolbox, args: NoArgs) -> ToolResult:
    rows: list[JsonValue] = []
    lines = []
    for info in toolbox.store.campaigns():
        try:
            campaign = _open(toolbox, info.id)
        except LedgerTampered as exc:
            rows.append({"campaign": info.id, "state": f"ledger does not verify: {exc}"})
            lines.append(f"- {info.id}: LEDGER DOES NOT VERIFY ({exc})")
            continue
        done = len(campaign.with_status(ExperimentStatus.DONE))
        budget = campaign.spec.budget.experiments
        rows.append(
            {
                "campaign": info.id,
                "state": _state(campaign),
                "experiments_done": done,
                "budget": budget,
                "best": _best_text(campaign),
            }
        )
        lines.append(
            f"- {info.id}: {_state(campaign)}; {done}/{budget} done; best {_best_text(campaign)}"
        )
    if not rows:
        return ToolResult(
            True, "No campaigns yet. Start one with `cfl run SPEC`.", {"campaigns": []}
        )
    return ToolResult(True, "Campaigns, newest first:\n" + "\n".join(lines), {"campaigns": rows})


def _space(campaign: Campaign) -> list[JsonValue]:
    out: list[JsonValue] = []
    for p in campaign.spec.space.parameters:
        if isinstance(p, CategoricalParameter):
            out.append({"name": p.name, "type": p.type, "levels": list(p.levels)})
        else:
            out.append(
                {"name": p.name, "type": p.type, "low": p.low, "high": p.high, "unit": p.unit}
            )
    return out


@_tool(
    "campaign_status",
    CampaignArgs,
    description=(
        "Show one campaign: state, experiments by status, best result, devices that are not "
        "idle, hypotheses, experiments awaiting a decision, pending control requests, and its "
        "search space (parameter bounds) and objectives."
    ),
)
def campaign_status(toolbox: Toolbox, args: CampaignArgs) -> ToolResult:
    campaign = _open(toolbox, args.campaign)
    counts = {s.value: len(campaign.with_status(s)) for s in ExperimentStatus}
    devices = {
        name: campaign.device_state(name).value
        + (f" ({campaign.quarantined[name]})" if name in campaign.quarantined else "")
        for name in campaign.spec.lab.devices
        if campaign.device_state(name).value != "idle"
    }
    hypotheses: list[JsonValue] = [
        {"id": h.id, "statement": h.statement, "status": h.status.value, "credence": h.credence}
        for h in campaign.hypotheses.values()
    ]
    awaiting = [e.id for e in campaign.with_status(ExperimentStatus.PROPOSED)]
    pending = [_request_text(r) for r in toolbox.board.pending(campaign.id)]
    lines = [
        f"{campaign.id}: {_state(campaign)}",
        "experiments: "
        + (", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none yet")
        + f" (budget {campaign.spec.budget.experiments}); rounds completed "
        f"{campaign.rounds_completed}; lab time {campaign.lab_time_s / 3600:.2f} h; best "
        f"{_best_text(campaign)}",
    ]
    if devices:
        lines.append("devices: " + ", ".join(f"{d} {s}" for d, s in devices.items()))
    if hypotheses:
        lines.append(
            "hypotheses: "
            + "; ".join(
                f"{h.id} {h.status.value} ({h.credence:.2f})" for h in campaign.hypotheses.values()
            )
        )
    if awaiting:
        lines.append("awaiting a decision: " + ", ".join(awaiting))
    if pending:
        lines.append("pending requests: " + "; ".join(pending))
    data: dict[str, JsonValue] = {
        "campaign": campaign.id,
        "state": _state(campaign),
        "experiments": dict(counts),
        "budget": campaign.spec.budget.experiments,
        "rounds_completed": campaign.rounds_completed,
        "lab_time_h": round(campaign.lab_time_s / 3600, 3),
        "best": _best_text(campaign),
        "devices_not_idle": dict(devices),
        "hypotheses": hypotheses,
        "awaiting_decision": list(awaiting),
        "pending_requests": list(pending),
        "space": _space(campaign),
        "objectives": [
            {"name": o.name, "direction": o.direction, "unit": o.unit, "weight": o.weight}
            for o in campaign.spec.objectives
        ],
    }
    return ToolResult(True, "\n".join(lines), data)


@_tool(
    "best_result",
    CampaignArgs,
    description=(
        "The best observed experiment of a campaign: its conditions, measured values and score."
    ),
)
def best_result(toolbox: Toolbox, args: CampaignArgs) -> ToolResult:
    campaign = _open(toolbox, args.campaign)
    best = campaign.best()
    if best is None:
        return ToolResult(True, f"{campaign.id} has no observation yet.", {"campaign": campaign.id})
    experiment, observation = best
    units = {
        p.name: f" {p.unit}"
        for p in campaign.spec.space.parameters
        if not isinstance(p, CategoricalParameter) and p.unit
    }
    conditions = ", ".join(
        f"{k}={_number(experiment.params[k])}{units.get(k, '')}" for k in campaign.spec.space.names
    )
    units_of = {o.name: o.unit or "" for o in campaign.spec.objectives}
    objectives = {
        o.name: observation.values[o.name]
        for o in campaign.spec.objectives
        if o.name in observation.values
    }
    measured = ", ".join(
        f"{name} {value:.4g}{units_of.get(name, '')}" for name, value in objectives.items()
    )
    text = (
        f"Best of {campaign.id}: {_best_text(campaign)} at {experiment.id} (round "
        f"{experiment.round}): {conditions}. Measured: {measured}."
    )
    return ToolResult(
        True,
        text,
        {
            "campaign": campaign.id,
            "experiment": experiment.id,
            "round": experiment.round,
            "params": dict(experiment.params),
            "objectives": dict(objectives),
            "score": campaign.score_of(experiment.id),
            "observations_so_far": len(campaign.observations),
        },
    )


def _find_hypothesis(campaign: Campaign, name: str) -> Hypothesis:
    wanted = name.strip().upper()
    match = re.fullmatch(r"H?0*(\d+)", wanted)
    for h in campaign.hypotheses.values():
        if h.id.upper() == wanted:
            return h
        number = re.fullmatch(r"H0*(\d+)", h.id.upper())
        if match and number and match.group(1) == number.group(1):
            return h
    raise NotFound(
        f"no hypothesis {name!r} in {campaign.id}; hypotheses: "
        f"{list(campaign.hypotheses) or 'none yet'}",
        name=name,
    )


def _prediction_text(p: Prediction) -> str:
    if isinstance(p, Trend):
        way = "rises" if p.sign > 0 else "falls"
        return f"{p.objective} {way} with {p.variable} over [{p.low:g}, {p.high:g}]"
    if isinstance(p, BestLevel):
        return f"{p.level} is the best {p.variable} for {p.objective}"
    if isinstance(p, Interaction):
        way = "grows" if p.sign > 0 else "shrinks"
        return f"the effect of {p.variable} on {p.objective} {way} with {p.moderator}"
    return f"the best {p.variable} for {p.objective} lies in [{p.low:g}, {p.high:g}]"


def _bf_words(log10_bf: float) -> str:
    """Kass and Raftery's (1995) reading of a Bayes factor."""
    size = abs(log10_bf)
    strength = (
        "barely worth mentioning"
        if size < 0.5
        else "substantial"
        if size < 1
        else "strong"
        if size < 2
        else "decisive"
    )
    side = "for" if log10_bf >= 0 else "against"
    return f"{strength} evidence {side} the prediction"


@_tool(
    "explain_hypothesis",
    HypothesisArgs,
    description=(
        "Explain a hypothesis: statement, prediction, author, status, credence, Bayes factor "
        "of its last assessment, how many observations it rests on and which experiments "
        "tested it."
    ),
)
def explain_hypothesis(toolbox: Toolbox, args: HypothesisArgs) -> ToolResult:
    campaign = _open(toolbox, args.campaign)
    h = _find_hypothesis(campaign, args.hypothesis)
    statistics: dict[str, JsonValue] = {}
    for record in toolbox.store.records(campaign.id):
        if record.type == "hypothesis.assessed" and record.payload.get("hypothesis") == h.id:
            stats = record.payload.get("statistics")
            statistics = dict(stats) if isinstance(stats, dict) else {}
    log10_bf = statistics.get("log10_bf")
    tested = [e.id for e in campaign.experiments.values() if h.id in e.tests]
    lines = [
        f"{h.id} ({h.kind}, by {h.author}): {h.statement}",
        f"prediction: {_prediction_text(h.prediction)}",
        f"status {h.status.value}, credence {h.credence:.3f}, on {h.evidence_n} observations "
        f"from experiments designed after it was registered (after E{h.registered_after:04d})",
    ]
    if isinstance(log10_bf, int | float):
        lines.append(f"Bayes factor: log10 BF = {log10_bf:.2f}, {_bf_words(float(log10_bf))}")
    else:
        lines.append("Bayes factor: not assessed yet")
    lines.append("tested by: " + (", ".join(tested) if tested else "no experiment yet"))
    if h.rationale:
        lines.append(f"rationale: {h.rationale}")
    return ToolResult(
        True,
        "\n".join(lines),
        {
            "campaign": campaign.id,
            "id": h.id,
            "statement": h.statement,
            "kind": h.kind,
            "prediction": h.prediction.model_dump(mode="json"),
            "author": h.author,
            "status": h.status.value,
            "credence": h.credence,
            "log10_bf": log10_bf if isinstance(log10_bf, int | float) else None,
            "evidence_n": h.evidence_n,
            "registered_after": h.registered_after,
            "tested_by": list(tested),
            "statistics": statistics,
        },
    )


def _request_text(request: ControlRequest) -> str:
    return f"#{request.id} {request.kind} by {request.by}"


def _filed(request: ControlRequest, what: str) -> ToolResult:
    return ToolResult(
        True,
        f"Filed control request #{request.id} ({what}) for {request.campaign} as {request.by}. "
        "The running engine applies it at its next step and records it in the ledger; if no "
        "run is active, the next `cfl run` of the spec applies it.",
        {"request": request.model_dump(mode="json")},
    )


@_tool(
    "add_hypothesis",
    AddHypothesisArgs,
    acts=True,
    description=(
        "Ask the engine to register the researcher's hypothesis (a control request, authored "
        "by the researcher). Refused if its prediction names an unknown objective or "
        "parameter or a range outside the parameter's bounds, or repeats a registered "
        "prediction."
    ),
)
def add_hypothesis(toolbox: Toolbox, args: AddHypothesisArgs) -> ToolResult:
    payload = args.model_dump(exclude={"campaign"})
    request = toolbox.board.submit(
        args.campaign, "add_hypothesis", payload, by=toolbox.require_actor()
    )
    return _filed(request, f"add hypothesis: {_prediction_text(args.prediction)}")


@_tool(
    "approve_experiments",
    DecisionArgs,
    acts=True,
    description=(
        "Approve proposed experiments so they are queued and run, exactly as designed (use "
        "edit_experiment to change one's conditions). Only experiments in status proposed can "
        "be approved."
    ),
)
def approve_experiments(toolbox: Toolbox, args: DecisionArgs) -> ToolResult:
    payload = {"experiments": args.experiments, "note": args.note}
    request = toolbox.board.submit(args.campaign, "approve", payload, by=toolbox.require_actor())
    return _filed(request, "approve " + ", ".join(dict.fromkeys(args.experiments)))


@_tool(
    "edit_experiment",
    EditArgs,
    acts=True,
    description=(
        "Change the conditions of one proposed experiment at the researcher's request and "
        "approve it, so it runs as edited. Refused if a value lies outside its parameter's "
        "bounds or breaks the space's linear constraints: the spec's limits hold whoever asks."
    ),
)
def edit_experiment(toolbox: Toolbox, args: EditArgs) -> ToolResult:
    payload = {"experiment": args.experiment, "params": args.params, "note": args.note}
    request = toolbox.board.submit(args.campaign, "edit", payload, by=toolbox.require_actor())
    changes = ", ".join(f"{k}={_number(v)}" for k, v in args.params.items())
    return _filed(request, f"edit {args.experiment}: {changes}")


@_tool(
    "reject_experiments",
    DecisionArgs,
    acts=True,
    description=(
        "Reject proposed experiments so they are cancelled and never run. Only experiments in "
        "status proposed can be rejected."
    ),
)
def reject_experiments(toolbox: Toolbox, args: DecisionArgs) -> ToolResult:
    payload = {"experiments": args.experiments, "note": args.note}
    request = toolbox.board.submit(args.campaign, "reject", payload, by=toolbox.require_actor())
    return _filed(request, "reject " + ", ".join(dict.fromkeys(args.experiments)))


@_tool(
    "pause_campaign",
    NoteArgs,
    acts=True,
    description=(
        "Pause a campaign: the running engine lets experiments in progress finish and starts "
        "no new ones until it is resumed."
    ),
)
def pause_campaign(toolbox: Toolbox, args: NoteArgs) -> ToolResult:
    request = toolbox.board.submit(
        args.campaign, "pause", {"note": args.note}, by=toolbox.require_actor()
    )
    return _filed(request, "pause")


@_tool(
    "resume_campaign",
    NoteArgs,
    acts=True,
    description=("Resume a paused campaign."),
)
def resume_campaign(toolbox: Toolbox, args: NoteArgs) -> ToolResult:
    request = toolbox.board.submit(
        args.campaign, "resume", {"note": args.note}, by=toolbox.require_actor()
    )
    return _filed(request, "resume")


@_tool(
    "verify_ledger",
    CampaignArgs,
    description=(
        "Check every record of a campaign's ledger: each record's hash and its link to the "
        "one before, up to the head the store keeps."
    ),
)
def verify_ledger(toolbox: Toolbox, args: CampaignArgs) -> ToolResult:
    info = toolbox.store.campaign(args.campaign)
    try:
        count = verify_chain(
            toolbox.store.records(info.id), campaign=info.id, head=(info.head_seq, info.head_hash)
        )
    except LedgerTampered as exc:
        return ToolResult(
            False,
            f"The ledger of {info.id} does NOT verify: {exc}. Stop and investigate; do not trust "
            "this campaign's state until it is explained.",
            {"campaign": info.id, "verified": False, "first_bad_record": exc.seq},
        )
    return ToolResult(
        True,
        f"Ledger of {info.id} OK: {count} records verified, head #{info.head_seq} "
        f"{info.head_hash[:12]}.",
        {"campaign": info.id, "verified": True, "records": count, "head_hash": info.head_hash},
    )


def tool_schemas() -> list[dict[str, Any]]:
    """Every tool in OpenAI's function-calling form."""
    return [tool.schema() for tool in TOOLS.values()]


# -- the toolbox ----------------------------------------------------------------------------------


class Toolbox:
    """The tools bound to one store and one session identity; keeps a log of the calls made.

    Args:
        store: The store to read and to file control requests in.
        actor: ``human:<name>`` the session acts for, or ``None`` for a read-only session.

    Raises:
        SpecError: ``actor`` is not ``human:<name>``.
    """

    def __init__(self, store: Store, *, actor: str | None) -> None:
        self._store = store
        self._actor = None if actor is None else check_person(actor)
        self._board: ControlBoard | None = None
        self.calls: list[ToolCall] = []

    @property
    def store(self) -> Store:
        return self._store

    @property
    def actor(self) -> str | None:
        """The session's identity; no tool call can change it."""
        return self._actor

    @property
    def board(self) -> ControlBoard:
        if self._board is None:
            self._board = ControlBoard(self._store)
        return self._board

    @property
    def tools(self) -> dict[str, Tool]:
        return TOOLS

    def schemas(self) -> list[dict[str, Any]]:
        """Every tool in OpenAI's function-calling form, for ``bind_tools``."""
        return tool_schemas()

    def require_actor(self) -> str:
        """The session's identity, for a request it files.

        Raises:
            SpecError: the session is read-only.
        """
        if self._actor is None:
            raise SpecError(
                "acting on a campaign needs a person's identity, and this session has none: "
                "start the chat with `cfl chat --as NAME`; nothing was filed"
            )
        return self._actor

    def call(self, name: str, args: Mapping[str, Any] | None) -> ToolResult:
        """Run tool ``name`` with ``args``; refusals and bad arguments come back as results."""
        raw = dict(args or {})
        result = self._call(name, raw)
        self.calls.append(ToolCall(name=name, args=raw, result=result))
        return result

    def _call(self, name: str, raw: dict[str, Any]) -> ToolResult:
        tool = TOOLS.get(name)
        if tool is None:
            if _SAFETY_NAMES.search(name):
                return _refused(f"Refused: there is no tool {name!r}. {OPERATOR_PROCEDURE}")
            return _refused(f"There is no tool {name!r}; tools: {sorted(TOOLS)}.")
        smuggled = sorted(IDENTITY_KEYS & set(raw))
        if smuggled:
            return _refused(
                f"Refused: {name} takes no identity ({', '.join(smuggled)} given). The session "
                f"acts as {self._actor or 'nobody (read-only)'}, fixed when the chat started; a "
                "tool call cannot set or change it. Nothing was filed."
            )
        try:
            parsed = tool.args.model_validate(raw)
        except ValidationError as exc:
            _, message = validation_message(exc)
            return _refused(f"Invalid arguments for {name}: {message}. Nothing was done.")
        try:
            return tool.run(self, parsed)
        except SpecError as exc:
            return _refused(f"Refused: {exc}")
        except NotFound as exc:
            return _refused(f"Not found: {exc}")
        except LedgerTampered as exc:
            return _refused(f"The ledger does not verify: {exc}. Stop and investigate.")
        except CFLError as exc:
            return _refused(f"Failed: {exc}")
