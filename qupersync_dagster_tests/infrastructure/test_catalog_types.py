"""Catalogue type names, native and Spectrum external, map onto the same logical types."""

from __future__ import annotations

import pytest

from qupersync_dagster.domain.entities import ColumnType, TypeKind
from qupersync_dagster.infrastructure.catalog_types import from_catalog, is_nullable

T = TypeKind


@pytest.mark.parametrize(
    ("external", "native", "expected"),
    [
        ("string", ("text", None, None, None), ColumnType(T.TEXT)),
        ("varchar(256)", ("character varying", 256, None, None), ColumnType(T.VARCHAR, 256)),
        ("char(3)", ("character", 3, None, None), ColumnType(T.CHAR, 3)),
        ("int", ("integer", None, 32, 0), ColumnType(T.INTEGER)),
        ("bigint", ("bigint", None, 64, 0), ColumnType(T.BIGINT)),
        ("smallint", ("smallint", None, 16, 0), ColumnType(T.SMALLINT)),
        ("double", ("double precision", None, 53, None), ColumnType(T.DOUBLE)),
        ("float", ("real", None, 24, None), ColumnType(T.REAL)),
        (
            "decimal(38,10)",
            ("numeric", None, 38, 10),
            ColumnType(T.NUMERIC, precision=38, scale=10),
        ),
        ("boolean", ("boolean", None, None, None), ColumnType(T.BOOLEAN)),
        ("date", ("date", None, None, None), ColumnType(T.DATE)),
        ("timestamp", ("timestamp without time zone", None, None, None), ColumnType(T.TIMESTAMP)),
    ],
)
def test_an_external_type_maps_as_its_native_counterpart(external, native, expected):
    assert from_catalog(external, None, None, None) == expected
    assert from_catalog(*native) == expected


@pytest.mark.parametrize("unsupported", ["map<string,string>", "struct<a:int>", "binary"])
def test_an_external_type_without_a_counterpart_is_refused(unsupported):
    assert from_catalog(unsupported, None, None, None) is None


@pytest.mark.parametrize(
    ("flag", "nullable"),
    [("YES", True), ("NO", False), ("true", True), ("false", False), ("", True), (None, True)],
)
def test_nullability_is_read_in_both_catalogue_spellings(flag, nullable):
    assert is_nullable(flag) is nullable
