"""The store: campaigns and their ledger records, on SQLite by default or PostgreSQL by URL.

Two tables. ``record`` holds every sealed ledger record, primary key ``(campaign_id, seq)``, with
the payload kept as the exact canonical JSON text that was hashed (a JSON column would let the
database re-encode it). ``campaign`` indexes campaigns and keeps each one's chain head, updated in
the same transaction as the records it covers. Appends are conditional on the head the writer last
saw, so two processes can never fork one campaign's chain: the second writer gets
:class:`ConcurrentWriter` and nothing is written.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Text,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from cfl.canonical import canonical_json
from cfl.errors import CFLError, NotFound, SpecError
from cfl.ledger import Record

__all__ = ["CampaignInfo", "ConcurrentWriter", "Store"]


class ConcurrentWriter(CFLError):
    """Another process appended to this campaign since this one last read it."""


class _UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps wall-clock digits and drops the offset, so values are stored as naive UTC and
    given their UTC zone back when read.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class CampaignRow(SQLModel, table=True):
    __tablename__ = "campaign"

    id: str = Field(primary_key=True)
    name: str = Field(index=True)
    spec_hash: str = Field(index=True)
    finished: bool = False
    created_at: datetime = Field(sa_column=Column(_UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(_UTCDateTime, nullable=False))
    head_seq: int
    head_hash: str


class RecordRow(SQLModel, table=True):
    __tablename__ = "record"

    campaign_id: str = Field(primary_key=True, foreign_key="campaign.id")
    seq: int = Field(primary_key=True)
    type: str = Field(index=True)
    ts: str
    actor: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev: str
    hash: str


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign's row: enough to list campaigns without replaying them."""

    id: str
    name: str
    spec_hash: str
    finished: bool
    created_at: datetime
    updated_at: datetime
    head_seq: int
    head_hash: str


def _info(row: CampaignRow) -> CampaignInfo:
    return CampaignInfo(**row.model_dump())


def _row(record: Record) -> RecordRow:
    return RecordRow(
        campaign_id=record.campaign,
        seq=record.seq,
        type=record.type,
        ts=record.ts,
        actor=record.actor,
        payload=canonical_json(record.payload),
        prev=record.prev,
        hash=record.hash,
    )


def _row_tuple(record: Record) -> tuple[Any, ...]:
    return (
        record.campaign,
        record.seq,
        record.type,
        record.ts,
        record.actor,
        canonical_json(record.payload),
        record.prev,
        record.hash,
    )


