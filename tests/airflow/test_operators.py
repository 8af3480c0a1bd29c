"""Operator pieces that need no DAG run."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_lightning.operators.lightning import group_tables, run_import_id


@given(names=st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=60), groups=st.integers(1, 20))
def test_tables_are_cut_into_sorted_consecutive_groups_of_nearly_equal_size(names, groups):
    cut = group_tables(names, groups)
    assert [n for g in cut for n in g] == sorted(names)
    assert len(cut) == min(len(names), groups)
    sizes = {len(g) for g in cut}
    assert not sizes or max(sizes) - min(sizes) <= 1


def test_the_import_id_is_stable_per_run_and_differs_between_runs():
    first = run_import_id("dag", "run-1", "import")
    assert first == run_import_id("dag", "run-1", "import")
    assert first != run_import_id("dag", "run-2", "import")
    assert 0 < first < 2**63
