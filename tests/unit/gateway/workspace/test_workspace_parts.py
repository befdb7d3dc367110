"""The workspace's pure parts: German formats, consent gaps in German, form checks, the CSRF
check and the sealing of drafts, and the SVG charts (sessions and one-time form tokens on
PostgreSQL: tests/integration/test_workspace_sessions.py)."""

from __future__ import annotations

import datetime as dt

from gateway.auth import Principal
from gateway.workspace import charts, forms, labels
from gateway.workspace.oidc import challenge_of
from gateway.workspace.sessions import Session, seal, unseal
from gateway.workspace.web import Workspace, missing_de

TODAY = dt.date(2026, 11, 30)
WHO = Principal(subject="demo-case-manager", agency="kim-05315", role="case_manager")


def test_dates_are_german_and_in_berlin_time() -> None:
    assert labels.date_de(dt.date(2026, 3, 9)) == "09.03.2026"
    assert labels.date_de("2026-03-09") == "09.03.2026"
    # 23:30 UTC on 31 December is already New Year in Berlin
    assert labels.datetime_de("2025-12-31T23:30:00+00:00") == "01.01.2026, 00:30 Uhr"
    assert labels.date_de(None) == labels.DASH
    assert labels.number_de(1442.5, 1) == "1.442,5"
    assert labels.number_de(None) == labels.DASH


def test_what_a_consent_lacks_reads_in_german() -> None:
    assert missing_de("recipient jobcenter-05315 is not named in the consent") == (
        "die Stelle jobcenter-05315 ist in der Einwilligung nicht als Empfängerin genannt"
    )
    assert missing_de("data categories not covered: housing, work") == (
        "diese Datenkategorien sind nicht erfasst: Wohnen, Arbeit"
    )
    assert missing_de("purpose employment_support is not named in the consent") == (
        "der Zweck „Arbeitsförderung“ ist in der Einwilligung nicht genannt"
    )
    assert missing_de("the consent expired on 2026-01-31") == (
        "die Einwilligung ist am 31.01.2026 abgelaufen"
    )
    assert missing_de("something new") == "something new"


def test_the_intake_check_names_every_field_at_fault() -> None:
    value, errors = forms.open_case(
        {"vorname": ["Hanna"], "geburtsdatum": ["31.02.1990"], "zugang": ["x"]}, TODAY
    )
    assert set(errors) == {"nachname", "geburtsdatum", "zielgruppe", "zugang"}
    value, errors = forms.open_case(
        {
            "vorname": ["Hanna"],
            "nachname": ["Beispiel"],
            "geburtsdatum": ["17.03.1990"],
            "zielgruppe": ["families"],
            "rechtskreise": ["sgb_ii", "aufenthg"],
            "zugang": ["school"],
            "dolmetschung": ["ja"],
        },
        TODAY,
    )
    assert errors == {}
    assert value["birthDate"] == "1990-03-17"
    assert value["legalSpheres"] == ["sgb_ii", "aufenthg"]
    assert value["interpreterNeeded"] is True


def test_a_consent_for_special_categories_needs_the_explicit_flag() -> None:
    form = {
        "empfaenger": ["awo-05315, jobcenter-05315"],
        "kategorien": ["case_basic", "health"],
        "zwecke": ["referral"],
        "gueltig_bis": ["01.06.2027"],
    }
    value, errors = forms.grant_consent(form, "c", TODAY)
    assert set(errors) == {"ausdruecklich"}
    assert value["recipients"] == ["awo-05315", "jobcenter-05315"]
    _, errors = forms.grant_consent({**form, "ausdruecklich": ["ja"]}, "c", TODAY)
    assert errors == {}
    _, errors = forms.grant_consent({**form, "gueltig_bis": ["30.11.2026"]}, "c", TODAY)
    assert "gueltig_bis" in errors


def test_a_session_checks_its_csrf_token() -> None:
    session = Session(id="x", principal=WHO, csrf="the-token", created=0.0, seen=0.0)
    assert session.csrf_ok("the-token")
    assert not session.csrf_ok("forged")
    assert not session.csrf_ok(None)


def test_a_draft_is_sealed_under_its_id_and_opens_only_with_it() -> None:
    sealed = seal("draft-id", b"draft", {"values": {"nachname": ["Beispiel"]}})
    assert b"Beispiel" not in sealed
    assert unseal("draft-id", b"draft", sealed) == {"values": {"nachname": ["Beispiel"]}}
    assert unseal("another-id", b"draft", sealed) is None
    assert unseal("draft-id", b"login", sealed) is None  # bound to what it is


def test_the_pkce_challenge_is_s256_of_the_verifier() -> None:
    # RFC 7636, appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_of(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_charts_are_labelled_svg_that_escapes_every_text() -> None:
    svg = str(charts.bar_chart("Personen <je> Stufe", [charts.Bar("<script>", 5)], "x"))
    assert svg.startswith('<svg class="chart" role="img" aria-labelledby="x-titel"')
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "style=" not in svg  # the pages' CSP allows no inline style
    line = str(charts.indicator_chart("B1", 40, 60, [("2026-Q2", 47)], "y"))
    assert "Ziel 60,0" in line
    assert "2026-Q2" in line
    path = str(
        charts.pathway_chart(
            "Weg",
            [charts.Period("Duldung", dt.date(2016, 1, 1), dt.date(2018, 1, 1))],
            TODAY,
            [dt.date(2024, 1, 1)],
            "w",
        )
    )
    assert "01.01.2024" in path
    assert "Duldung: 01.01.2016 bis 01.01.2018" in path


async def test_outside_development_the_demo_sign_in_is_closed_and_cookies_are_secure() -> None:
    import httpx
    from fastapi import FastAPI
    from starlette.responses import Response

    from gateway.workspace import install

    app = FastAPI()
    workspace = Workspace(schema=None, contexts=lambda p, q: None, env="prod")  # type: ignore[arg-type]
    install(app, workspace)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as client:
        page = await client.get("/anmelden")
        assert "Anmeldung nicht eingerichtet" in page.text
        assert "benutzer-fallmanagement" not in page.text
        refused = await client.post("/anmelden", data={"benutzer": "fallmanagement"})
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers
        assert (await client.get("/faelle")).status_code == 303
    assert workspace.cookie == "__Host-hub_session"
    plain = Response()
    workspace.set_cookie(plain, Session(id="x", principal=WHO, csrf="c", created=0.0, seen=0.0))
    cookie = plain.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
