"""The per-address cap on concurrent exports: refused at once past the cap, given back however the
stream ends, counted per address."""

from __future__ import annotations

import pytest

from datawharf.exports import ExportSlots, TooManyExports


def test_an_address_streams_at_most_its_cap_and_others_are_not_counted() -> None:
    slots = ExportSlots(per_client=2)
    with slots.claim("10.0.0.1"), slots.claim("10.0.0.1"):
        with pytest.raises(TooManyExports) as refused, slots.claim("10.0.0.1"):
            pass
        assert (refused.value.http_status, refused.value.error_code) == (429, "too_many_exports")
        assert refused.value.detail == {"per_client": 2}
        assert "Finish or cancel a download" in refused.value.message
        with slots.claim("10.0.0.2"):
            assert slots.running("10.0.0.2") == 1
        assert slots.running("10.0.0.1") == 2
    assert slots.running("10.0.0.1") == 0


def test_a_slot_is_given_back_when_the_stream_fails() -> None:
    slots = ExportSlots(per_client=1)
    with pytest.raises(RuntimeError), slots.claim("a"):
        raise RuntimeError("the export failed mid-stream")
    with slots.claim("a"):
        assert slots.running("a") == 1
