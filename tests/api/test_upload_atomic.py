"""A refused CSV upload leaves every table as it was: the uploading user's source is created
with the beliefs or not at all, and the refusal names the value and row."""

from __future__ import annotations

from tests.api.conftest import EMAILS


def _counts(server) -> dict[str, int]:  # noqa: ANN001
    def read(store):  # noqa: ANN001, ANN202
        return {
            t: int(store.query(f"SELECT count(*) AS n FROM {t}")["n"][0])
            for t in ("sources", "beliefs", "ingestions")
        }

    return server.with_store(read)


def test_a_refused_upload_creates_no_source(serve) -> None:  # noqa: ANN001
    server = serve()
    pv = server.ids["pv_sensor"]
    url = f"/api/v3_0/sensors/{pv}/data/upload"
    before = _counts(server)
    bad = b"event_start,value\n2026-08-01T10:00:00+00:00,1.5\n2026-08-01T10:15:00+00:00,inf\n"
    with server.client("bob") as c:  # bob has posted nothing yet: no source of his exists
        r = c.post(url, files={"uploaded-files": ("pv-bad.csv", bad, "text/csv")})
        assert r.status_code in (400, 422), r.text
        assert "inf" in r.text and "row 2" in r.text
        assert _counts(server) == before
        ok = b"event_start,value\n2026-08-01T10:00:00+00:00,1.5\n"
        r = c.post(url, files={"uploaded-files": ("pv.csv", ok, "text/csv")})
        assert r.status_code == 200, r.text
    after = _counts(server)
    assert after["sources"] == before["sources"] + 1 and after["beliefs"] == before["beliefs"] + 1
    names = server.with_store(lambda s: [x.name for x in s.list_sources()])
    assert EMAILS["bob"] in names
