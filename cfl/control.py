"""Control requests: how people (and the copilot, on a person's behalf) steer a running campaign.

The running engine is the only writer of a campaign's ledger, so nobody else writes events. A
person files a *control request* instead (pause, resume, approve, reject or edit proposed
experiments, add a hypothesis) on the :class:`ControlBoard`; the engine reads
:meth:`ControlBoard.pending` at its next loop step, applies each request by journaling the
matching event with the requester as actor, and settles it (:meth:`ControlBoard.settle`) as
``applied`` or ``refused`` with the reason.

Requests live in their own table, ``control_request``, in the store's database, created on first
use. A request is checked when it is filed (kind, payload, the campaign exists and is not
finished, experiments are proposed, a hypothesis's prediction lies inside the space), so bad input
never reaches the table; the engine checks again when it applies it, since the campaign may have
moved on in between.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from sqlalchemy import Column, Text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from cfl.campaign import Campaign
from cfl.errors import CFLError, NotFound, SpecError
from cfl.hypotheses import HypothesisDraft, check_draft, prediction_key
from cfl.journal import Journal
from cfl.models import ExperimentStatus, Prediction
from cfl.spec import CampaignSpec
from cfl.store import Store, _UTCDateTime

__all__ = [
    "KINDS",
    "OUTCOMES",
    "AlreadySettled",
    "ControlBoard",
    "ControlKind",
    "ControlRequest",
    "ExperimentDecision",
    "ExperimentEdit",
    "HypothesisRequest",
    "Outcome",
    "PauseRequest",
    "Payload",
    "ResumeRequest",
    "check_person",
    "parse_payload",
    "validation_message",
]

ControlKind: TypeAlias = Literal["pause", "resume", "approve", "reject", "edit", "add_hypothesis"]
Outcome: TypeAlias = Literal["applied", "refused"]
KINDS: tuple[str, ...] = get_args(ControlKind)
OUTCOMES: tuple[str, ...] = get_args(Outcome)

_PERSON = re.compile(r"^human:[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class AlreadySettled(CFLError):
    """The control request was settled before; a request is applied or refused once."""

    def __init__(self, message: str, *, request_id: int) -> None:
        super().__init__(message)
        self.request_id = request_id


# -- payloads, one model per kind -----------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PauseRequest(_Payload):
    """``pause``: finish what is running, start nothing new, until a ``resume``."""

    note: str = ""


class ResumeRequest(_Payload):
    """``resume``: carry on after a pause."""

    note: str = ""


class ExperimentDecision(_Payload):
    """``approve`` / ``reject``: a person's decision on proposed experiments."""

    experiments: tuple[str, ...] = Field(min_length=1)
    """Ids of experiments in status ``proposed``, e.g. ``["E0009", "E0010"]``."""
    note: str = ""


class ExperimentEdit(_Payload):
    """``edit``: new conditions for one proposed experiment, which then runs as edited.

    The person's conditions replace the design (the ledger keeps both); they must lie inside the
    spec's bounds and linear constraints, whoever asks, the copilot included.
    """

    experiment: str
    """Id of an experiment in status ``proposed``, e.g. ``"E0012"``."""
    params: dict[str, float | int | str] = Field(min_length=1)
    """Only the conditions to change, e.g. ``{"temperature": 100}``."""
    note: str = ""

    def conditions(self, current: Mapping[str, Any], spec: CampaignSpec) -> dict[str, Any]:
        """The whole new point: ``current`` with these changes, checked against the space.

        Raises:
            SpecError: an unknown parameter, a value of the wrong type or outside its bounds,
                or a point that breaks a linear constraint (the message names it).
        """
        try:
            point = spec.space.coerce({**current, **self.params})
        except SpecError as exc:
            raise SpecError(f"{exc}; nothing was changed", field="payload.params") from exc
        if not spec.space.feasible(point):
            broken = [
                " + ".join(f"{v:g}*{k}" for k, v in c.coefficients.items())
                + f" <= {c.upper:g} (it is {c.value(point):g})"
                for c in spec.space.constraints
                if not c.satisfied(point)
            ]
            raise SpecError(
                f"{_conditions(point)} breaks the space's constraint {'; '.join(broken)}; "
                "choose conditions that satisfy it",
                field="payload.params",
            )
        return point


