"""Plug-ins by name: devices, planners and agents found through entry points.

A lab file says ``driver: sim-hplc``; the core looks the name up in the ``cfl.devices``
entry-point group and never imports a driver itself. A lab engineer developing a driver before
packaging it can also name it by import path, ``package.module:ClassName``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Literal

from cfl.errors import SpecError

__all__ = ["PluginGroup", "available_plugins", "load_plugin"]

PluginGroup = Literal["cfl.devices", "cfl.planners", "cfl.agents"]


def available_plugins(group: PluginGroup) -> list[str]:
    """Names installed in ``group``, sorted."""
    return sorted(ep.name for ep in entry_points(group=group))


def load_plugin(group: PluginGroup, name: str) -> object:
    """The object registered as ``name`` in ``group``, or the one at import path ``name``.

    Raises:
        SpecError: nothing is registered under that name, or the import path does not resolve.
    """
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise SpecError(
                f"cannot import {name!r} ({exc}); check the module path and class name"
            ) from exc
    for ep in entry_points(group=group, name=name):
        return ep.load()
    raise SpecError(
        f"unknown plug-in {name!r} in {group}; installed: {available_plugins(group)}. "
        "Fix the name, install the package that provides it, or give an import path "
        "'module:Class'"
    )
