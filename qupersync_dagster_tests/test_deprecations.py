"""A Dagster deprecation fails the suite instead of scrolling by as a warning."""

from __future__ import annotations

import importlib
import warnings

import dagster as dg
import pytest
from dagster_shared.utils.warnings import deprecation_warning


def test_a_dagster_deprecation_is_an_error():
    with pytest.raises(DeprecationWarning, match="is deprecated and will be removed in 2.0"):
        deprecation_warning("Function `anything`", "2.0")


def test_a_deprecation_raised_inside_dagster_is_an_error():
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit(
            "old", DeprecationWarning, filename="dagster/x.py", lineno=1, module="dagster.x"
        )


def test_loading_the_code_locations_raises_no_dagster_deprecation():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from qupersync_dagster import definitions, dg_project

        for module in (definitions, dg_project):
            dg.Definitions.validate_loadable(importlib.reload(module).defs)
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
