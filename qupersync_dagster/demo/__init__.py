"""``qupersync demo``: the whole of QuperSync on one machine, without Redshift.

Someone evaluating QuperSync has Python and nothing else. This package turns the stand-ins of
``devkit`` (a private PostgreSQL, the Redshift wire emulator, generated CUR data) into the
deployment the README describes -- the same code location, the same ``dagster.yaml``, the same
environment variables as production -- so what they click in the UI is what they would run.
"""
