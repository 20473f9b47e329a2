"""Raw episodes as a lab run records them: one JSON file per goal, appended crash-safely.

The store is what a driver writes to while the robot works (``$CFL_HOME/data/episodes/``), so it
favours never losing or half-writing an episode over compactness:

- One file per episode, the episode model's own JSON (``Episode.model_dump_json``). JSON rather
  than parquet because a goal is small (seconds of frames), the file is readable with any tool, a
  float survives the round trip exactly (Python's shortest ``repr``), and the model's validation
  applies again on reading. Datasets for sharing are made from the store by
  :func:`robots.dataset.lerobot.export`.
- A file is written under a hidden temporary name (``.<name>.tmp-*``), flushed to disk, then
  renamed to its final name, and the folder entry is flushed too. A crash at any point leaves
  either the whole file or a hidden leftover that reading ignores.
- The name is ``<started_at>-<digest>.json``: the acceptance time (fixed width, UTC) so listing
  order is recording order, and a digest of robot serial, goal id and start time so two robots'
  goals never collide, while writing the same episode again replaces it instead of duplicating it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from robots.episodes import Episode

__all__ = ["EpisodeStore"]

_SUFFIX = ".json"


class EpisodeStore:
    """A folder of recorded episodes; an :class:`~robots.episodes.EpisodeSink`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def write(self, episode: Episode) -> None:
        """Keep ``episode``: it is on disk, whole, when this returns.

        Raises:
            ValueError: ``episode.started_at`` is not an ISO 8601 time (it names the file).
            OSError: the folder cannot be written (disk full, permissions).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / self.file_name(episode)
        data = episode.model_dump_json().encode("utf-8")
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{final.name}.tmp-")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _sync_folder(self.folder)

    @staticmethod
    def file_name(episode: Episode) -> str:
        """The file ``episode`` is kept in (see the module docstring).

        Raises:
            ValueError: ``episode.started_at`` is not an ISO 8601 time.
        """
        try:
            started = datetime.fromisoformat(episode.started_at)
        except ValueError as exc:
            raise ValueError(
                f"episode of goal {episode.goal_id!r}: started_at {episode.started_at!r} is not "
                "an ISO 8601 time; record it as e.g. 2026-01-31T12:00:00.000Z"
            ) from exc
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        key = "\x1f".join((episode.robot_serial, episode.goal_id, episode.started_at))
        return f"{stamp}-{hashlib.sha256(key.encode()).hexdigest()[:16]}{_SUFFIX}"

    def paths(self) -> list[Path]:
        """The episode files, in recording order; hidden temporary leftovers are not among them."""
        if not self.folder.is_dir():
            return []
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.suffix == _SUFFIX and not p.name.startswith(".") and p.is_file()
        )

    def read(self, path: Path) -> Episode:
        """The episode kept in ``path``.

        Raises:
            ValueError: the file is not a valid episode (named, with pydantic's reason).
        """
        try:
            return Episode.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise ValueError(
                f"{path} is not a valid episode ({exc.error_count()} problem(s): "
                f"{exc.errors()[0]['msg']}); move it out of {self.folder} and export again"
            ) from exc

    def episodes(self, where: Callable[[Episode], bool] | None = None) -> Iterator[Episode]:
        """The stored episodes in recording order, those for which ``where`` holds if given."""
        for path in self.paths():
            episode = self.read(path)
            if where is None or where(episode):
                yield episode

    def __iter__(self) -> Iterator[Episode]:
        return self.episodes()

    def __len__(self) -> int:
        return len(self.paths())


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry, so the rename itself survives a power cut (POSIX only)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder; the rename is still atomic there
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to sync a folder
            os.fsync(fd)
    finally:
        os.close(fd)
