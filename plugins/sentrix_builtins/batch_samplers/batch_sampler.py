"""``batch_sampler``: shuffle the rows and cut them into batches (the default).

What it does
    Draws a random permutation of the dataset's rows from ``seed + epoch`` and yields
    consecutive slices of ``batch_size`` rows. With ``drop_last=True`` the last, smaller batch is
    left out. ``len(sampler)`` is exactly the number of batches an epoch yields.

Data it needs
    =============================  ==========================
    input                          requirement
    =============================  ==========================
    dataset                        any dataset with ``len()``
    columns / labels               none; values are never read
    =============================  ==========================

Use it for losses without in-batch negatives (CoSENT, CosineSimilarity, Softmax, ...). For
in-batch-negative losses prefer ``no_duplicates``; for batch triplet losses ``group_by_label``.

Registered as ``batch_sampler`` (the value of ``BatchSamplers.BATCH_SAMPLER``) with the alias
``DefaultBatchSampler``. The class is the core's :class:`sentrix.sampler.DefaultBatchSampler`,
which custom samplers subclass.

Example::

    from datasets import Dataset
    from sentrix.plugin_api import get_registry
    batch_samplers = get_registry("batch_samplers")

    ds = Dataset.from_dict({"sentence1": ["a", "b", "c"], "sentence2": ["x", "y", "z"], "score": [0.1, 0.5, 0.9]})
    sampler = batch_samplers.create("batch_sampler", ds, batch_size=2, drop_last=False, seed=42)
    print(list(sampler))      # e.g. [[2, 0], [1]]

Reference: equivalent to sentence-transformers' default
(``DefaultBatchSampler(RandomSampler(dataset))``); the first epoch gives the same order for the
same seed. Later epochs draw from ``seed + epoch`` instead of continuing one generator, which is
what makes a resumed run reproduce the uninterrupted one.
"""

from sentrix.plugin_api import DefaultBatchSampler

__all__ = ["DefaultBatchSampler"]
