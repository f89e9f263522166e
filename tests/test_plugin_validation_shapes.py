"""The checks that replaced regular expressions on the CLI's start-up path (descriptor names,
``"module:attr"`` targets, option names, control characters in plugin text shown to a user)
behave exactly as those expressions did."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from secrets_core.plugin import _validate
from secrets_core.plugin._factory import shown

NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62})")
TARGET = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
OPTION = re.compile(r"[a-z][a-z0-9_]{0,62}")

# The characters that decide: the ASCII classes and their edges, separators, a newline (which
# `$` would let through), and non-ASCII letters, digits, marks and lookalikes.
ALPHABET = st.sampled_from(
    list("az09AZ_-.:/ \n\t@`{[") + ["é", "ß", "Ω", "١", "²", "Ⅻ", "\u0301", "\u200b", "ａ", "𝟘"]
)


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(ALPHABET, max_size=max_size) | st.text(max_size=max_size)


@given(texts(70))
@example("a" * 63)
@example("a" * 64)
@example("-a")
@example("_a")
@example("")
def test_names_are_checked_as_the_regex_did(text: str) -> None:
    assert _validate.is_name(text) == bool(NAME.fullmatch(text))


@given(texts(70))
@example("a" * 63)
@example("a" * 64)
@example("_a")
@example("1a")
def test_option_names_are_checked_as_the_regex_did(text: str) -> None:
    assert _validate.is_option_name(text) == bool(OPTION.fullmatch(text))


@given(texts(30))
@example("pkg.mod:attr")
@example("pkg.mod:Class.make")
@example("_p.m2:_a")
@example("pkg..mod:attr")
@example("pkg.mod:")
@example(":attr")
@example("a:b:c")
@example("pkg.mod:attr\n")
@example("2pkg:attr")
@example("pkg:é")
@example("é:attr")
@example("p:a²")
@example("p:a\u0301")
def test_targets_are_checked_as_the_regex_did(text: str) -> None:
    assert _validate.is_target(text) == bool(TARGET.fullmatch(text))


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


@given(st.text(st.characters(max_codepoint=0x2100), max_size=40) | st.text(max_size=40))
@example("\x1b[31mred\u202e\u2069\u200b\x9f\x7f")
def test_shown_text_replaces_what_the_regex_replaced(text: str) -> None:
    assert shown(text) == CONTROL.sub("?", text)
