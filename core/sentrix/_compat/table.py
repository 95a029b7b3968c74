"""The one table of sentence-transformers 6.2 module paths, and where sentrix serves each.

Code written against sentence-transformers imports from deep paths (custom losses from
``sentence_transformers.sentence_transformer.losses.triplet``, extensions from
``sentence_transformers.base.modules.module``, old scripts from ``sentence_transformers.losses``).
With ``sentence_transformers`` replaced by ``sentrix`` each of those paths imports: ``MODULES``
maps the path (relative to the package) to the sentrix module that serves its names, and
:mod:`sentrix._compat.finder` makes ``sentrix.<path>`` a module whose attributes are looked up
there. Paths whose sentrix module has the same name (``trainer``, ``util.tensor``, ...) are real
modules and need no entry.

What sentrix does not provide is listed too, with the reason, so an import fails with that
reason instead of a bare ``No module named``. ``tests/core/test_compat_table.py`` walks the
module list of the installed sentence-transformers wheel and fails on any path or public name
that is neither served nor listed here.
"""

from __future__ import annotations

#: sentence-transformers module path (without the leading ``sentence_transformers.``) -> the
#: sentrix module whose attributes it serves.
MODULES: dict[str, str] = {
    "base": "sentrix",
    "sentence_transformer": "sentrix",
    "LoggingHandler": "sentrix.util.logging",
    "SentenceTransformer": "sentrix.model",
    "base.data_collator": "sentrix.data_collator",
    "base.evaluation": "sentrix.evaluation",
    "base.evaluation.evaluator": "sentrix.evaluator_base",
    "base.evaluation.sequential": "sentrix.evaluation",
    "base.losses": "sentrix.gradcache",
    "base.losses.gradcache": "sentrix.gradcache",
    "base.losses.merged_forward": "sentrix.embedding",
    "base.model": "sentrix.model",
    "base.model_card": "sentrix.model_card",
    "base.modules": "sentrix.models",
    "base.modules.dense": "sentrix.models",
    "base.modules.input_module": "sentrix.module_base",
    "base.modules.module": "sentrix.module_base",
    "base.modules.normalize": "sentrix.models",
    "base.modules.router": "sentrix.models",
    "base.modules.transformer": "sentrix.models",
    "base.peft_mixin": "sentrix.peft_mixin",
    "base.sampler": "sentrix.sampler",
    "base.trainer": "sentrix.trainer",
    "base.training_args": "sentrix.training_args",
    "datasets.DenoisingAutoEncoderDataset": "sentrix.datasets",
    "datasets.NoDuplicatesDataLoader": "sentrix.datasets",
    "datasets.ParallelSentencesDataset": "sentrix.datasets",
    "datasets.SentenceLabelDataset": "sentrix.datasets",
    "datasets.SentencesDataset": "sentrix.datasets",
    "evaluation.BinaryClassificationEvaluator": "sentrix.evaluation",
    "evaluation.EmbeddingSimilarityEvaluator": "sentrix.evaluation",
    "evaluation.InformationRetrievalEvaluator": "sentrix.evaluation",
    "evaluation.LabelAccuracyEvaluator": "sentrix.evaluation",
    "evaluation.MSEEvaluator": "sentrix.evaluation",
    "evaluation.NanoBEIREvaluator": "sentrix.evaluation",
    "evaluation.ParaphraseMiningEvaluator": "sentrix.evaluation",
    "evaluation.RerankingEvaluator": "sentrix.evaluation",
    "evaluation.SentenceEvaluator": "sentrix.evaluation",
    "evaluation.SequentialEvaluator": "sentrix.evaluation",
    "evaluation.SimilarityFunction": "sentrix.similarity",
    "evaluation.TranslationEvaluator": "sentrix.evaluation",
    "evaluation.TripletEvaluator": "sentrix.evaluation",
    "losses.AdaptiveLayerLoss": "sentrix.losses",
    "losses.AnglELoss": "sentrix.losses",
    "losses.BatchAllTripletLoss": "sentrix.losses",
    "losses.BatchHardSoftMarginTripletLoss": "sentrix.losses",
    "losses.BatchHardTripletLoss": "sentrix.losses",
    "losses.BatchSemiHardTripletLoss": "sentrix.losses",
    "losses.CachedGISTEmbedLoss": "sentrix.losses",
    "losses.CachedMultipleNegativesRankingLoss": "sentrix.losses",
    "losses.CachedMultipleNegativesSymmetricRankingLoss": "sentrix.losses",
    "losses.CoSENTLoss": "sentrix.losses",
    "losses.ContrastiveLoss": "sentrix.losses",
    "losses.ContrastiveTensionLoss": "sentrix.losses",
    "losses.CosineSimilarityLoss": "sentrix.losses",
    "losses.DenoisingAutoEncoderLoss": "sentrix.losses",
    "losses.DistillKLDivLoss": "sentrix.losses",
    "losses.GISTEmbedLoss": "sentrix.losses",
    "losses.MSELoss": "sentrix.losses",
    "losses.MarginMSELoss": "sentrix.losses",
    "losses.Matryoshka2dLoss": "sentrix.losses",
    "losses.MatryoshkaLoss": "sentrix.losses",
    "losses.MegaBatchMarginLoss": "sentrix.losses",
    "losses.MultipleNegativesRankingLoss": "sentrix.losses",
    "losses.MultipleNegativesSymmetricRankingLoss": "sentrix.losses",
    "losses.OnlineContrastiveLoss": "sentrix.losses",
    "losses.SoftmaxLoss": "sentrix.losses",
    "losses.TripletLoss": "sentrix.losses",
    "models.Asym": "sentrix.models",
    "models.BoW": "sentrix.models",
    "models.CLIPModel": "sentrix.models",
    "models.CNN": "sentrix.models",
    "models.Dense": "sentrix.models",
    "models.Dropout": "sentrix.models",
    "models.InputModule": "sentrix.module_base",
    "models.LSTM": "sentrix.models",
    "models.LayerNorm": "sentrix.models",
    "models.Module": "sentrix.module_base",
    "models.Normalize": "sentrix.models",
    "models.Pooling": "sentrix.models",
    "models.Router": "sentrix.models",
    "models.StaticEmbedding": "sentrix.models",
    "models.Transformer": "sentrix.models",
    "models.WeightedLayerPooling": "sentrix.models",
    "models.WordEmbeddings": "sentrix.models",
    "models.WordWeights": "sentrix.models",
    "models.tokenizer": "sentrix.models",
    "models.tokenizer.PhraseTokenizer": "sentrix.models",
    "models.tokenizer.WhitespaceTokenizer": "sentrix.models",
    "models.tokenizer.WordTokenizer": "sentrix.models",
    "quantization": "sentrix.util.quantization",
    "readers": "sentrix.fit_mixin",
    "readers.InputExample": "sentrix.fit_mixin",
    "readers.LabelSentenceReader": "sentrix.fit_mixin",
    "readers.NLIDataReader": "sentrix.fit_mixin",
    "readers.PairedFilesReader": "sentrix.fit_mixin",
    "readers.STSDataReader": "sentrix.fit_mixin",
    "readers.TripletReader": "sentrix.fit_mixin",
    "sentence_transformer.data_collator": "sentrix.data_collator",
    "sentence_transformer.datasets": "sentrix.datasets",
    "sentence_transformer.datasets.denoising_auto_encoder": "sentrix.datasets",
    "sentence_transformer.datasets.no_duplicates_dataloader": "sentrix.datasets",
    "sentence_transformer.datasets.parallel_sentences": "sentrix.datasets",
    "sentence_transformer.datasets.sentence_label": "sentrix.datasets",
    "sentence_transformer.datasets.sentences": "sentrix.datasets",
    "sentence_transformer.evaluation": "sentrix.evaluation",
    "sentence_transformer.evaluation.binary_classification": "sentrix.evaluation",
    "sentence_transformer.evaluation.embedding_similarity": "sentrix.evaluation",
    "sentence_transformer.evaluation.information_retrieval": "sentrix.evaluation",
    "sentence_transformer.evaluation.label_accuracy": "sentrix.evaluation",
    "sentence_transformer.evaluation.mse": "sentrix.evaluation",
    "sentence_transformer.evaluation.mse_from_dataframe": "sentrix.evaluation",
    "sentence_transformer.evaluation.nano_beir": "sentrix.evaluation",
    "sentence_transformer.evaluation.paraphrase_mining": "sentrix.evaluation",
    "sentence_transformer.evaluation.reranking": "sentrix.evaluation",
    "sentence_transformer.evaluation.translation": "sentrix.evaluation",
    "sentence_transformer.evaluation.triplet": "sentrix.evaluation",
    "sentence_transformer.fit_mixin": "sentrix.fit_mixin",
    "sentence_transformer.losses": "sentrix.losses",
    "sentence_transformer.losses.adaptive_layer": "sentrix.losses",
    "sentence_transformer.losses.angle": "sentrix.losses",
    "sentence_transformer.losses.batch_all_triplet": "sentrix.losses",
    "sentence_transformer.losses.batch_hard_soft_margin_triplet": "sentrix.losses",
    "sentence_transformer.losses.batch_hard_triplet": "sentrix.losses",
    "sentence_transformer.losses.batch_semi_hard_triplet": "sentrix.losses",
    "sentence_transformer.losses.cached_gist_embed": "sentrix.losses",
    "sentence_transformer.losses.cached_multiple_negatives_ranking": "sentrix.losses",
    "sentence_transformer.losses.cached_multiple_negatives_symmetric_ranking": "sentrix.losses",
    "sentence_transformer.losses.contrastive": "sentrix.losses",
    "sentence_transformer.losses.contrastive_tension": "sentrix.losses",
    "sentence_transformer.losses.cosent": "sentrix.losses",
    "sentence_transformer.losses.cosine_similarity": "sentrix.losses",
    "sentence_transformer.losses.denoising_auto_encoder": "sentrix.losses",
    "sentence_transformer.losses.distill_kl_div": "sentrix.losses",
    "sentence_transformer.losses.embed_distill": "sentrix.losses",
    "sentence_transformer.losses.gist_embed": "sentrix.losses",
    "sentence_transformer.losses.global_orthogonal_regularization": "sentrix.losses",
    "sentence_transformer.losses.margin_mse": "sentrix.losses",
    "sentence_transformer.losses.matryoshka": "sentrix.losses",
    "sentence_transformer.losses.matryoshka_2d": "sentrix.losses",
    "sentence_transformer.losses.mega_batch_margin": "sentrix.losses",
    "sentence_transformer.losses.mse": "sentrix.losses",
    "sentence_transformer.losses.multiple_negatives_ranking": "sentrix.losses",
    "sentence_transformer.losses.multiple_negatives_symmetric_ranking": "sentrix.losses",
    "sentence_transformer.losses.online_contrastive": "sentrix.losses",
    "sentence_transformer.losses.softmax": "sentrix.losses",
    "sentence_transformer.losses.triplet": "sentrix.losses",
    "sentence_transformer.model": "sentrix.model",
    "sentence_transformer.model_card": "sentrix.model_card",
    "sentence_transformer.modules": "sentrix.models",
    "sentence_transformer.modules.bow": "sentrix.models",
    "sentence_transformer.modules.clip_model": "sentrix.models",
    "sentence_transformer.modules.cnn": "sentrix.models",
    "sentence_transformer.modules.dropout": "sentrix.models",
    "sentence_transformer.modules.layer_norm": "sentrix.models",
    "sentence_transformer.modules.lstm": "sentrix.models",
    "sentence_transformer.modules.normalize": "sentrix.models",
    "sentence_transformer.modules.pooling": "sentrix.models",
    "sentence_transformer.modules.static_embedding": "sentrix.models",
    "sentence_transformer.modules.tokenizer": "sentrix.models",
    "sentence_transformer.modules.tokenizer.phrase": "sentrix.models",
    "sentence_transformer.modules.tokenizer.whitespace": "sentrix.models",
    "sentence_transformer.modules.tokenizer.word": "sentrix.models",
    "sentence_transformer.modules.weighted_layer_pooling": "sentrix.models",
    "sentence_transformer.modules.word_embeddings": "sentrix.models",
    "sentence_transformer.modules.word_weights": "sentrix.models",
    "sentence_transformer.readers": "sentrix.fit_mixin",
    "sentence_transformer.readers.input_example": "sentrix.fit_mixin",
    "sentence_transformer.readers.label_sentence": "sentrix.fit_mixin",
    "sentence_transformer.readers.nli_data": "sentrix.fit_mixin",
    "sentence_transformer.readers.paired_files": "sentrix.fit_mixin",
    "sentence_transformer.readers.sts_data": "sentrix.fit_mixin",
    "sentence_transformer.readers.triplet": "sentrix.fit_mixin",
    "sentence_transformer.trainer": "sentrix.trainer",
    "sentence_transformer.training_args": "sentrix.training_args",
    "similarity_functions": "sentrix.similarity",
    "util.dataset": "sentrix.util.misc",
    "util.decorators": "sentrix.util.misc",
    "util.retrieval": "sentrix.util.search",
    "util.similarity": "sentrix.similarity",
}

