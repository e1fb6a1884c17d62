"""The csv extractor's ``encoding`` takes character encodings only: Python's bytes/text transforms in the
codec registry (zlib, base64, rot13...) are refused by name, never decoded with (a 500 or a bomb)."""

from __future__ import annotations

import codecs

import pytest

from datawharf.errors import ExtractError
from datawharf.extract.csv import _codec

TRANSFORMS = ["zlib_codec", "zlib", "bz2_codec", "base64", "hex", "uu", "quopri", "rot13"]


@pytest.mark.parametrize("name", TRANSFORMS)
def test_a_transform_codec_is_refused_by_name(name: str) -> None:
    with pytest.raises(ExtractError) as error:
        _codec(name)
    assert error.value.error_code == "not_a_text_encoding"
    assert error.value.http_status == 400
    assert "utf-8" in error.value.message


@pytest.mark.parametrize("name", ["utf-8", "UTF8", "latin-1", "windows-1252", "utf-16-le", "shift_jis"])
def test_character_encodings_pass_under_their_codec_name(name: str) -> None:
    assert _codec(name) == codecs.lookup(name).name


@pytest.mark.parametrize("name", ["no-such-encoding", "utf\x008"])
def test_unknown_names_are_unknown_encoding(name: str) -> None:
    with pytest.raises(ExtractError) as error:
        _codec(name)
    assert error.value.error_code == "unknown_encoding"
