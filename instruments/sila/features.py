"""CFL's capability protocols as SiLA 2 features (originator ``com.kapex``, category ``cfl``).

One feature per protocol of :mod:`cfl.devices`, named like it, so ``com.kapex/cfl/Measures/v1`` is
what ``Measures`` is on the wire; plus ``DeviceInfo``, which every served device has. A server
implements exactly the features of the protocols its device satisfies, and a client can list them
with the SiLA 2 core feature ``SiLAService.ImplementedFeatures``.

Wire shapes (SiLA 2 data types):

* Every command that takes lab time (pick, place, react, measure, dose, heat) is an *observable*
  command: the server reports progress from 0 to 1 in its ExecutionInfo while the device works,
  and the client fetches the result when it is done (SiLA 2 Part A, "Observable Command").
* ``React.Conditions`` is a ``List`` of ``Condition`` structures, one per experiment parameter:
  ``Name``, ``Kind`` (``Real``, ``Integer`` or ``Text``) and the value in the field named by
  ``Kind``; the other two fields are zero / empty. Carrying the kind keeps ``2`` an integer and
  ``"EtOH"`` a string across the wire, so the device sees exactly the conditions CFL designed.
* ``Measure`` returns ``Values``, a ``List`` of ``Quantity`` structures (``Name``, ``Value``: a
  Real), which is what CFL judges; and ``Raw``, the reading's primary data as the text of a JSON
  object, because primary data is free-form (peak tables, spectra) and SiLA 2 has no JSON type.
* Each CFL error a device raises is a Defined Execution Error named like its class
  (``DeviceFault``, ``ReadingOutOfRange``, ``DeviceTimeout``, ``SafetyInterlock``); see
  :mod:`instruments.sila.codec` for how its context travels in the message. ``DeviceDisconnected``
  is not among them: a lost connection is shown by losing the connection (see
  :mod:`instruments.sila.server`), and any other error is an Undefined Execution Error, which the
  client reads as ``DeviceFault``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sila2.framework import Feature

from cfl.devices import Doses, Heats, Measures, Reacts, Stoppable, Transfers
from cfl.wire.fdl import (
    INTEGER,
    REAL,
    STRING,
    Command,
    Element,
    ErrorDefinition,
    FeatureDefinition,
    Property,
    list_of,
    one_of,
    reference,
    structure,
    with_unit,
)

__all__ = [
    "CAPABILITIES",
    "CATEGORY",
    "DEVICE_INFO",
    "ORIGINATOR",
    "Capability",
    "capability",
    "sila_feature",
]

ORIGINATOR = "com.kapex"
CATEGORY = "cfl"

_FAULT = ErrorDefinition(
    "DeviceFault",
    "The device reported a fault: a mechanical failure, a lost or missing sample, a bad state. "
    "CFL's DeviceFault; the message says whether trying again may help.",
)
_OUT_OF_RANGE = ErrorDefinition(
    "ReadingOutOfRange",
    "The instrument judged its own reading impossible; measuring again may help. "
    "CFL's ReadingOutOfRange.",
)
_TIMEOUT = ErrorDefinition(
    "DeviceTimeout",
    "The device gave up: the command did not finish in the time it allows itself. "
    "CFL's DeviceTimeout; trying again may work.",
)
_INTERLOCK = ErrorDefinition(
    "SafetyInterlock",
    "A safety rule stopped the command. Clearing it needs a human; never retry automatically. "
    "CFL's SafetyInterlock.",
)
_WORK_ERRORS = (_FAULT, _TIMEOUT, _INTERLOCK)

_SAMPLE = Element("Sample", "Id of the sample (vial) the command acts on.", STRING)
_CELSIUS = with_unit(REAL, "degC", "Kelvin", offset=273.15)


def _work(
    identifier: str,
    description: str,
    parameters: tuple[Element, ...],
    responses: tuple[Element, ...] = (),
    errors: tuple[ErrorDefinition, ...] = _WORK_ERRORS,
) -> Command:
    """A command that takes lab time: observable, with CFL's errors."""
    return Command(
        identifier,
        description + " Observable: progress goes from 0 to 1 while the device works.",
        observable=True,
        parameters=parameters,
        responses=responses,
        errors=tuple(e.identifier for e in errors),
    )


def _feature(
    identifier: str,
    description: str,
    *,
    commands: tuple[Command, ...] = (),
    properties: tuple[Property, ...] = (),
    errors: tuple[ErrorDefinition, ...] = _WORK_ERRORS,
    data_types: tuple[Element, ...] = (),
) -> FeatureDefinition:
    return FeatureDefinition(
        identifier,
        description,
        ORIGINATOR,
        CATEGORY,
        commands=commands,
        properties=properties,
        errors=errors,
        data_types=data_types,
    )


DEVICE_INFO = _feature(
    "DeviceInfo",
    "What a CFL device served over SiLA 2 is, what it can do, and whether it is working now.",
    properties=(
        Property("DeviceName", "The device's name in the lab file that built it.", False, STRING),
        Property("DeviceKind", "The driver class of the device, e.g. SimHPLC.", False, STRING),
        Property(
            "Capabilities",
            "The CFL capability protocols the device implements, e.g. Measures; each is also a "
            "feature of this server.",
            False,
            list_of(STRING),
        ),
        Property(
            "Status",
            "busy while the device runs a command, idle otherwise.",
            True,
            one_of(STRING, ("idle", "busy")),
        ),
    ),
    errors=(),
)

