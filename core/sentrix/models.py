"""``sentrix.models``: the registered modules, reachable by their sentence-transformers names.

Nothing is defined here: every attribute is looked up in the ``sentrix.modules`` registry, so
``from sentrix.models import X`` works for built-ins and installed plugins alike.
Run ``sentrix plugins list --kind modules`` to see what is installed.
"""

from sentrix._registry_namespace import registry_dir, registry_getattr

# A package without a folder: the sentence-transformers paths below it (``sentrix.losses.CoSENTLoss``,
# the old one-module-per-class layout) are served by sentrix._compat.finder.
__path__: list[str] = []

__getattr__ = registry_getattr("modules", __name__)
__dir__ = registry_dir("modules", __name__)
