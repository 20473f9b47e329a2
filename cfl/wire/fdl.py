"""A small writer of SiLA 2 Feature Definition Language (FDL) documents.

A SiLA 2 feature is declared in FDL, an XML dialect fixed by ``FeatureDefinition.xsd`` (SiLA 2
Part A, "Feature Definition Language"); the ``sila2`` package compiles it to protobuf at run time.
CFL's features are declared here as Python values and rendered to FDL rather than kept as
``.sila.xml`` files, so they travel with the code in any install (no package-data to forget) and
the Defined Execution Errors shared by several features are written once. ``sila2``'s ``Feature``
validates the result against the XSD, so a mistake here fails at import, not on the wire.

Only what CFL's features need is covered: basic types, lists, structures, constrained types
(sets, units), references to data type definitions, and observable commands' intermediate
responses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

__all__ = [
    "BOOLEAN",
    "INTEGER",
    "REAL",
    "STRING",
    "Command",
    "Element",
    "ErrorDefinition",
    "FeatureDefinition",
    "Property",
    "display_name",
    "list_of",
    "one_of",
    "reference",
    "structure",
    "with_unit",
]

STRING = "<Basic>String</Basic>"
REAL = "<Basic>Real</Basic>"
INTEGER = "<Basic>Integer</Basic>"
BOOLEAN = "<Basic>Boolean</Basic>"


def display_name(identifier: str) -> str:
    """``ReadingOutOfRange`` -> ``Reading Out Of Range``: FDL wants both, and they rarely differ."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", identifier)


def list_of(data_type: str) -> str:
    """A SiLA ``List`` of ``data_type``."""
    return f"<List><DataType>{data_type}</DataType></List>"


def reference(identifier: str) -> str:
    """A reference to a ``DataTypeDefinition`` of the same feature."""
    return f"<DataTypeIdentifier>{identifier}</DataTypeIdentifier>"


def one_of(data_type: str, values: Sequence[str]) -> str:
    """``data_type`` constrained to a set of values (an enumeration, in FDL terms)."""
    items = "".join(f"<Value>{escape(v)}</Value>" for v in values)
    return (
        f"<Constrained><DataType>{data_type}</DataType>"
        f"<Constraints><Set>{items}</Set></Constraints></Constrained>"
    )


def with_unit(
    data_type: str, label: str, si_unit: str, *, factor: float = 1, offset: float = 0
) -> str:
    """``data_type`` with a unit: value in SI = value * factor + offset (SiLA 2 Part A, Unit)."""
    return (
        f"<Constrained><DataType>{data_type}</DataType><Constraints><Unit>"
        f"<Label>{escape(label)}</Label><Factor>{factor:g}</Factor><Offset>{offset:g}</Offset>"
        f"<UnitComponent><SIUnit>{si_unit}</SIUnit><Exponent>1</Exponent></UnitComponent>"
        "</Unit></Constraints></Constrained>"
    )


@dataclass(frozen=True)
class Element:
    """A named, typed, described value: a parameter, a response or a structure element."""

    identifier: str
    description: str
    data_type: str

    def render(self, tag: str) -> str:
        return (
            f"<{tag}><Identifier>{self.identifier}</Identifier>"
            f"<DisplayName>{escape(display_name(self.identifier))}</DisplayName>"
            f"<Description>{escape(self.description)}</Description>"
            f"<DataType>{self.data_type}</DataType></{tag}>"
        )


def structure(*elements: Element) -> str:
    """A SiLA ``Structure`` of ``elements``."""
    return f"<Structure>{''.join(e.render('Element') for e in elements)}</Structure>"


def _errors(identifiers: Sequence[str]) -> str:
    if not identifiers:
        return ""
    items = "".join(f"<Identifier>{i}</Identifier>" for i in identifiers)
    return f"<DefinedExecutionErrors>{items}</DefinedExecutionErrors>"


def _head(identifier: str, description: str) -> str:
    return (
        f"<Identifier>{identifier}</Identifier>"
        f"<DisplayName>{escape(display_name(identifier))}</DisplayName>"
        f"<Description>{escape(description)}</Description>"
    )


@dataclass(frozen=True)
class Command:
    """A SiLA command; observable ones report progress and are fetched when done.

    An observable command may also stream ``intermediate_responses`` to subscribers while it runs
    (SiLA 2 Part A, "Intermediate Command Response").
    """

    identifier: str
    description: str
    observable: bool
    parameters: tuple[Element, ...] = ()
    responses: tuple[Element, ...] = ()
    errors: tuple[str, ...] = ()
    intermediate_responses: tuple[Element, ...] = ()

    def render(self) -> str:
        if self.intermediate_responses and not self.observable:
            raise ValueError(
                f"{self.identifier}: only observable commands have intermediate responses"
            )
        return (
            f"<Command>{_head(self.identifier, self.description)}"
            f"<Observable>{'Yes' if self.observable else 'No'}</Observable>"
            + "".join(p.render("Parameter") for p in self.parameters)
            + "".join(r.render("Response") for r in self.responses)
            + "".join(i.render("IntermediateResponse") for i in self.intermediate_responses)
            + _errors(self.errors)
            + "</Command>"
        )


@dataclass(frozen=True)
class Property:
    """A SiLA property; an observable one streams each new value to subscribers."""

    identifier: str
    description: str
    observable: bool
    data_type: str

    def render(self) -> str:
        return (
            f"<Property>{_head(self.identifier, self.description)}"
            f"<Observable>{'Yes' if self.observable else 'No'}</Observable>"
            f"<DataType>{self.data_type}</DataType></Property>"
        )


@dataclass(frozen=True)
class ErrorDefinition:
    """A Defined Execution Error: a failure the feature names, so clients can handle it by kind."""

    identifier: str
    description: str

    def render(self) -> str:
        head = _head(self.identifier, self.description)
        return f"<DefinedExecutionError>{head}</DefinedExecutionError>"


@dataclass(frozen=True)
class FeatureDefinition:
    """One SiLA 2 feature, rendered by :meth:`xml`."""

    identifier: str
    description: str
    originator: str
    category: str
    commands: tuple[Command, ...] = ()
    properties: tuple[Property, ...] = ()
    errors: tuple[ErrorDefinition, ...] = ()
    data_types: tuple[Element, ...] = ()
    version: str = "1.0"

    @property
    def fully_qualified_identifier(self) -> str:
        """``originator/category/Identifier/vMajor``, as SiLA 2 names features on the wire."""
        return f"{self.originator}/{self.category}/{self.identifier}/v{self.version.split('.')[0]}"

    def xml(self) -> str:
        """The FDL document."""
        body = (
            _head(self.identifier, self.description)
            + "".join(c.render() for c in self.commands)
            + "".join(p.render() for p in self.properties)
            + "".join(e.render() for e in self.errors)
            + "".join(d.render("DataTypeDefinition") for d in self.data_types)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<Feature xmlns="http://www.sila-standard.org" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'SiLA2Version="1.0" FeatureVersion="{self.version}" MaturityLevel="Draft" '
            f'Originator="{self.originator}" Category="{self.category}" '
            'xsi:schemaLocation="http://www.sila-standard.org '
            'https://gitlab.com/SiLA2/sila_base/raw/master/schema/FeatureDefinition.xsd">'
            f"{body}</Feature>"
        )
