"""Local stand-ins for the servers QuperSync talks to in production.

The demo, the test-suite and the benchmark all need a Redshift to read from and a
PostgreSQL to write to without either being installed; this package provides a
private PostgreSQL (``embedded``), a Redshift wire emulator in front of it
(``redshift_emulator``) and realistic cost-usage data (``cur_data``).
"""