TRANSFERS = _feature(
    "Transfers",
    "Moves samples between locations: a robot (CFL's Transfers capability).",
    commands=(
        _work(
            "Pick",
            "Take the sample from the location into the gripper.",
            (_SAMPLE, Element("Location", "Where the sample is: a location or a station.", STRING)),
        ),
        _work(
            "Place",
            "Set the held sample down at the location.",
            (_SAMPLE, Element("Location", "Where to put the sample.", STRING)),
        ),
    ),
)

_CONDITION = Element(
    "Condition",
    "One experiment parameter. Kind names the field that holds the value (Real, Integer or "
    "Text); the other two are 0 and the empty string.",
    structure(
        Element("Name", "Parameter name, e.g. temperature.", STRING),
        Element(
            "Kind", "Which field holds the value.", one_of(STRING, ("Real", "Integer", "Text"))
        ),
        Element("Real", "The value, when Kind is Real.", REAL),
        Element("Integer", "The value, when Kind is Integer.", INTEGER),
        Element("Text", "The value (a categorical level), when Kind is Text.", STRING),
    ),
)

REACTS = _feature(
    "Reacts",
    "Runs a reaction into a sample vial under given conditions: a reactor station (CFL's Reacts "
    "capability).",
    commands=(
        _work(
            "React",
            "Make the sample under the conditions (the experiment's parameters).",
            (
                _SAMPLE,
                Element(
                    "Conditions", "The experiment's parameters.", list_of(reference("Condition"))
                ),
            ),
        ),
    ),
    data_types=(_CONDITION,),
)

_QUANTITY = Element(
    "Quantity",
    "A measured quantity and its value.",
    structure(
        Element("Name", "Quantity name, e.g. yield.", STRING),
        Element("Value", "Its value, in the instrument method's unit.", REAL),
    ),
)
_RANGE = Element(
    "Measurand",
    "A quantity the instrument reports, with the range it can physically take.",
    structure(
        Element("Name", "Quantity name.", STRING),
        Element("Low", "Lowest possible value, allowing for noise.", REAL),
        Element("High", "Highest possible value, allowing for noise.", REAL),
    ),
)

MEASURES = _feature(
    "Measures",
    "Measures a sample: an analytical instrument (CFL's Measures capability).",
    commands=(
        _work(
            "Measure",
            "Measure the sample, which sits in the instrument.",
            (_SAMPLE,),
            (
                Element("Values", "The measured quantities.", list_of(reference("Quantity"))),
                Element(
                    "Raw",
                    "Primary data behind the values (peak areas, concentrations) as the text of a "
                    "JSON object, kept for the record.",
                    STRING,
                ),
            ),
            errors=(*_WORK_ERRORS, _OUT_OF_RANGE),
        ),
    ),
    properties=(
        Property(
            "Measurands",
            "Each quantity the instrument reports, with its physical range.",
            False,
            list_of(reference("Measurand")),
        ),
    ),
    errors=(*_WORK_ERRORS, _OUT_OF_RANGE),
    data_types=(_QUANTITY, _RANGE),
)

DOSES = _feature(
    "Doses",
    "Adds a reagent to a sample: a liquid handler, syringe pump or powder doser (CFL's Doses "
    "capability).",
    commands=(
        _work(
            "Dose",
            "Add an amount of a reagent to the sample.",
            (
                _SAMPLE,
                Element("Reagent", "Reagent name.", STRING),
                Element("Amount", "How much, in the device's unit (mL or mg).", REAL),
            ),
            (Element("Added", "How much was added, in the device's unit.", REAL),),
        ),
    ),
)

HEATS = _feature(
    "Heats",
    "Brings a sample position to a temperature: a heating block, thermostat or hot plate (CFL's "
    "Heats capability).",
    commands=(
        _work(
            "Heat",
            "Heat (or cool) the sample to the target temperature.",
            (_SAMPLE, Element("TargetTemperature", "Temperature to reach.", _CELSIUS)),
            (Element("ReachedTemperature", "Temperature reached.", _CELSIUS),),
        ),
    ),
)

STOPPABLE = _feature(
    "Stoppable",
    "Aborts what the device is doing and leaves it safe (CFL's Stoppable capability).",
    commands=(
        Command(
            "Stop",
            "Abort the running command and leave the device safe. Commands it aborts end with "
            "DeviceFault.",
            observable=False,
            errors=(_FAULT.identifier, _INTERLOCK.identifier),
        ),
    ),
    errors=(_FAULT, _INTERLOCK),
)


@dataclass(frozen=True)
class Capability:
    """A CFL capability protocol and its SiLA 2 feature."""

    name: str
    """How a lab file names it (``options: {capabilities: [measures]}``)."""
    protocol: type
    """The protocol in :mod:`cfl.devices`."""
    feature: FeatureDefinition


CAPABILITIES: tuple[Capability, ...] = (
    Capability("transfers", Transfers, TRANSFERS),
    Capability("reacts", Reacts, REACTS),
    Capability("measures", Measures, MEASURES),
    Capability("doses", Doses, DOSES),
    Capability("heats", Heats, HEATS),
    Capability("stoppable", Stoppable, STOPPABLE),
)


def capability(name: str) -> Capability:
    """The capability a lab file calls ``name``.

    Raises:
        KeyError: no such capability.
    """
    for item in CAPABILITIES:
        if item.name == name:
            return item
    raise KeyError(name)


@cache
def sila_feature(definition: FeatureDefinition) -> Feature:
    """The ``sila2`` feature object of ``definition``, compiled once per process.

    Compiling runs protoc (tens of milliseconds) and validates the FDL against the XSD.
    """
    return Feature(definition.xml())
