"""The demo's defaults, apart from the modules that start servers.

``qupersync`` builds its help from these on every call, ``qupersync doctor`` included, so they
must import nothing of the dev kit: a production install has no dev kit to import.
"""

HOME_ENV = "QUPERSYNC_DEMO_HOME"
DEFAULT_FOLDER = ".qupersync"
DEFAULT_ROWS_PER_DAY = 1500
UI_PORT = 3000
