"""Names that sentence-transformers exposes next to a component, found in that component's module.

``sentrix.losses.SiameseDistanceMetric`` (and the same name under every sentence-transformers
module path of the losses) is looked up as: load the registered component named on the right,
then take the attribute of the module that defines it. So a helper enum or data class stays in the
component's own file, and any plugin that provides the component provides its companions too.
"""

from __future__ import annotations

# kind -> {public name: registered component whose defining module holds that name}
COMPANIONS: dict[str, dict[str, str]] = {
    "losses": {
        "TripletDistanceMetric": "triplet",
        # >>> companions losses A
        # >>> companions losses B
        "SiameseDistanceMetric": "contrastive",
        "BatchHardTripletLossDistanceFunction": "batch_hard_triplet",
        # >>> companions losses C
        "ContrastiveTensionDataLoader": "contrastive_tension",
        "DenoisingAutoEncoderDataset": "denoising_auto_encoder",
    },
    "modules": dict.fromkeys(
        ("WhitespaceTokenizer", "WordTokenizer", "PhraseTokenizer", "ENGLISH_STOP_WORDS", "TransformersTokenizerWrapper"),
        "word_embeddings",
    ),
    "evaluators": {
        # >>> companions evaluators
    },
}