#: names that a sentrix namespace serves from a core module, by namespace. The rest of
#: ``sentrix.losses`` / ``sentrix.evaluation`` / ``sentrix.models`` / ``sentrix.sampler`` comes from
#: the component registries (and :mod:`sentrix._compat.companions`).
CORE_NAMES: dict[str, dict[str, str]] = {
    "sentrix": {
        "SentenceTransformer": "sentrix.model",
        "SentenceTransformerTrainer": "sentrix.trainer",
        "SentenceTransformerTrainingArguments": "sentrix.training_args",
        "BatchSamplers": "sentrix.training_args",
        "MultiDatasetBatchSamplers": "sentrix.training_args",
        "SentenceTransformerModelCardData": "sentrix.model_card",
        "SentenceTransformerDataCollator": "sentrix.data_collator",
        "SimilarityFunction": "sentrix.similarity",
        "quantize_embeddings": "sentrix.util",
        "mine_hard_negatives": "sentrix.util",
        "InputExample": "sentrix.fit_mixin",
        "LoggingHandler": "sentrix.util.logging",
        "DefaultBatchSampler": "sentrix.sampler",
        "MultiDatasetDefaultBatchSampler": "sentrix.sampler",
        "SentencesDataset": "sentrix.datasets",
        "export_optimized_onnx_model": "sentrix.backend",
        "export_dynamic_quantized_onnx_model": "sentrix.backend",
        "export_static_quantized_openvino_model": "sentrix.backend",
    },
    "sentrix.evaluation": {
        "SentenceEvaluator": "sentrix.evaluator_base",
        "BaseEvaluator": "sentrix.evaluator_base",
        "SimilarityFunction": "sentrix.similarity",
    },
    "sentrix.models": {
        "Module": "sentrix.module_base",
        "InputModule": "sentrix.module_base",
    },
    "sentrix.sampler": {
        "BatchSamplers": "sentrix.training_args",
        "MultiDatasetBatchSamplers": "sentrix.training_args",
    },
}

