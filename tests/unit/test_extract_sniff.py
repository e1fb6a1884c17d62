"""Ranking extractors over a sample; opening content for guessing."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from datawharf.errors import ExtractError
from datawharf.extract.base import Sample
from datawharf.extract.csv import CsvExtractor
from datawharf.extract.registry import EXTRACTORS, describe_extractors
from datawharf.extract.sniff import best_extractor, guess_extractors, open_sample

CORPUS = Path("/work/shared/corpus")


def test_registry_is_a_plain_dict_of_instances() -> None:
    assert isinstance(EXTRACTORS["csvfile"], CsvExtractor)
    for name, extractor in EXTRACTORS.items():
        assert extractor.name == name
        assert extractor.label and extractor.description


def test_csv_ranks_first_for_a_csv_even_without_its_name() -> None:
    head = (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes()
    named = guess_extractors(Sample(head=head, filename="mf.csv", is_complete=True))
    assert named[0][0] == "csvfile" and named[0][1] >= 0.85
    anonymous = guess_extractors(Sample(head=head, filename="download", is_complete=True))
    assert anonymous[0][0] == "csvfile"


def test_injected_registry_and_no_match() -> None:
    sample = Sample(head=b"\x00\x01\x02" * 100, filename="blob.bin")
    assert guess_extractors(sample, {"csvfile": CsvExtractor()}) == []
    with pytest.raises(ExtractError) as caught:
        best_extractor(sample, {"csvfile": CsvExtractor()})
    assert caught.value.error_code == "unknown_format"
    with pytest.raises(ExtractError) as caught:
        best_extractor(Sample(head=b"", filename="x", is_complete=True), {})
    assert caught.value.error_code == "empty_file"


def test_open_sample_unwraps_gzip_and_rewinds_for_free() -> None:
    raw = (CORPUS / "insee-cog-reg2016-tab.tsv").read_bytes()
    opened = open_sample(io.BytesIO(gzip.compress(raw)), "reg2016.tsv.gz", "application/gzip")
    assert opened.filename == "reg2016.tsv"
    assert opened.sample.head == raw and opened.sample.is_complete
    assert opened.sample.content_type == "application/gzip"
    assert opened.content.read() == raw  # the content starts again at byte 0


def test_open_sample_reads_the_head_once() -> None:
    raw = b"a,b\n" + b"1,2\n" * 100_000
    source = io.BytesIO(raw)
    opened = open_sample(source, "x.csv")
    before = opened.bytes_read
    assert opened.content.read(len(opened.sample.head)) == opened.sample.head
    assert opened.bytes_read == before  # served from the kept sample
    assert opened.content.read(10) == raw[len(opened.sample.head) : len(opened.sample.head) + 10]
    assert opened.bytes_read == before + 10


def test_describe_extractors_in_the_reference_shape() -> None:
    described = {d["type"]: d for d in describe_extractors()}
    assert set(described) == set(EXTRACTORS)
    csv = described["csvfile"]
    assert csv["label"] == "CSV" and csv["name"] == "csvfile"
    names = [p["name"] for p in csv["parameters"]]
    assert names[:2] == ["encoding", "separator"]
    for parameter in csv["parameters"]:
        assert {"type", "is_mandatory", "name"} <= set(parameter)