def _conditions(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


class HypothesisRequest(_Payload):
    """``add_hypothesis``: a hypothesis a person states; its author is the requester."""

    statement: str = Field(min_length=1)
    kind: Literal["effect", "interaction", "region", "mechanism"]
    prediction: Prediction
    rationale: str = ""

    def draft(self, author: str) -> HypothesisDraft:
        """The draft the engine registers, authored by ``author`` (the requester)."""
        return HypothesisDraft(
            statement=self.statement,
            kind=self.kind,
            prediction=self.prediction,
            rationale=self.rationale,
            author=author,
        )


Payload: TypeAlias = (
    PauseRequest | ResumeRequest | ExperimentDecision | ExperimentEdit | HypothesisRequest
)

_PAYLOADS: dict[str, type[Payload]] = {
    "pause": PauseRequest,
    "resume": ResumeRequest,
    "approve": ExperimentDecision,
    "reject": ExperimentDecision,
    "edit": ExperimentEdit,
    "add_hypothesis": HypothesisRequest,
}


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_message(exc: ValidationError, *, prefix: str = "") -> tuple[str, str]:
    """``(field, message)`` for a pydantic error: the first bad field, and every problem."""
    problems = []
    for error in exc.errors(include_url=False):
        where = _location(error["loc"])
        where = f"{prefix}.{where}" if prefix and where else (where or prefix)
        value = error.get("input")
        shown = "" if error["type"] == "missing" else f" (got {value!r})"
        problems.append(f"{where}: {error['msg']}{shown}")
    first = exc.errors(include_url=False)[0]["loc"] if exc.errors() else ()
    field = _location(first)
    field = f"{prefix}.{field}" if prefix and field else (field or prefix)
    return field, "; ".join(problems)


def parse_payload(kind: str, payload: Mapping[str, Any] | BaseModel | None) -> Payload:
    """The payload of a ``kind`` request as its model.

    Raises:
        SpecError: unknown kind, or a payload field is missing, unknown or of the wrong type
            (the error names it, e.g. ``payload.experiments``).
    """
    model = _PAYLOADS.get(kind)
    if model is None:
        raise SpecError(
            f"unknown control request kind {kind!r}; kinds: {list(KINDS)}", field="kind"
        )
    if isinstance(payload, model):
        return payload
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as exc:
        field, message = validation_message(exc, prefix="payload")
        error = SpecError(f"{message}; a {kind!r} request takes {sorted(model.model_fields)}")
        error.field = field  # every problem names its own field in the message
        raise error from exc


_DONE = {"approve": "approved", "reject": "rejected", "edit": "edited"}


def _decides_on(request: ControlRequest) -> tuple[str, ...]:
    """The experiments a pending request decides on (none for other kinds)."""
    if request.kind in ("approve", "reject"):
        return ExperimentDecision.model_validate(request.payload).experiments
    if request.kind == "edit":
        return (ExperimentEdit.model_validate(request.payload).experiment,)
    return ()


# -- the request value and its table --------------------------------------------------------------


class ControlRequest(BaseModel):
    """One request, as filed and (once the engine has dealt with it) as settled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    campaign: str
    kind: ControlKind
    payload: dict[str, JsonValue]
    by: str
    """``human:<name>`` of the person who asked (also when the copilot filed it for them)."""
    created_at: datetime
    settled_at: datetime | None = None
    outcome: Outcome | None = None
    detail: str = ""
    """Why it was refused, or what applying it did."""

    @property
    def settled(self) -> bool:
        """Whether the engine has applied or refused it."""
        return self.settled_at is not None

    def parsed(self) -> Payload:
        """The payload as its kind's model (:class:`ExperimentDecision`, ...)."""
        return parse_payload(self.kind, self.payload)

    def draft(self) -> HypothesisDraft:
        """For ``add_hypothesis``: the draft to register, authored by the requester.

        Raises:
            CFLError: this is not an ``add_hypothesis`` request.
        """
        parsed = self.parsed()
        if not isinstance(parsed, HypothesisRequest):
            raise CFLError(f"request #{self.id} is a {self.kind!r} request, not add_hypothesis")
        return parsed.draft(self.by)


class ControlRow(SQLModel, table=True):
    __tablename__ = "control_request"

    id: int | None = SQLField(default=None, primary_key=True)
    campaign: str = SQLField(index=True, foreign_key="campaign.id")
    kind: str
    payload: str = SQLField(sa_column=Column(Text, nullable=False))
    by: str
    created_at: datetime = SQLField(sa_column=Column(_UTCDateTime, nullable=False))
    settled_at: datetime | None = SQLField(
        default=None, sa_column=Column(_UTCDateTime, nullable=True)
    )
    outcome: str | None = None
    detail: str = SQLField(default="", sa_column=Column(Text, nullable=False))


def _request(row: ControlRow) -> ControlRequest:
    assert row.id is not None
    return ControlRequest(
        id=row.id,
        campaign=row.campaign,
        kind=row.kind,
        payload=json.loads(row.payload),
        by=row.by,
        created_at=row.created_at,
        settled_at=row.settled_at,
        outcome=row.outcome,
        detail=row.detail,
    )


def check_person(by: str) -> str:
    """``by`` if it names a person, ``human:<name>``.

    Raises:
        SpecError: anything else (an agent, a device, a malformed name).
    """
    if not _PERSON.match(by):
        raise SpecError(
            f"control requests are filed by a person as 'human:<name>' (letters, digits, . _ @ -), "
            f"got {by!r}; an agent acting for a person passes that person's identity",
            field="by",
        )
    return by


# -- the board ------------------------------------------------------------------------------------


class ControlBoard:
    """Control requests of every campaign in one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine
        self._ensure_table()

    def _ensure_table(self) -> None:
        table = ControlRow.__table__  # type: ignore[attr-defined]
        for attempt in range(3):
            try:
                SQLModel.metadata.create_all(self._engine, tables=[table])
                return
            except DBAPIError:  # another process created it between the check and the CREATE
                if attempt == 2:
                    raise

    # -- filing -----------------------------------------------------------------------------------

    def submit(
        self,
        campaign: str,
        kind: str,
        payload: Mapping[str, Any] | BaseModel | None = None,
        *,
        by: str,
    ) -> ControlRequest:
        """Check a request against the campaign and file it for the engine.

        Args:
            campaign: Campaign id, e.g. ``snar-yield-1``.
            kind: ``pause``, ``resume``, ``approve``, ``reject``, ``edit`` or ``add_hypothesis``.
            payload: The kind's fields (a mapping or the payload model): ``note`` for pause and
                resume; ``experiments`` and ``note`` for approve and reject; ``experiment``,
                ``params`` (the changes) and ``note`` for edit; ``statement``,
                ``kind``, ``prediction``, ``rationale`` for add_hypothesis.
            by: ``human:<name>`` of the person asking.

        Raises:
            SpecError: bad ``by``, ``kind`` or payload field (named), the campaign is finished,
                an experiment is not proposed, edited conditions or a prediction lie outside the
                space, or a prediction repeats a registered one. Nothing is stored.
            NotFound: no such campaign.
            LedgerTampered: the campaign's record does not verify.
        """
        check_person(by)
        parsed = parse_payload(kind, payload)
        state = Journal.open(self._store, campaign).campaign
        if state.finished is not None:
            raise SpecError(
                f"campaign {campaign} is finished ({state.finished.detail}); it takes no more "
                "requests. Start a new campaign with `cfl run SPEC --new`",
                field="campaign",
            )
        pending = self.pending(campaign)
        if isinstance(parsed, ExperimentDecision):
            parsed = self._check_decision(state, kind, parsed, pending)
        elif isinstance(parsed, ExperimentEdit):
            self._check_decision(
                state, kind, ExperimentDecision(experiments=(parsed.experiment,)), pending
            )
            parsed.conditions(state.experiments[parsed.experiment].params, state.spec)
        elif isinstance(parsed, HypothesisRequest):
            self._check_hypothesis(state, parsed, by, pending)
        else:
            self._check_pause(state, kind, pending)
        row = ControlRow(
            campaign=campaign,
            kind=kind,
            payload=json.dumps(parsed.model_dump(mode="json"), sort_keys=True),
            by=by,
            created_at=datetime.now(UTC),
        )
        with Session(self._engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
            return _request(row)

    @staticmethod
    def _check_decision(
        state: Campaign, kind: str, decision: ExperimentDecision, pending: list[ControlRequest]
    ) -> ExperimentDecision:
        proposed = [e.id for e in state.with_status(ExperimentStatus.PROPOSED)]
        decided = {eid: request for request in pending for eid in _decides_on(request)}
        unique = tuple(dict.fromkeys(decision.experiments))
        for i, eid in enumerate(unique):
            field = f"payload.experiments[{i}]"
            experiment = state.experiments.get(eid)
            if experiment is None:
                raise SpecError(
                    f"no experiment {eid!r} in campaign {state.id}; experiments awaiting a "
                    f"decision: {proposed or 'none'}",
                    field=field,
                )
            if experiment.status != ExperimentStatus.PROPOSED:
                raise SpecError(
                    f"experiment {eid} is {experiment.status.value}; only proposed experiments "
                    f"can be {_DONE[kind]} (awaiting a decision: {proposed or 'none'})",
                    field=field,
                )
            earlier = decided.get(eid)
            if earlier is not None:
                raise SpecError(
                    f"experiment {eid} already has a pending {earlier.kind} request "
                    f"(#{earlier.id} by {earlier.by}); wait until the engine has applied it",
                    field=field,
                )
        return decision.model_copy(update={"experiments": unique})

    @staticmethod
    def _check_hypothesis(
        state: Campaign, request: HypothesisRequest, by: str, pending: list[ControlRequest]
    ) -> None:
        check_draft(state.spec, request.draft(by))
        key = prediction_key(request.prediction)
        for hypothesis in state.hypotheses.values():
            if prediction_key(hypothesis.prediction) == key:
                raise SpecError(
                    f"hypothesis {hypothesis.id} already makes this prediction "
                    f"({hypothesis.statement!r}); ask about it instead of adding it again",
                    field="payload.prediction",
                )
        for earlier in pending:
            if earlier.kind == "add_hypothesis":
                other = HypothesisRequest.model_validate(earlier.payload)
                if prediction_key(other.prediction) == key:
                    raise SpecError(
                        f"request #{earlier.id} by {earlier.by} already adds this prediction; "
                        "wait until the engine has registered it",
                        field="payload.prediction",
                    )

    @staticmethod
    def _check_pause(state: Campaign, kind: str, pending: list[ControlRequest]) -> None:
        paused = state.paused is not None
        for earlier in pending:
            if earlier.kind in ("pause", "resume"):
                paused = earlier.kind == "pause"
        if kind == "pause" and paused:
            raise SpecError(
                f"campaign {state.id} is already paused (or a pause is pending); file 'resume' "
                "to carry on",
                field="kind",
            )
        if kind == "resume" and not paused:
            raise SpecError(
                f"campaign {state.id} is not paused and no pause is pending; nothing to resume",
                field="kind",
            )

    # -- reading and settling ---------------------------------------------------------------------

    def pending(self, campaign: str) -> list[ControlRequest]:
        """Requests of ``campaign`` the engine has not settled yet, oldest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(ControlRow)
                .where(col(ControlRow.campaign) == campaign, col(ControlRow.settled_at).is_(None))
                .order_by(col(ControlRow.id))
            )
            return [_request(r) for r in rows]

    def history(self, campaign: str) -> list[ControlRequest]:
        """Every request of ``campaign``, settled or not, oldest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(ControlRow)
                .where(col(ControlRow.campaign) == campaign)
                .order_by(col(ControlRow.id))
            )
            return [_request(r) for r in rows]

    def get(self, request_id: int) -> ControlRequest:
        """One request by id.

        Raises:
            NotFound: no such request.
        """
        with Session(self._engine) as session:
            row = session.get(ControlRow, request_id)
            if row is None:
                raise NotFound(f"no control request #{request_id}", name=str(request_id))
            return _request(row)

    def settle(self, request_id: int, *, outcome: str, detail: str = "") -> ControlRequest:
        """Mark a request applied or refused, once.

        Raises:
            SpecError: ``outcome`` is neither ``applied`` nor ``refused``.
            NotFound: no such request.
            AlreadySettled: it was settled before; nothing changes.
        """
        if outcome not in OUTCOMES:
            raise SpecError(
                f"outcome must be one of {list(OUTCOMES)}, got {outcome!r}", field="outcome"
            )
        table = ControlRow.__table__  # type: ignore[attr-defined]
        statement = (
            update(table)
            .where(table.c.id == request_id, table.c.settled_at.is_(None))
            .values(settled_at=datetime.now(UTC), outcome=outcome, detail=detail)
        )
        with self._engine.begin() as connection:
            changed = connection.execute(statement).rowcount
        request = self.get(request_id)
        if changed != 1:
            raise AlreadySettled(
                f"control request #{request_id} was already settled ({request.outcome} at "
                f"{request.settled_at:%Y-%m-%d %H:%M:%S} UTC: {request.detail or 'no detail'}); "
                "a request is applied or refused once",
                request_id=request_id,
            )
        return request
