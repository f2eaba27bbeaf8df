"""The start-up requirement check agrees with ``packaging`` on plain and epoch versions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet

from codex_core import _compat
from codex_core._compat import satisfies

versions = st.builds(
    lambda epoch, release: (f"{epoch}!" if epoch else "") + ".".join(map(str, release)),
    st.sampled_from([0, 0, 1, 2]), st.lists(st.integers(0, 12), min_size=1, max_size=4))
clauses = st.builds(lambda op, v: op + v, st.sampled_from([">=", "<=", ">", "<", "==", "!=", "~="]), versions)


@given(versions, st.lists(clauses, min_size=1, max_size=3))
def test_satisfies_agrees_with_packaging(version, spec):
    # ~= needs two release numbers or more (PEP 440)
    spec = ",".join(c for c in spec if not c.startswith("~=") or "." in c.rpartition("!")[2])
    if not spec:
        return
    assert satisfies(version, spec) == SpecifierSet(spec).contains(version, prereleases=True), (version, spec)


def test_the_unrelated_projects_releases_never_meet_the_siblings_range(monkeypatch):
    imported = []
    monkeypatch.setattr(SpecifierSet, "contains", lambda *a, **k: imported.append(a) or True)
    spec = ">=1!0.3,<1!1"
    assert [v for v in ("0.1.0", "0.1.1", "0.2.0", "9.0.0", "99.0", "1!0.2.9", "1!1.0") if satisfies(v, spec)] == []
    assert [v for v in ("1!0.3.0", "1!0.3.1", "1!0.9") if satisfies(v, spec)] == ["1!0.3.0", "1!0.3.1", "1!0.9"]
    assert imported == []  # the fast path decided all of them: no packaging import at start-up
    assert _compat._release("1!0.3.0") == (1, (0, 3, 0))
