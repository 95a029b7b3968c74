"""``sentrix.losses``: the registered losses, reachable by their sentence-transformers names.

Nothing is defined here: every attribute is looked up in the ``sentrix.losses`` registry, so
``from sentrix.losses import CoSENTLoss`` works for built-ins and installed plugins alike.
Run ``sentrix plugins list --kind losses`` to see what is installed.

A few helper objects that sentence-transformers exposes next to its losses are reached through the
loss that owns them (``TripletDistanceMetric`` is ``TripletLoss.DistanceMetric``).
"""

from sentrix._registry_namespace import registry_dir, registry_getattr

# sentence-transformers helper name -> (registered loss name, attribute of that loss class)
_COMPANIONS = {
    "TripletDistanceMetric": ("triplet", "DistanceMetric"),
}

_registry_getattr = registry_getattr("losses", __name__)
_registry_dir = registry_dir("losses")


def __getattr__(name: str):
    if name in _COMPANIONS:
        from sentrix.registry import losses

        loss_name, attribute = _COMPANIONS[name]
        return getattr(losses.get(loss_name), attribute)
    return _registry_getattr(name)


def __dir__():
    return sorted(set(_registry_dir()) | set(_COMPANIONS))
