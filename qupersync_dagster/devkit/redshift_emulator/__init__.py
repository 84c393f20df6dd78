"""Lets the real ``redshift_connector`` driver talk to a stock PostgreSQL server as to Redshift.

QuperSync reads Redshift through ``redshift_connector`` and nothing else, so the demo, the tests
and the benchmark must exercise that very driver, yet nobody can run Redshift locally. Redshift
speaks the PostgreSQL v3 wire protocol with two differences that make the driver and PostgreSQL
refuse each other: the driver's startup packet carries Redshift-only parameters that PostgreSQL
rejects with FATAL, and the driver cannot parse a packaged PostgreSQL's ``server_version`` (e.g.
``15.18 (Debian ...)``) where Redshift reports ``8.0.2``. A small proxy fixes both in flight
(``protocol``) and keeps the result streams exactly as the server sent them.

PostgreSQL is also far kinder than Redshift, so by default the emulator is **strict**: its
sessions behave like a cluster's where the two differ, and code that only works on PostgreSQL
fails here first. Switches of ``RedshiftWireEmulator`` (and of the command line):

- ``strict=True`` (``--no-strict`` turns it off): sessions start with hostile defaults --
  ``extra_float_digits=0`` (Redshift's 15-digit floats), ``TimeZone=Pacific/Chatham``,
  ``DateStyle='SQL, DMY'`` -- which a client's ``SET`` overrides, as on a cluster; ``DECLARE``
  outside a transaction block, options other than ``DECLARE name CURSOR FOR``, a second open
  cursor, ``FETCH`` directions Redshift lacks, and constructs it lacks (``string_agg`` and other
  PostgreSQL-only functions, ``jsonb_*``, ``DISTINCT ON``, ``::regclass``, advisory locks,
  ``generate_series`` over user tables, ``COPY ... TO STDOUT``) are refused with an error naming
  them; ``JSON_SERIALIZE`` raises above 65,535 bytes and ``CHR()`` returns CHAR; the catalogue
  views of ``compat`` (``SVV_ALL_COLUMNS``, ``SVV_EXTERNAL_COLUMNS``, ``SVV_ALL_TABLES``,
  ``SVV_TABLES``, ``STV_SLICES``) exist.
- ``single_node=True`` (``--multi-node`` turns it off): ``FETCH`` of more than 1,000 rows and
  ``FETCH ALL`` are refused with Redshift's message; ``STV_SLICES`` shows one node, else two.
- ``cursor_bytes_cap=None`` (``--cursor-bytes-cap N``): when set, the first ``FETCH`` of a
  cursor whose whole result is larger than N bytes fails, as Redshift's per-cluster cursor
  result cap does.
- ``rewrite=False``: a plain byte proxy (never strict), used to fault the target's wire.

A refused statement fails on the server (see ``strict``), so the client receives an ordinary
ErrorResponse and the transaction is aborted. ``catalogue_fixtures`` creates, for tests, a
late-binding view and an external table that ``information_schema`` does not list.

Sitting in the middle of the wire also makes the emulator the natural place to inject network
faults (cuts, hangs) at precise protocol positions, which is how the sync's retry and resume
logic is tested.
"""

from qupersync_dagster.devkit.redshift_emulator.emulator import RedshiftWireEmulator
from qupersync_dagster.devkit.redshift_emulator.protocol import (
    REDSHIFT_SERVER_VERSION,
    MessageFramer,
    filter_startup_packet,
    rewrite_parameter_status,
)

__all__ = [
    "REDSHIFT_SERVER_VERSION",
    "MessageFramer",
    "RedshiftWireEmulator",
    "filter_startup_packet",
    "rewrite_parameter_status",
]
