"""The store: campaigns and their ledger records, on SQLite by default or PostgreSQL by URL.

Four tables. ``record`` holds every sealed ledger record, primary key ``(campaign_id, seq)``, with
the payload kept as the exact canonical JSON text that was hashed (a JSON column would let the
database re-encode it); a v2 record keeps the canonical JSON of all its other hashed fields in
``meta`` (so its hash is recomputed from the two stored texts, without serialising anything), its
signature in ``sig``, and ``v`` says which format a row is. ``campaign`` indexes campaigns
and keeps each one's chain head, updated in the same transaction as the records it covers.
``tree_head`` keeps the signed Merkle tree heads (:class:`cfl.ledger.TreeHead`), written in the
same transaction as the records they cover, with an RFC 3161 token added later if one is got.
``ledger_key`` lists the public keys that signed records here (for exports; a verifier trusts only
the keys it is given). Appends are conditional on the head the writer last saw, so two processes
can never fork one campaign's chain: the second writer gets :class:`ConcurrentWriter` and nothing
is written.

Stores written before signatures (v1: no ``v``, ``meta``, ``sig`` columns, no ``tree_head`` or
``ledger_key`` tables) are upgraded in place when opened: the tables are created and the three
nullable columns added (``v`` defaults to 1), nothing else changes, and their records verify as
v1. A campaign started then continues with signed v2 records.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Text,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from cfl.canonical import canonical_json
from cfl.errors import CFLError, LedgerTampered, NotFound, SpecError
from cfl.keys import PublicKey
from cfl.ledger import V2_FIELDS, Entry, Record, TreeHead, stored_texts

__all__ = ["CampaignInfo", "ConcurrentWriter", "Snapshot", "Store"]


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
    v: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    meta: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sig: str | None = None


class TreeHeadRow(SQLModel, table=True):
    __tablename__ = "tree_head"

    campaign_id: str = Field(primary_key=True, foreign_key="campaign.id")
    size: int = Field(primary_key=True)
    root: str
    ts: str
    key_id: str
    sig: str
    timestamp_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Canonical JSON of the RFC 3161 token (``TimestampToken.to_json()``), once one is got."""


class KeyRow(SQLModel, table=True):
    __tablename__ = "ledger_key"

    key_id: str = Field(primary_key=True)
    signs_for: str
    public_key: str
    """Base64 of the 32 raw bytes."""
    created: str
    host: str


_V2_COLUMNS = {
    "v": "INTEGER NOT NULL DEFAULT 1",
    "meta": "TEXT",
    "sig": "TEXT",
}
"""Columns a v1 store's ``record`` table lacks, with their SQL types (same on both backends)."""


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


@dataclass(frozen=True)
class Snapshot:
    """A campaign as of one moment: its row (with the head), records and signed tree heads."""

    info: CampaignInfo
    rows: list[tuple[Any, ...]]
    """The records' rows as stored (:data:`_RECORD_COLUMNS`)."""
    heads: list[TreeHead]

    @functools.cached_property
    def records(self) -> list[Record]:
        """The records, payloads parsed."""
        return [_record(r) for r in self.rows]

    def entries(self) -> list[Entry]:
        """The records as verification reads them, both texts as stored."""
        return [Entry.from_row(r) for r in self.rows]

    @property
    def hashes(self) -> list[str]:
        """The records' hashes, in order (the Merkle tree's leaves)."""
        return [r[7] for r in self.rows]


def _info(row: CampaignRow) -> CampaignInfo:
    return CampaignInfo(**row.model_dump())


def _info_of(mapping: Any) -> CampaignInfo:
    """A campaign's info from a Core row of the ``campaign`` table."""
    return CampaignInfo(**{f: mapping[f] for f in CampaignInfo.__dataclass_fields__})


def _row_tuple(record: Record) -> tuple[Any, ...]:
    if record.v == 1:
        payload, fields = canonical_json(record.payload), None
    else:
        payload, fields = stored_texts(record)
    return (
        record.campaign,
        record.seq,
        record.type,
        record.ts,
        record.actor,
        payload,
        record.prev,
        record.hash,
        record.v,
        fields,
        record.sig,
    )


