"""The registry's entry-point scan agrees with importlib.metadata (which it replaces on the
start-up path because importing it costs ~30 ms)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from secrets_core.plugin import ENTRY_POINT_GROUP
from secrets_core.plugin import _discovery as entrypoints


def reference(group: str) -> set[tuple[str, str, str, str]]:
    return {
        (ep.name, ep.value, entrypoints.normalise(ep.dist.name), ep.dist.version)
        for ep in importlib.metadata.entry_points(group=group)
        if ep.dist is not None
    }


def ours(group: str) -> set[tuple[str, str, str, str]]:
    return {
        (ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in entrypoints.entry_points(group)
    }


@pytest.mark.parametrize("group", [ENTRY_POINT_GROUP, "console_scripts", "pytest11"])
def test_scan_matches_importlib_metadata(group: str) -> None:
    assert ours(group) == reference(group)
    assert ours(ENTRY_POINT_GROUP), "the built-in plugins declare entry points"


def test_versions_match_importlib_metadata() -> None:
    for dist in ("secure-secrets", "secure-secrets-file", "pluggy", "cryptography"):
        assert entrypoints.version(dist) == importlib.metadata.version(dist)
    assert entrypoints.version("no-such-distribution") == "unknown"


def write_dist(site: Path, dirname: str, entry_points: str, pkg_info: str = "") -> None:
    info = site / dirname
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(entry_points)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 0\n")
    if pkg_info:
        (info / "PKG-INFO").write_text(pkg_info)


def test_first_distribution_on_the_path_wins_and_sections_are_kept_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_dist(
        first,
        "demo_dist-1.0.dist-info",
        "# comment\n[other]\nx = nope:nope\n\n[secrets_core]\n  alpha = json : loads \n"
        "beta=json.decoder:JSONDecoder.decode [extra]\n",
    )
    write_dist(second, "Demo.Dist-2.0.dist-info", "[secrets_core]\nshadowed = os:sep\n")
    write_dist(
        second, "dev_tool.egg-info", "[secrets_core]\ngamma = os.path:join\n",
        "Metadata-Version: 2.1\nName: dev-tool\nVersion: 0.3.dev1\n\nVersion: wrong\n",
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    found = {ep.name: ep for ep in entrypoints.entry_points("secrets_core")}
    assert "shadowed" not in found and "x" not in found
    assert found["alpha"].dist == entrypoints.Distribution("demo-dist", "1.0")
    assert found["gamma"].dist == entrypoints.Distribution("dev-tool", "0.3.dev1")
    import json
    import json.decoder
    import os.path

    assert found["alpha"].load() is json.loads
    assert found["beta"].load() is json.decoder.JSONDecoder.decode
    assert found["gamma"].load() is os.path.join
    assert entrypoints.version("Demo_Dist") == "1.0"


def test_unreadable_path_entries_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sys, "path", [str(tmp_path / "missing"), str(tmp_path / "f.zip"), *sys.path]
    )
    (tmp_path / "f.zip").write_bytes(b"PK")
    assert ours(ENTRY_POINT_GROUP) == reference(ENTRY_POINT_GROUP)