@functools.cache
def _hot_statements(paramstyle: str) -> tuple[str, str]:
    """The append path's two statements in the driver's placeholder style."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(paramstyle)
    if mark is None:
        raise CFLError(f"unsupported database driver parameter style {paramstyle!r}")
    move = (
        f"UPDATE campaign SET head_seq = {mark}, head_hash = {mark}, updated_at = {mark}, "
        f"finished = {mark} WHERE id = {mark} AND head_seq = {mark} AND head_hash = {mark}"
    )
    columns = "campaign_id, seq, type, ts, actor, payload, prev, hash"
    insert_sql = f"INSERT INTO record ({columns}) VALUES ({', '.join([mark] * 8)})"
    return move, insert_sql


def _record(row: RecordRow) -> Record:
    return Record(
        campaign=row.campaign_id,
        seq=row.seq,
        type=row.type,
        ts=row.ts,
        actor=row.actor,
        payload=json.loads(row.payload),
        prev=row.prev,
        hash=row.hash,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL + NORMAL: a killed process loses nothing committed; only power loss can cost the last
    # transactions, and the chain head check would then report the cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """Campaigns and ledger records in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer: Connection | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        self._integrity_errors: tuple[type[Exception], ...] = (
            IntegrityError,
            engine.dialect.loaded_dbapi.IntegrityError,
        )
        """One connection kept for appends: checking one out of the pool per step cost more
        than the commit."""

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (and create if needed) the store at ``url``.

        ``postgresql://`` URLs use the psycopg 3 driver. A relative SQLite path is relative to
        the current directory; its folder is created.

        Raises:
            SpecError: the URL is malformed or names an unsupported database.
        """
        try:
            parsed = make_url(url)
        except Exception as exc:  # sqlalchemy raises ArgumentError, a bare Exception subclass
            raise SpecError(f"CFL_DATABASE_URL {url!r} is not a database URL: {exc}") from exc
        backend = parsed.get_backend_name()
        driver = parsed.drivername.partition("+")[2]
        if backend == "sqlite" and driver not in ("", "pysqlite"):
            raise SpecError(f"unsupported SQLite driver {driver!r} in {url!r}; use sqlite:///PATH")
        if backend == "postgresql" and driver not in ("", "psycopg"):
            raise SpecError(
                f"unsupported PostgreSQL driver {driver!r} in {url!r}; write postgresql://... "
                "(CFL connects with psycopg 3)"
            )
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        elif backend == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
            engine = create_engine(parsed, pool_pre_ping=True)
        else:
            raise SpecError(
                f"unsupported database {backend!r} in {url!r}; use sqlite:/// or postgresql://"
            )
        try:
            SQLModel.metadata.create_all(engine)
        except OperationalError as exc:
            raise CFLError(f"cannot open the store at {parsed!r}: {exc.orig}") from exc
        return cls(engine)

    def close(self) -> None:
        """Release connections."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()

    def _writing(self) -> Connection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            self._writer = self.engine.connect()
        return self._writer

    def create_campaign(self, *, name: str, spec_hash: str, first: Record) -> None:
        """Add a campaign and its first record, atomically.

        Raises:
            ConcurrentWriter: a campaign with that id exists already.
        """
        now = datetime.now(UTC)
        row = CampaignRow(
            id=first.campaign,
            name=name,
            spec_hash=spec_hash,
            created_at=now,
            updated_at=now,
            head_seq=first.seq,
            head_hash=first.hash,
        )
        try:
            with Session(self.engine) as session:
                session.add(row)
                session.flush()
                session.add(_row(first))
                session.commit()
        except IntegrityError as exc:
            raise ConcurrentWriter(f"campaign {first.campaign} already exists") from exc

    def append(self, records: Sequence[Record], *, finished: bool = False) -> None:
        """Append records to one campaign's chain and move its head, atomically.

        Raises:
            ConcurrentWriter: the head moved since ``records[0].prev`` was read.
        """
        if not records:
            return
        campaign, first, last = records[0].campaign, records[0], records[-1]
        # This runs twice for every device command, so it talks to the driver directly with two
        # statements rendered once per dialect: the ORM's unit of work cost five times the commit
        # itself, and SQLAlchemy Core's per-call compilation bookkeeping still twice.
        move, insert_sql = _hot_statements(self.engine.dialect.paramstyle)
        connection = self._writing()
        now = datetime.now(UTC).replace(tzinfo=None)
        try:
            with connection.begin():
                cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute(
                        move,
                        (
                            last.seq,
                            last.hash,
                            now.strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else now,
                            finished,
                            campaign,
                            first.seq - 1,
                            first.prev,
                        ),
                    )
                    if cursor.rowcount != 1:
                        raise ConcurrentWriter(
                            f"campaign {campaign} was written by another process since it was "
                            "loaded; stop the other `cfl run` or reload the campaign"
                        )
                    cursor.executemany(insert_sql, [_row_tuple(r) for r in records])
                finally:
                    cursor.close()
        except self._integrity_errors as exc:
            raise ConcurrentWriter(f"campaign {campaign}: records already exist") from exc

    def campaigns(self) -> list[CampaignInfo]:
        """All campaigns, newest first."""
        with Session(self.engine) as session:
            rows = session.exec(select(CampaignRow).order_by(col(CampaignRow.created_at).desc()))
            return [_info(r) for r in rows]

    def campaign(self, campaign_id: str) -> CampaignInfo:
        """One campaign's row.

        Raises:
            NotFound: no such campaign.
        """
        with Session(self.engine) as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                known = [c.id for c in self.campaigns()][:10]
                raise NotFound(
                    f"no campaign {campaign_id!r}; known campaigns: {known or 'none'}",
                    name=campaign_id,
                )
            return _info(row)

    def records(self, campaign_id: str) -> list[Record]:
        """A campaign's records in stored ``seq`` order."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(RecordRow)
                .where(col(RecordRow.campaign_id) == campaign_id)
                .order_by(col(RecordRow.seq))
            )
            return [_record(r) for r in rows]

    def next_campaign_id(self, name: str) -> str:
        """``<name>-<n>`` with ``n`` one past the campaigns of that name so far."""
        with Session(self.engine) as session:
            count = len(session.exec(select(CampaignRow.id).where(CampaignRow.name == name)).all())
        return f"{name}-{count + 1}"
