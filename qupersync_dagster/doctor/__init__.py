"""``qupersync doctor``: a read-only pre-flight of a deployment (see ``command``).

Nothing here may import the dev kit or the demo: production installs run the doctor without them.
"""
