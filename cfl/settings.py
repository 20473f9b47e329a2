"""Settings from the environment (``CFL_*``), read when asked for, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Where CFL keeps its data.

    ``CFL_HOME`` is the working folder (default ``.cfl`` in the current directory);
    ``CFL_DATABASE_URL`` selects the store (default: an SQLite file in ``CFL_HOME``), e.g.
    ``postgresql://cfl@127.0.0.1:5432/cfl``.
    """

    model_config = SettingsConfigDict(env_prefix="CFL_", extra="ignore")

    home: Path = Path(".cfl")
    database_url: str | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    """Read here only to say which co-scientist ``auto`` runs; ``agents.llm.settings`` reads
    and checks the whole ``CFL_LLM_*`` set."""

    @property
    def store_url(self) -> str:
        """The database URL to open."""
        if self.database_url:
            return self.database_url
        # Built, not pasted: a '?' or '%' in the folder name must stay part of the path.
        return URL.create("sqlite", database=str(self.home / "cfl.db")).render_as_string()
