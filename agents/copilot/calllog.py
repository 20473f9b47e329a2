"""The copilot's model calls, on a signed chain of their own (item 7 of the co-scientist issue).

A campaign's agents log their model calls into the campaign's ledger (``model.called``
records); the copilot talks about any campaign, or none, so its calls go to one chain,
:data:`CHAIN`, in a store of its own, ``$CFL_HOME/copilot.db`` (``CFL_COPILOT_LOG_URL`` to put
it elsewhere): signed, hash-chained and tree-headed exactly like a campaign's records
(:class:`cfl.sidechains.SignedChains`), and checked by ``cfl chat --verify-log``. What the
copilot then *does* to a campaign goes, as before, through the control board into that
campaign's ledger in the person's name.

Each record: type ``model.called``, actor ``agent:copilot@<VERSION>``, payload the
:class:`~agents.llm.calls.ModelCall` (model, endpoint, prompt and output SHA-256, tokens) and
``on_behalf_of``, the person chatting (``human:<name>``), or ``None`` for a read-only session.
"""

from __future__ import annotations

import os

from pydantic import JsonValue

from agents.llm.calls import ModelCall, ModelCallSink
from cfl.settings import Settings
from cfl.sidechains import SignedChains

__all__ = ["ACTOR", "CHAIN", "VERSION", "call_log_url", "ledger_sink"]

VERSION = "0.1"
ACTOR = f"agent:copilot@{VERSION}"
CHAIN = "copilot-model-calls"


def call_log_url() -> str:
    """``CFL_COPILOT_LOG_URL``, else a SQLite file next to the CFL store in ``CFL_HOME``."""
    url = os.environ.get("CFL_COPILOT_LOG_URL")
    if url:
        return url
    return f"sqlite:///{Settings().home / 'copilot.db'}"


def ledger_sink(chains: SignedChains, *, on_behalf_of: str | None) -> ModelCallSink:
    """A sink appending each model call to :data:`CHAIN` (a failing append fails the call)."""

    def write(call: ModelCall) -> None:
        payload: dict[str, JsonValue] = call.model_dump(mode="json")
        payload["on_behalf_of"] = on_behalf_of
        chains.append(CHAIN, "model.called", payload, actor=ACTOR, title="copilot")

    return write
