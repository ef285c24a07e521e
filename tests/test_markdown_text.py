"""Typed text into Markdown and back: HTML becomes text once, code is left alone, and what the
preview decodes is exactly what the export escaped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cockpit.core.export import cell
from cockpit.core.markdown_text import escape_html, readable


def test_html_outside_code_is_escaped_once_and_code_is_not() -> None:
    typed = "a <b> & c `x<y && z` d\n```sh\necho '<tag>' && true\n```\n> quote <q>"
    assert escape_html(typed) == (
        "a &lt;b&gt; &amp; c `x<y && z` d\n```sh\necho '<tag>' && true\n```\n> quote &lt;q&gt;"
    )


def test_the_preview_decodes_what_a_reader_sees_but_not_inside_code() -> None:
    line = "| 3 | x \\| y | &lt; 5 min &amp; more | ran<br>`grep &lt;a&gt;` |"
    assert readable(line) == "| 3 | x | y | < 5 min & more | ran ⏎ `grep &lt;a&gt;` |"
    fenced = "```\n&lt;kept&gt;\n```"
    assert readable(fenced) == fenced


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_a_typed_section_reads_back_as_typed(typed: str) -> None:
    if "`" in typed or "\\" in typed or "<br>" in typed:
        return  # code and Markdown escapes are the writer's Markdown, not text to keep
    assert readable(escape_html(typed)) == typed


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_a_table_cell_reads_back_as_typed(typed: str) -> None:
    if "`" in typed or "\n" in typed or "\r" in typed or "<br>" in typed:
        return
    assert readable(cell(typed)) == typed
