"""Cache-key fingerprint (`triton_frontend/versions.py`)."""
from turbine_triton.triton_frontend import versions


def test_lowering_switches_change_the_fingerprint(monkeypatch):
    versions.fingerprint.cache_clear()
    try:
        before = versions.fingerprint()
        for name in versions.LOWERING_SWITCHES:
            monkeypatch.setenv(name, "0")
            versions.fingerprint.cache_clear()
            after = versions.fingerprint()
            assert after != before, name
            monkeypatch.delenv(name)
        versions.fingerprint.cache_clear()
        assert versions.fingerprint() == before
    finally:
        versions.fingerprint.cache_clear()
