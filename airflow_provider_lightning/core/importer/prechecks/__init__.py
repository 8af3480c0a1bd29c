"""Prechecks (Lightning's preCheckRequirements): what must hold before any row is written.

Every check that applies runs, and one readable report says for each: check, result, what to do.
Critical failures stop the import (``PrecheckFailed`` carries the whole report); warnings don't;
``[lightning] check-requirements = false`` skips all but the reachability check. ``docs/prechecks.md``
describes every check.

Lightning's checks (``lightning/pkg/importer/precheck_impl.go``) that mean something for a MySQL-compatible
target are here, with the same thresholds; the cluster checks (TiKV regions, PD, CDC/PiTR) are not, since
there is no TiKV. Beyond Lightning: the user's privileges, schema files that do not parse, rows larger than
``max_allowed_packet``, and target tables whose engine cannot roll back a batch.

One module per family, each check a function returning :class:`~.report.CheckItem` values, so that it can
be run and tested on its own:

- :mod:`.report` — ``CheckItem``, ``PrecheckReport``, the severities;
- :mod:`.target` — reachable, version, the target's catalogue, tables exist / empty, engines;
- :mod:`.privileges` — the ``SHOW GRANTS`` parser, what the import needs, the privileges check;
- :mod:`.schema` — existing objects, schema files and what they hold besides CREATE, definers;
- :mod:`.checkpoints` — stored checkpoints belong to this import and can resume;
- :mod:`.files` — the per-format table (``DATA_FORMATS``), first-block probes, large files, layout;
- :mod:`.csv_headers` — CSV header lines against the target's columns;
- :mod:`.row_sizes` — rows against ``max_allowed_packet``;
- :mod:`.sorted_kv` — the physical backend's ``sorted-kv-dir``;
- :mod:`.registry` — every check registered once (name, severity, when it applies, before the schema
  or not), and the steps that loop over it: ``precheck(env, store)`` and ``check_before_schema(env)``.
"""
