"""``sentrix.losses``: the registered losses, reachable by their sentence-transformers names.

Nothing is defined here: every attribute is looked up in the ``sentrix.losses`` registry, so
``from sentrix.losses import CoSENTLoss`` works for built-ins and installed plugins alike.
Helper names sentence-transformers exports beside its losses (``TripletDistanceMetric``, ...) come
from the module of the loss that owns them (:mod:`sentrix._compat.companions`).
Run ``sentrix plugins list --kind losses`` to see what is installed.
"""

from sentrix._registry_namespace import registry_dir, registry_getattr

# A package without a folder: the sentence-transformers paths below it (``sentrix.losses.CoSENTLoss``,
# the old one-module-per-class layout) are served by sentrix._compat.finder.
__path__: list[str] = []

__getattr__ = registry_getattr("losses", __name__)
__dir__ = registry_dir("losses", __name__)
