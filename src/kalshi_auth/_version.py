# The one place the version is set: `kalshi_auth.__version__`, `kalshi-auth --version` and
# the built distributions' metadata (hatch reads this file, [tool.hatch.version] in
# pyproject.toml) all come from here. A release is the tag `v` + this version.
__version__ = "0.2.0"