_OTHER_MODEL_KINDS = (
    "sentrix covers the sentence-embedding (bi-encoder) API of sentence-transformers; "
    "{kind} models are a different model family that sentrix does not train or load."
)

#: module path prefixes that sentrix does not provide -> why.
NOT_PROVIDED_MODULES: dict[str, str] = {
    "cross_encoder": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
    "sparse_encoder": _OTHER_MODEL_KINDS.format(kind="SparseEncoder (SPLADE)"),
    "multi_vector_encoder": _OTHER_MODEL_KINDS.format(kind="MultiVectorEncoder (ColBERT)"),
    "base.merging": "model merging (merge_models) is not provided.",
    "base.modality": (
        "sentrix encodes text only; the multimodal input formatting of sentence-transformers "
        "(images, audio, video, chat messages) is not provided."
    ),
    "base.modality_types": "sentrix encodes text only; the multimodal input types are not provided.",
    "sentence_transformer.deprecated_model_card_templates": (
        "the pre-v3 model card templates are not provided; sentrix writes the current model card."
    ),
    "util.deprecated_import": "an internal module of sentence-transformers (its import redirection).",
}

#: names a path serves from somewhere other than its module in MODULES: path -> {name: target},
#: target ``"module"`` (same name there) or ``"module:attribute"``. sentrix has one model kind,
#: so sentence-transformers' shared ``Base*`` classes are the sentence-embedding classes themselves.
_BASE_NAMES = {
    "BaseModel": "sentrix.model:SentenceTransformer",
    "BaseTrainer": "sentrix.trainer:SentenceTransformerTrainer",
    "BaseTrainingArguments": "sentrix.training_args:SentenceTransformerTrainingArguments",
    "BaseDataCollator": "sentrix.data_collator:SentenceTransformerDataCollator",
    "BaseModelCardData": "sentrix.model_card:SentenceTransformerModelCardData",
    "PeftAdapterMixin": "sentrix.peft_mixin",
    "BatchSamplers": "sentrix.training_args",
    "MultiDatasetBatchSamplers": "sentrix.training_args",
    "DefaultBatchSampler": "sentrix.sampler",
    "MultiDatasetDefaultBatchSampler": "sentrix.sampler",
    "NoDuplicatesBatchSampler": "sentrix.sampler",
    "GroupByLabelBatchSampler": "sentrix.sampler",
    "RoundRobinBatchSampler": "sentrix.sampler",
    "ProportionalBatchSampler": "sentrix.sampler",
    "SubsetRandomSampler": "torch.utils.data",
}
_SENTENCE_TRANSFORMER_NAMES = {
    name: module
    for name, module in CORE_NAMES["sentrix"].items()
    if name.startswith("SentenceTransformer")
}
NAMES: dict[str, dict[str, str]] = {
    "base": _BASE_NAMES,
    "base.model": {"BaseModel": _BASE_NAMES["BaseModel"]},
    "base.trainer": {"BaseTrainer": _BASE_NAMES["BaseTrainer"]},
    "base.training_args": {"BaseTrainingArguments": _BASE_NAMES["BaseTrainingArguments"]},
    "base.data_collator": {"BaseDataCollator": _BASE_NAMES["BaseDataCollator"]},
    "base.model_card": {"BaseModelCardData": _BASE_NAMES["BaseModelCardData"]},
    "base.sampler": {"SubsetRandomSampler": "torch.utils.data"},
    "sentence_transformer": _SENTENCE_TRANSFORMER_NAMES,
    "base.losses.merged_forward": {"column_merging_disabled": "sentrix.gradcache"},
    "datasets": {"DenoisingAutoEncoderDataset": "sentrix.losses"},
    "datasets.DenoisingAutoEncoderDataset": {"DenoisingAutoEncoderDataset": "sentrix.losses"},
    "sentence_transformer.datasets": {"DenoisingAutoEncoderDataset": "sentrix.losses"},
    "sentence_transformer.datasets.denoising_auto_encoder": {"DenoisingAutoEncoderDataset": "sentrix.losses"},
}

