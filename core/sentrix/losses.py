"""``sentrix.losses``: the registered losses, reachable by their sentence-transformers names.

Nothing is defined here: every attribute is looked up in the ``sentrix.losses`` registry, so
``from sentrix.losses import X`` works for built-ins and installed plugins alike.
Run ``sentrix plugins list --kind losses`` to see what is installed.
"""

from sentrix._registry_namespace import registry_dir, registry_getattr

__getattr__ = registry_getattr("losses", __name__)
__dir__ = registry_dir("losses")
