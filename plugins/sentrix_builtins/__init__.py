"""sentrix_builtins: the components that ship with sentrix, each registered as an entry point.

Nothing in the sentrix core imports this package; it is reached only through the entry points
declared in sentrix's pyproject.toml, exactly like a third-party plugin.
"""

#: The plugin API these components are written against (see ``sentrix.plugin_api``).
SENTRIX_PLUGIN_API = "1.0"
