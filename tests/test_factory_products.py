"""Which interface a descriptor's factory must return is read from its ``factory`` annotation
without evaluating code (``secrets_core.plugin._factory.product``): every public family's
product, and an annotation spelt another way, resolved as ``typing.get_type_hints`` does."""

from __future__ import annotations

from collections import abc

import pytest

from secrets_core.plugin import _api
from secrets_core.plugin._factory import _callable_result, product

FAMILIES = {
    _api.BackendSpec: _api.StorageBackend,
    _api.CipherSpec: _api.Cipher,
    _api.KdfSpec: _api.Kdf,
    _api.KeySourceSpec: _api.KeySource,
    _api.AuditSinkSpec: _api.AuditSink,
}


@pytest.mark.parametrize("spec_type", list(FAMILIES), ids=lambda t: t.__name__)
def test_every_family_names_its_product(spec_type: type) -> None:
    assert product(spec_type) is FAMILIES[spec_type]


class Made:
    pass


class OtherSpelling:
    factory: abc.Callable[..., Made]  # not the "Callable[[...], Name]" the lookup reads


def test_another_spelling_is_resolved_through_get_type_hints() -> None:
    assert product(OtherSpelling) is Made


@pytest.mark.parametrize(
    "annotation",
    ["__import__('os').system('false')", "Callable[[int], __import__('os')] | str", "str", ""],
)
def test_an_annotation_is_looked_up_never_run(annotation: str) -> None:
    assert _callable_result(annotation, {"Made": Made, "__import__": __import__}) is None
