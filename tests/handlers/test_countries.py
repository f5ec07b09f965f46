"""Which country a person means (handlers/people/countries.py)."""

from __future__ import annotations

import pytest

from handlers.people import countries


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("u.k.", "GB"),
        ("England", "GB"),
        ("Royaume-Uni", "GB"),
        ("Reino Unido", "GB"),
        ("المملكة المتحدة", "GB"),
        ("Liban", "LB"),
        ("Líbano", "LB"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("the United States", "US"),
        ("États-Unis", "US"),
        ("EEUU", "US"),
        ("DRC", "CD"),
        ("Congo - Kinshasa", "CD"),
        ("República Democrática del Congo", "CD"),
        ("Côte d’Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("cote d`ivoire", "CI"),
        ("GBR", "GB"),
        ("lb", "LB"),
    ],
)
def test_names_codes_and_short_forms(typed: str, code: str) -> None:
    assert countries.resolve(typed) == code


def test_unknown_names_resolve_to_nothing_but_suggest_neighbours() -> None:
    assert countries.resolve("Atlantis") is None
    assert countries.suggestions("Lebannon")[0] == "LB"
    assert "GB" in countries.suggestions("United Kingdomm")
    assert "GB" in countries.suggestions("united")
    assert countries.suggestions("Qwxzv") == []