_LEGACY_READERS = (
    "the legacy file readers are not provided; load files with `datasets.load_dataset` "
    "(csv, json, parquet) and pass the Dataset to the trainer."
)
_FIT_INTERNALS = "an internal callback of sentence-transformers' legacy fit(); sentrix's fit() does not expose it."
_MULTIMODAL = "sentrix encodes text only; multimodal processing options are not provided."
_MULTI_VECTOR = "multi-vector (ColBERT-style) scoring belongs to MultiVectorEncoder models, which sentrix does not provide."
_SPARSE = "a sparse-embedding (SparseEncoder) helper; sentrix does not provide sparse models."
_PRIVATE = "a private helper of sentence-transformers, not API."

#: path -> {public name sentrix does not provide: why}. A path in NOT_PROVIDED_MODULES covers
#: all of its names; so does a name whose sentence-transformers module is listed there.
NOT_PROVIDED_NAMES: dict[str, dict[str, str]] = {
    "": {
        "CrossEncoder": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
        "CrossEncoderTrainer": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
        "CrossEncoderTrainingArguments": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
        "CrossEncoderModelCardData": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
        "SparseEncoder": _OTHER_MODEL_KINDS.format(kind="SparseEncoder (SPLADE)"),
        "SparseEncoderTrainer": _OTHER_MODEL_KINDS.format(kind="SparseEncoder (SPLADE)"),
        "SparseEncoderTrainingArguments": _OTHER_MODEL_KINDS.format(kind="SparseEncoder (SPLADE)"),
        "SparseEncoderModelCardData": _OTHER_MODEL_KINDS.format(kind="SparseEncoder (SPLADE)"),
        "MultiVectorEncoder": _OTHER_MODEL_KINDS.format(kind="MultiVectorEncoder (ColBERT)"),
        "MultiVectorEncoderTrainer": _OTHER_MODEL_KINDS.format(kind="MultiVectorEncoder (ColBERT)"),
        "MultiVectorEncoderTrainingArguments": _OTHER_MODEL_KINDS.format(kind="MultiVectorEncoder (ColBERT)"),
        "MultiVectorEncoderModelCardData": _OTHER_MODEL_KINDS.format(kind="MultiVectorEncoder (ColBERT)"),
        "ParallelSentencesDataset": (
            "not provided yet; for multilingual distillation build a Dataset of (sentence, teacher "
            "embedding) rows and train with MSELoss."
        ),
        "resolve_ids": "not provided yet; map id columns to texts with `datasets.Dataset.map`.",
    },
    "backend": {
        "_save_pretrained_wrapper": _PRIVATE,
    },
    "models": {"CLIPModel": "sentrix encodes text only; the CLIP image-text module is not provided."},
    "models.Transformer": dict.fromkeys(
        ("ModalityParams", "ProcessingKwargs", "QueryExpansionConfig", "set_temporary_class_attrs"), _MULTIMODAL
    ),
    "base.modules.transformer": dict.fromkeys(
        ("ModalityParams", "ProcessingKwargs", "QueryExpansionConfig", "set_temporary_class_attrs"), _MULTIMODAL
    ),
    "datasets": {"ParallelSentencesDataset": "not provided yet; see the top-level entry of the same name."},
    "readers": dict.fromkeys(
        ("LabelSentenceReader", "NLIDataReader", "PairedFilesReader", "STSBenchmarkDataReader", "STSDataReader", "TripletReader"),
        _LEGACY_READERS,
    ),
    "sentence_transformer.fit_mixin": dict.fromkeys(("EvaluatorCallback", "OriginalCallback", "SaveModelCallback"), _FIT_INTERNALS),
    "peft_mixin": {"peft_wrapper": "an internal decorator of sentence-transformers; sentrix's PEFT methods need no wrapper."},
    "base.losses.merged_forward": dict.fromkeys(
        ("chunked_padded_forward", "embed_columns_padded", "merge_feature_batches"), _MULTI_VECTOR
    ),
    "sentence_transformer.losses.matryoshka": dict.fromkeys(
        ("CachedLossDecorator", "ForwardDecorator", "shrink"),
        "private wrappers of sentence-transformers' MatryoshkaLoss; sentrix's serves every dimension from one forward.",
    ),
    "sentence_transformer.losses.adaptive_layer": dict.fromkeys(
        ("ForwardDecorator", "TransformerDecorator"),
        "private wrappers of sentence-transformers' AdaptiveLayerLoss; sentrix's serves every layer from one forward.",
    ),
    "util": {
        **dict.fromkeys(("maxsim", "maxsim_pairwise", "mean_maxsim", "mean_maxsim_pairwise"), _MULTI_VECTOR),
        **dict.fromkeys(("stack_padded_token_embeddings", "cat_padded_token_embeddings"), _MULTI_VECTOR),
        **dict.fromkeys(("to_scipy_coo", "select_max_active_dims", "compute_count_vector"), _SPARSE),
        "repad_flattened_features": (
            "it undoes the flattened (FlashAttention-2) batch layout, which sentrix's collator never produces."
        ),
        **dict.fromkeys(("_convert_to_batch", "_convert_to_batch_tensor", "_convert_to_tensor", "_move_tensors_to_cpu"), _PRIVATE),
        "resolve_ids": "not provided yet; map id columns to texts with `datasets.Dataset.map`.",
        "save_to_hub_args_decorator": "internal to the removed save_to_hub(); use push_to_hub.",
    },
    "util.decorators": {
        "transformer_kwargs_decorator": "an internal shim for old Transformer arguments; sentrix's Transformer takes its own.",
        "cross_encoder_init_args_decorator": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
        "cross_encoder_predict_rank_args_decorator": _OTHER_MODEL_KINDS.format(kind="CrossEncoder (reranker)"),
        "save_to_hub_args_decorator": "internal to the removed save_to_hub(); use push_to_hub.",
        "F": "a type variable, not API.",
    },
    "util.distributed": {
        "distributed_evaluation": (
            "sentrix's evaluators split encoding across processes themselves; there is no model hook to switch on."
        ),
    },
    "util.quantization": dict.fromkeys(
        ("semantic_search_faiss", "semantic_search_usearch"),
        "the faiss / usearch search backends are not provided; quantize_embeddings and exact semantic_search are.",
    ),
}
# The same names under their other paths.
for _alias, _path in (
    ("sentence_transformer.modules", "models"),
    ("sentence_transformer.datasets", "datasets"),
    ("sentence_transformer.readers", "readers"),
    ("base.peft_mixin", "peft_mixin"),
    ("similarity_functions", "util"),
    ("evaluation.SimilarityFunction", "util"),
    ("quantization", "util.quantization"),
    ("losses.AdaptiveLayerLoss", "sentence_transformer.losses.adaptive_layer"),
    ("losses.MatryoshkaLoss", "sentence_transformer.losses.matryoshka"),
    ("util.similarity", "util"),
    ("util.tensor", "util"),
    ("util.dataset", "util"),
):
    NOT_PROVIDED_NAMES[_alias] = NOT_PROVIDED_NAMES[_path]


def not_provided_name_reason(path: str, name: str) -> str | None:
    """The reason sentrix does not provide ``name`` under module ``path`` (relative), or None."""
    reasons = NOT_PROVIDED_NAMES.get(path, {})
    if name in reasons:
        return reasons[name]
    # the class-named old paths (``models.CNN``) and the module-named new ones (``...modules.cnn``)
    for listed_path, names in NOT_PROVIDED_NAMES.items():
        if name in names and (path.startswith(listed_path + ".") or path.rpartition(".")[0] == listed_path):
            return names[name]
    return None


def not_provided_reason(path: str) -> str | None:
    """The reason sentrix does not provide module ``path`` (relative), or None if it does."""
    for prefix, reason in NOT_PROVIDED_MODULES.items():
        if path == prefix or path.startswith(prefix + "."):
            return reason
    return None
