"""Parsing SCPI replies: error-queue entries as instruments really write them, and numbers."""

from __future__ import annotations

import pytest

from instruments.scpi.replies import parse_error_entry, parse_number


@pytest.mark.parametrize(
    ("reply", "entry"),
    [
        ('+0,"No error"', (0, "No error")),
        ('0,"No error"', (0, "No error")),
        ("0", (0, "")),
        ('-113,"Undefined header"', (-113, "Undefined header")),
        ('-222,"Data out of range;SOUR:TEMP 250"', (-222, "Data out of range;SOUR:TEMP 250")),
        ("-222, Data out of range", (-222, "Data out of range")),
        ('+301,"Lamp failure"', (301, "Lamp failure")),
    ],
)
def test_error_entries_are_read_with_or_without_sign_and_quotes(
    reply: str, entry: tuple[int, str]
) -> None:
    assert parse_error_entry(reply) == entry


@pytest.mark.parametrize("reply", ["CFL-SIM,PHOTOMETER-1,PH001,2.3", "", "No error"])
def test_a_reply_that_is_no_error_entry_is_refused(reply: str) -> None:
    with pytest.raises(ValueError, match="is not an error-queue entry"):
        parse_error_entry(reply)


@pytest.mark.parametrize(
    ("reply", "value"), [("+4.321E-01", 0.4321), (" 36.97 ", 36.97), ("-5", -5.0), ("1e3", 1000.0)]
)
def test_numbers_are_parsed(reply: str, value: float) -> None:
    assert parse_number(reply) == value


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("9.9E37", "over-range marker"),
        ("-9.90000E+37", "over-range marker"),
        ("9.91E37", "not-a-number marker"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("READY", "is not a number"),
        ("25.0 C", "is not a number"),
    ],
)
def test_markers_and_non_numbers_are_refused_saying_which(reply: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_number(reply)