def _head_tuple(head: TreeHead) -> tuple[Any, ...]:
    token = None if head.timestamp_token is None else canonical_json(head.timestamp_token)
    return (head.campaign, head.size, head.root, head.ts, head.key, head.sig, token)


_RECORD_COLUMNS = "campaign_id, seq, type, ts, actor, payload, prev, hash, v, meta, sig"
_HEAD_COLUMNS = "campaign_id, size, root, ts, key_id, sig, timestamp_token"


@functools.cache
def _select_records(paramstyle: str) -> str:
    """``SELECT`` of a campaign's records in ``seq`` order, in the driver's placeholder style."""
    mark = "?" if paramstyle == "qmark" else "%s"
    return f"SELECT {_RECORD_COLUMNS} FROM record WHERE campaign_id = {mark} ORDER BY seq"


@functools.cache
def _hot_statements(paramstyle: str) -> tuple[str, str, str]:
    """The append path's three statements in the driver's placeholder style."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(paramstyle)
    if mark is None:
        raise CFLError(f"unsupported database driver parameter style {paramstyle!r}")
    move = (
        f"UPDATE campaign SET head_seq = {mark}, head_hash = {mark}, updated_at = {mark}, "
        f"finished = {mark} WHERE id = {mark} AND head_seq = {mark} AND head_hash = {mark}"
    )
    insert_sql = f"INSERT INTO record ({_RECORD_COLUMNS}) VALUES ({', '.join([mark] * 11)})"
    head_sql = f"INSERT INTO tree_head ({_HEAD_COLUMNS}) VALUES ({', '.join([mark] * 7)})"
    return move, insert_sql, head_sql


def _record(row: Any) -> Record:
    """A record from a ``SELECT`` of :data:`_RECORD_COLUMNS`.

    Built without validation: a store read is verified by hash (and signature) before anything
    relies on it, and validating every JSON value costs more than reading the row.
    """
    campaign, seq, type_, ts, actor, payload, prev, digest, version, meta, sig = row
    try:
        parsed = json.loads(payload)
        fields = {} if meta is None else json.loads(meta)
    except ValueError as exc:  # JSON no CFL writer produces: the row was edited in the database
        raise LedgerTampered(
            f"record #{seq} of campaign {campaign!r} is not valid JSON ({exc}): it was edited "
            "outside CFL; `cfl ledger verify` names every problem",
            campaign=campaign,
            seq=seq,
            kind="edited",
        ) from exc
    return Record.model_construct(
        campaign=campaign,
        seq=seq,
        type=type_,
        ts=ts,
        actor=actor,
        payload=parsed,
        prev=prev,
        hash=digest,
        v=1 if version is None else version,
        meta={k: v for k, v in fields.items() if k in V2_FIELDS}
        if isinstance(fields, dict)
        else {},
        sig=sig,
    )


def _tree_head(row: Any) -> TreeHead:
    campaign, size, root, ts, key_id, sig, token = row
    return TreeHead(
        campaign=campaign,
        size=size,
        root=root,
        ts=ts,
        key=key_id,
        sig=sig,
        timestamp_token=None if token is None else json.loads(token),
    )


def _sqlite_time(m: datetime) -> str:
    """``m`` as SQLAlchemy stores datetimes in SQLite (strftime costs as much as the insert)."""
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}"
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


def _head_row(head: TreeHead) -> TreeHeadRow:
    return TreeHeadRow(
        campaign_id=head.campaign,
        size=head.size,
        root=head.root,
        ts=head.ts,
        key_id=head.key,
        sig=head.sig,
        timestamp_token=None
        if head.timestamp_token is None
        else canonical_json(head.timestamp_token),
    )


def _upgrade_v1(engine: Engine) -> None:
    """Add the v2 columns to a v1 store's ``record`` table (module docstring)."""
    present = {c["name"] for c in inspect(engine).get_columns("record")}
    missing = [name for name in _V2_COLUMNS if name not in present]
    if not missing:
        return
    try:
        with engine.begin() as conn:
            for name in missing:
                conn.exec_driver_sql(f"ALTER TABLE record ADD COLUMN {name} {_V2_COLUMNS[name]}")
    except (OperationalError, ProgrammingError):
        # Another process upgraded it at the same moment; fine if the columns are there now.
        present = {c["name"] for c in inspect(engine).get_columns("record")}
        if not set(_V2_COLUMNS) <= present:
            raise


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
            _upgrade_v1(engine)
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

    def create_campaign(
        self, *, name: str, spec_hash: str, first: Record, tree_head: TreeHead | None = None
    ) -> None:
        """Add a campaign and its first record (and a tree head over it), atomically.

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
                session.add(
                    RecordRow(
                        **dict(zip(_RECORD_COLUMNS.split(", "), _row_tuple(first), strict=True))
                    )
                )
                if tree_head is not None:
                    session.add(_head_row(tree_head))
                session.commit()
        except IntegrityError as exc:
            raise ConcurrentWriter(f"campaign {first.campaign} already exists") from exc

    def append(
        self,
        records: Sequence[Record],
        *,
        finished: bool = False,
        tree_head: TreeHead | None = None,
    ) -> None:
        """Append records to one campaign's chain and move its head, atomically.

        With ``tree_head``, that signed head (over the log including these records) is stored in
        the same transaction.

        Raises:
            ConcurrentWriter: the head moved since ``records[0].prev`` was read.
        """
        if not records:
            return
        campaign, first, last = records[0].campaign, records[0], records[-1]
        # This runs twice for every device command, so it talks to the driver directly with two
        # statements rendered once per dialect: the ORM's unit of work cost five times the commit
        # itself, and SQLAlchemy Core's per-call compilation bookkeeping still twice.
        move, insert_sql, head_sql = _hot_statements(self.engine.dialect.paramstyle)
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
                            _sqlite_time(now) if self._sqlite else now,
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
                    if tree_head is not None:
                        cursor.execute(head_sql, _head_tuple(tree_head))
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

    def snapshot(self, campaign_id: str) -> Snapshot:
        """A campaign's row, records and tree heads as of one moment.

        Read in one transaction with a stable snapshot (SQLite: a read transaction; PostgreSQL:
        ``REPEATABLE READ``), so a writer appending meanwhile can never make the records look
        longer or shorter than the head kept beside them.

        Raises:
            NotFound: no such campaign.
        """
        connection = self.engine.connect()
        if not self._sqlite:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        table = SQLModel.metadata.tables["campaign"]
        with connection as conn, conn.begin():
            if self._sqlite:
                conn.exec_driver_sql("BEGIN")  # pysqlite would not open one for reads
            row = conn.execute(table.select().where(table.c.id == campaign_id)).first()
            info = None if row is None else _info_of(row._mapping)
            # The driver's own cursor: a hundred thousand rows through SQLAlchemy's Row objects
            # cost more than verifying their hashes.
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(_select_records(self.engine.dialect.paramstyle), (campaign_id,))
                rows: list[tuple[Any, ...]] = [tuple(r) for r in cursor.fetchall()]
            finally:
                cursor.close()
            heads = [
                _tree_head(r)
                for r in conn.execute(
                    text(
                        f"SELECT {_HEAD_COLUMNS} FROM tree_head WHERE campaign_id = :c "
                        "ORDER BY size"
                    ),
                    {"c": campaign_id},
                )
            ]
        if info is None:
            return Snapshot(self.campaign(campaign_id), rows, heads)  # raises NotFound
        return Snapshot(info, rows, heads)

    def records(self, campaign_id: str) -> list[Record]:
        """A campaign's records in stored ``seq`` order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {_RECORD_COLUMNS} FROM record WHERE campaign_id = :c ORDER BY seq"),
                {"c": campaign_id},
            )
            return [_record(r) for r in rows]

    def record(self, campaign_id: str, seq: int) -> Record:
        """One record.

        Raises:
            NotFound: the campaign has no record ``seq``.
        """
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_RECORD_COLUMNS} FROM record WHERE campaign_id = :c AND seq = :s"),
                {"c": campaign_id, "s": seq},
            ).first()
        if row is None:
            raise NotFound(f"campaign {campaign_id} has no record #{seq}", name=f"{seq}")
        return _record(row)

    def record_hashes(self, campaign_id: str) -> list[str]:
        """The hashes of a campaign's records in ``seq`` order (the Merkle tree's leaves)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT hash FROM record WHERE campaign_id = :c ORDER BY seq"),
                {"c": campaign_id},
            )
            return [r[0] for r in rows]

    # -- tree heads and keys -------------------------------------------------------------------

    def tree_heads(self, campaign_id: str) -> list[TreeHead]:
        """A campaign's signed tree heads, by size."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {_HEAD_COLUMNS} FROM tree_head WHERE campaign_id = :c ORDER BY size"),
                {"c": campaign_id},
            )
            return [_tree_head(r) for r in rows]

    def add_tree_head(self, head: TreeHead) -> TreeHead:
        """Keep a signed tree head; the one already kept if there is one of that size and root.

        Raises:
            LedgerTampered: a head of that size with another root is kept: two different logs.
        """
        try:
            with Session(self.engine) as session:
                session.add(_head_row(head))
                session.commit()
            return head
        except IntegrityError:
            pass
        kept = next((h for h in self.tree_heads(head.campaign) if h.size == head.size), None)
        if kept is None:  # the campaign itself is missing (foreign key)
            raise NotFound(f"no campaign {head.campaign!r}", name=head.campaign) from None
        if kept.root != head.root:
            raise LedgerTampered(
                f"campaign {head.campaign}: a tree head of size {head.size} with root "
                f"{kept.root[:12]}... is kept, and now one with root {head.root[:12]}...: two "
                "different logs (a fork)",
                campaign=head.campaign,
                seq=head.size,
                tree_size=head.size,
                kind="forked",
            )
        return kept

    def set_timestamp_token(
        self, campaign_id: str, size: int, token: Mapping[str, JsonValue]
    ) -> None:
        """Attach an RFC 3161 token (``TimestampToken.to_json()``) to a kept tree head.

        Raises:
            NotFound: no tree head of that size.
        """
        with self.engine.begin() as conn:
            done = conn.execute(
                text(
                    "UPDATE tree_head SET timestamp_token = :t WHERE campaign_id = :c AND size = :s"
                ),
                {"t": canonical_json(dict(token)), "c": campaign_id, "s": size},
            )
        if done.rowcount != 1:
            raise NotFound(
                f"campaign {campaign_id} has no tree head of size {size}", name=f"{size}"
            )

    def register_key(self, key: PublicKey) -> None:
        """List a public key that signs records here (kept once; informative for exports)."""
        row = KeyRow(
            key_id=key.key_id,
            signs_for=key.signs_for,
            public_key=base64.b64encode(key.public_key).decode("ascii"),
            created=key.created,
            host=key.host,
        )
        try:
            with Session(self.engine) as session:
                session.add(row)
                session.commit()
        except IntegrityError:
            pass

    def public_keys(self) -> list[PublicKey]:
        """The public keys registered here.

        Untrusted: anyone who can write the store can add one; a verifier trusts only the keys
        it is given.
        """
        with Session(self.engine) as session:
            rows = session.exec(select(KeyRow).order_by(col(KeyRow.key_id))).all()
        return [
            PublicKey(
                public_key=base64.b64decode(r.public_key),
                signs_for=r.signs_for,
                created=r.created,
                host=r.host,
            )
            for r in rows
        ]

    def next_campaign_id(self, name: str) -> str:
        """``<name>-<n>`` with ``n`` one past the campaigns of that name so far."""
        with Session(self.engine) as session:
            count = len(session.exec(select(CampaignRow.id).where(CampaignRow.name == name)).all())
        return f"{name}-{count + 1}"
