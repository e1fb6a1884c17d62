"""Technical names, labels and original names from headers."""

from __future__ import annotations

import pytest

from datawharf.extract.fields import field_identities, technical_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Libellé de l'arc (m²)", "libelle_de_l_arc_m2"),
        ("Code Postal", "code_postal"),
        ("  NUM_POSTE ", "num_poste"),
        ("2023", "field_2023"),
        ("1 Articles CGI", "field_1_articles_cgi"),
        ("Œuvre / Année", "oeuvre_annee"),
        ("Straße", "strasse"),
        ("北京", "bei_jing"),
        ("€", "eur"),
        ("***", ""),
        ("x" * 100, "x" * 64),
    ],
)
def test_technical_name(header: str, name: str) -> None:
    assert technical_name(header) == name


def test_identities_are_unique_and_never_empty() -> None:
    identities = field_identities(["Name", "name", "", None, "NAME", "***", "2011"])
    assert [i.name for i in identities] == [
        "name",
        "name_2",
        "column_3",
        "column_4",
        "name_3",
        "column_6",
        "field_2011",
    ]
    assert [i.label for i in identities] == ["Name", "name", "Column 3", "Column 4", "NAME", "***", "2011"]
    assert [i.original_name for i in identities] == ["Name", "name", "", "", "NAME", "***", "2011"]
    for identity in identities:
        assert identity.name.isascii() and identity.name == identity.name.lower()
        assert not identity.name[0].isdigit()


def test_labels_collapse_whitespace() -> None:
    (identity,) = field_identities(["  Date   de\nmise à jour "])
    assert identity.label == "Date de mise à jour"
    assert identity.original_name == "  Date   de\nmise à jour "
    assert identity.name == "date_de_mise_a_jour"
