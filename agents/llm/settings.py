"""Which language model the co-scientist uses, from ``CFL_LLM_*`` variables, read when asked.

Any OpenAI-compatible chat endpoint works::

    # OpenAI
    CFL_LLM_BASE_URL=https://api.openai.com/v1  CFL_LLM_MODEL=gpt-4o-mini  CFL_LLM_API_KEY=sk-...
    # vLLM (e.g. EXAONE), no key needed
    CFL_LLM_BASE_URL=http://gpu-1:8000/v1  CFL_LLM_MODEL=LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct
    # Ollama
    CFL_LLM_BASE_URL=http://localhost:11434/v1  CFL_LLM_MODEL=qwen2.5:7b

With neither ``CFL_LLM_BASE_URL`` nor ``CFL_LLM_MODEL`` set, the co-scientist is offline (the
data-driven one of :mod:`agents.offline`). One without the other is a mistake, reported as a
:class:`~cfl.errors.SpecError` naming the missing variable. ``OPENAI_API_KEY`` is never read: a
key meant for OpenAI is not sent to whatever server ``CFL_LLM_BASE_URL`` names.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cfl.errors import SpecError

__all__ = [
    "OFFLINE",
    "LLMSettings",
    "StructuredMethod",
    "coscientist_status",
    "load_llm_settings",
    "public_url",
]

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]

OFFLINE = "Co-scientist: offline, data-driven (no LLM endpoint is configured)."
"""What the CLI says, once, when no endpoint is configured."""

_PREFIX = "CFL_LLM_"
_EXAMPLES = (
    "e.g. https://api.openai.com/v1 (OpenAI), http://localhost:8000/v1 (vLLM) or "
    "http://localhost:11434/v1 (Ollama)"
)


class LLMSettings(BaseSettings):
    """The co-scientist's model endpoint. Field ``x`` is read from ``CFL_LLM_X``.

    Building one raises :class:`~cfl.errors.SpecError` when only one of ``base_url`` and
    ``model`` is set; :func:`load_llm_settings` also turns a malformed value into one.
    """

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    base_url: str | None = None
    """Base URL of the OpenAI-compatible API, up to and including ``/v1``."""
    model: str | None = None
    """Model name as the server knows it."""
    api_key: SecretStr | None = None
    """Bearer key; local vLLM and Ollama need none (a placeholder is sent, which they ignore)."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Longest wait for one answer, in seconds."""
    max_retries: int = Field(default=0, ge=0)
    """Retries of a failed request (connection, 429, 5xx) inside one call. None by default: the
    loop asks again next round anyway, and each retry would add a ``timeout_s`` to the wait."""
    temperature: float | None = Field(default=None, ge=0)
    """Sampling temperature; unset leaves the server's default."""
    structured_output: StructuredMethod = "json_schema"
    """How a JSON answer is requested (see :mod:`agents.llm.structured`)."""

    @field_validator("base_url")
    @classmethod
    def _validate_base_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL; {_EXAMPLES}")
        return url.strip().rstrip("/")

    @model_validator(mode="after")
    def _validate_complete(self) -> LLMSettings:
        # A SpecError, not a ValueError: pydantic lets it through unchanged, with its field.
        if self.base_url is not None and self.model is None:
            raise SpecError(
                f"{_PREFIX}BASE_URL is set ({self.endpoint}) but no model is named; set "
                f"{_PREFIX}MODEL to a model the server serves, or unset {_PREFIX}BASE_URL to run "
                "the offline co-scientist",
                field=f"{_PREFIX}MODEL",
            )
        if self.model is not None and self.base_url is None:
            raise SpecError(
                f"{_PREFIX}MODEL is set ({self.model!r}) but no endpoint is; set "
                f"{_PREFIX}BASE_URL ({_EXAMPLES}), or unset {_PREFIX}MODEL to run the offline "
                "co-scientist",
                field=f"{_PREFIX}BASE_URL",
            )
        if self.api_key is not None and self.base_url is None:
            raise SpecError(
                f"{_PREFIX}API_KEY is set but no endpoint is; set {_PREFIX}BASE_URL and "
                f"{_PREFIX}MODEL, or unset {_PREFIX}API_KEY",
                field=f"{_PREFIX}BASE_URL",
            )
        return self

    @property
    def configured(self) -> bool:
        """Whether an endpoint is configured; if not, the co-scientist runs offline."""
        return self.base_url is not None and self.model is not None

    @property
    def endpoint(self) -> str:
        """The base URL as logged (see :func:`public_url`); "" if unset."""
        return "" if self.base_url is None else public_url(self.base_url)


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: safe to log and to hash into records."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def load_llm_settings(**overrides: Any) -> LLMSettings:
    """The settings from the environment (``overrides`` win), checked.

    Raises:
        SpecError: naming the variable (``CFL_LLM_TIMEOUT_S``, ...), the bad value and the fix;
            or naming the missing half of a half-configured endpoint.
    """
    try:
        return LLMSettings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = f"{_PREFIX}{str(error['loc'][0]).upper()}" if error["loc"] else _PREFIX + "*"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SpecError(f"{message} (got {error['input']!r}); fix or unset it", field=name) from exc


def coscientist_status(settings: LLMSettings) -> str:
    """One line for the CLI: which co-scientist runs, and on what."""
    if not settings.configured:
        return OFFLINE
    return f"Co-scientist: LLM {settings.model} at {settings.endpoint}."
