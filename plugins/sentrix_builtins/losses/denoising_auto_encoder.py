"""Denoising auto-encoder loss (TSDAE): learn embeddings from which a decoder rebuilds the sentence.

Registered as ``denoising_auto_encoder`` (alias ``DenoisingAutoEncoderLoss``). Also defines
:class:`DenoisingAutoEncoderDataset`, the legacy dataset that damages sentences for it
(``sentrix.losses.DenoisingAutoEncoderDataset``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from torch import Tensor, nn
from torch.utils.data import Dataset

from sentrix.plugin_api import DataNeeds, InputExample, InvalidInputError, check_loss_inputs, embed_columns

logger = logging.getLogger(__name__)


def _tie_weights(encoder: nn.Module, decoder_base: nn.Module) -> int:
    """Make every encoder parameter that has a counterpart in the decoder *be* that decoder parameter."""
    encoder_modules = dict(encoder.named_modules())
    tied = 0
    for name, parameter in decoder_base.named_parameters():
        module_name, _, attribute = name.rpartition(".")
        module = encoder_modules.get(module_name)
        if module is not None and hasattr(module, attribute):
            setattr(module, attribute, parameter)
            tied += 1
    return tied


class DenoisingAutoEncoderLoss(nn.Module):
    """Train the encoder so that a decoder can rebuild the original sentence from its damaged version's embedding (TSDAE).

    Each row holds a damaged sentence (e.g. 60% of its words deleted) and the original. The model
    embeds the damaged one; a transformer decoder with cross-attention to that single embedding
    predicts the original sentence token by token, and the loss is the token cross-entropy
    (padding ignored). Only the sentence embedding passes between the two, so it has to carry the
    sentence's meaning. No labels are needed: it trains on raw in-domain sentences.

    The decoder is a Hugging Face causal-LM model (``XXXForCausalLM``) built from
    ``decoder_name_or_path`` with cross-attention added. With ``tie_encoder_decoder=True`` (the
    default) it is built from the encoder's own checkpoint and shares every matching weight with
    it, so only the cross-attention and LM head are extra. The decoder is an ordinary submodule of
    the loss: the trainer keeps it in checkpoints and restores it on resume.

    Inputs:
        ====================================  ===================================
        text columns                          label
        ====================================  ===================================
        ``(damaged_sentence, sentence)``      none needed (a label is ignored)
        ====================================  ===================================

    Sampler:
        ``batch_sampler`` (the default): rows are independent.

    Args:
        model: the model to train; its first module must be a Transformer (not a
            StaticEmbedding).
        decoder_name_or_path: the decoder checkpoint (a Hub id or a local folder), default
            ``None``; required when ``tie_encoder_decoder=False``, ignored (with a warning) when
            the weights are tied, because the encoder's checkpoint is used then.
        tie_encoder_decoder: share the encoder's weights with the decoder, default ``True``;
            needs the encoder and decoder to use the same tokenizer.

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix import SentenceTransformer, SentenceTransformerTrainer
            from sentrix.losses import DenoisingAutoEncoderLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            sentences = ["A man is eating food.", "A monkey is playing drums.", "The cat sits on the mat."]
            damaged = [" ".join(s.split()[::2]) for s in sentences]  # or DenoisingAutoEncoderDataset.delete
            train = Dataset.from_dict({"damaged": damaged, "original": sentences})
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train, loss=DenoisingAutoEncoderLoss(model))
            trainer.train()

    References:
        Wang, Reimers and Gurevych, "TSDAE: Using Transformer-based Sequential Denoising
        Auto-Encoder for Unsupervised Sentence Embedding Learning", Findings of EMNLP 2021,
        https://arxiv.org/abs/2104.06979
    """

    data_needs = DataNeeds(
        text_columns=2,
        roles=("damaged_sentence", "sentence"),
        label="any",
        label_detail="ignored",
        recommended_sampler="batch_sampler",
    )

    def __init__(
        self, model: nn.Module, decoder_name_or_path: str | None = None, tie_encoder_decoder: bool = True
    ) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        encoder = getattr(model, "transformers_model", None)
        first = model[0] if hasattr(model, "__getitem__") else None
        if encoder is None or type(first).__name__ == "StaticEmbedding":
            raise InvalidInputError(
                f"DenoisingAutoEncoderLoss needs a model whose first module is a Transformer; this one starts with "
                f"{type(first).__name__}. A StaticEmbedding model has no transformer encoder to pair with a decoder. "
                "Fix: use a transformer-based model."
            )
        if decoder_name_or_path is None and not tie_encoder_decoder:
            raise InvalidInputError(
                "DenoisingAutoEncoderLoss: tie_encoder_decoder=False needs decoder_name_or_path (the decoder checkpoint). "
                "Fix: pass decoder_name_or_path=..., or keep tie_encoder_decoder=True to reuse the encoder's checkpoint."
            )
        self.model = model
        self.tokenizer_encoder = model.tokenizer
        encoder_name_or_path = encoder.config._name_or_path
        if tie_encoder_decoder:
            if decoder_name_or_path:
                logger.warning(
                    "DenoisingAutoEncoderLoss: decoder_name_or_path=%r is ignored because tie_encoder_decoder=True builds "
                    "the decoder from the encoder's checkpoint.",
                    decoder_name_or_path,
                )
            decoder_name_or_path = encoder_name_or_path
        self.tokenizer_decoder = AutoTokenizer.from_pretrained(decoder_name_or_path)
        self.need_retokenization = not isinstance(self.tokenizer_encoder, type(self.tokenizer_decoder))
        config = AutoConfig.from_pretrained(decoder_name_or_path)
        config.is_decoder = True
        config.add_cross_attention = True
        try:
            self.decoder = AutoModelForCausalLM.from_pretrained(decoder_name_or_path, config=config)
        except ValueError as exc:
            raise InvalidInputError(
                f"DenoisingAutoEncoderLoss: {decoder_name_or_path!r} cannot be loaded as a decoder (no causal-LM head "
                f"class such as BertLMHeadModel for {type(config).__name__}). Fix: pick a decoder checkpoint whose "
                "architecture has an ...ForCausalLM / ...LMHeadModel class."
            ) from exc
        if encoder.config.hidden_size != config.hidden_size:
            raise InvalidInputError(
                f"DenoisingAutoEncoderLoss: the encoder's hidden size ({encoder.config.hidden_size}) differs from the "
                f"decoder's ({config.hidden_size}). Fix: choose a decoder with hidden size {encoder.config.hidden_size}."
            )
        if self.tokenizer_decoder.pad_token is None:
            self.tokenizer_decoder.pad_token = self.tokenizer_decoder.eos_token
            self.decoder.config.pad_token_id = self.decoder.config.eos_token_id
        if len(AutoTokenizer.from_pretrained(encoder_name_or_path)) != len(self.tokenizer_encoder):
            logger.warning(
                "DenoisingAutoEncoderLoss: the encoder's vocabulary was changed after loading; the decoder's may need "
                "the same change."
            )
        if tie_encoder_decoder:
            if self.need_retokenization:
                raise InvalidInputError(
                    "DenoisingAutoEncoderLoss: tie_encoder_decoder=True needs the encoder and decoder to share a "
                    "tokenizer, but they differ. Fix: set tie_encoder_decoder=False with a separate decoder."
                )
            if len(self.tokenizer_encoder) != len(self.tokenizer_decoder):
                self.tokenizer_decoder = self.tokenizer_encoder
                self.decoder.resize_token_embeddings(len(self.tokenizer_decoder))
                logger.warning(
                    "DenoisingAutoEncoderLoss: the encoder's vocabulary was changed; the decoder now uses it too."
                )
            if not _tie_weights(encoder, self.decoder._modules[self.decoder.base_model_prefix]):
                logger.warning(
                    "DenoisingAutoEncoderLoss: no encoder weight could be tied to the decoder; do they share an architecture?"
                )

    @property
    def encoder(self) -> nn.Module:
        """The model being trained (sentence-transformers' name for it on this loss)."""
        return self.model

    @classmethod
    def contract_example(cls, model: nn.Module) -> "DenoisingAutoEncoderLoss":
        return cls(model)

    def retokenize(self, sentence_features: dict[str, Tensor]) -> dict[str, Tensor]:
        """Re-tokenise a column with the decoder's tokenizer (when it differs from the encoder's)."""
        input_ids = sentence_features["input_ids"]
        texts = self.tokenizer_encoder.batch_decode(
            input_ids, skip_special_tokens=True, clean_up_tokenization_spaces=True
        )
        encoded = self.tokenizer_decoder(
            texts, padding=True, truncation="longest_first", return_tensors="pt", max_length=None
        )
        return encoded.to(input_ids.device)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        check_loss_inputs(self, sentence_features, labels, require_labels=False)
        source, target = tuple(sentence_features)
        if self.need_retokenization:
            target = self.retokenize(target)
        embeddings = embed_columns(self.model, [dict(source)])[0]
        target_ids = target["input_ids"]
        outputs = self.decoder(
            input_ids=target_ids[:, :-1],
            attention_mask=None,
            encoder_hidden_states=embeddings[:, None],
            encoder_attention_mask=source["attention_mask"][:, :1],
            use_cache=False,
        )
        logits = outputs[0]
        return nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            target_ids[:, 1:].reshape(-1),
            ignore_index=self.tokenizer_decoder.pad_token_id,
        )

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "decoder_name_or_path": self.decoder.config._name_or_path,
            "need_retokenization": self.need_retokenization,
        }

    @property
    def citation(self) -> str:
        return """
@inproceedings{wang-2021-TSDAE,
    title = "TSDAE: Using Transformer-based Sequential Denoising Auto-Encoderfor Unsupervised Sentence Embedding Learning",
    author = "Wang, Kexin and Reimers, Nils and Gurevych, Iryna",
    booktitle = "Findings of the Association for Computational Linguistics: EMNLP 2021",
    month = nov,
    year = "2021",
    address = "Punta Cana, Dominican Republic",
    publisher = "Association for Computational Linguistics",
    pages = "671--688",
    url = "https://arxiv.org/abs/2104.06979",
}
"""


def _delete_words(text: str) -> str:
    return DenoisingAutoEncoderDataset.delete(text)


class DenoisingAutoEncoderDataset(Dataset):
    """Pairs ``(noise_fn(sentence), sentence)`` for ``DenoisingAutoEncoderLoss`` (legacy ``model.fit`` API).

    Item ``i`` is ``InputExample(texts=[noise_fn(sentences[i]), sentences[i]])``; the damage is
    drawn anew each time an item is read. The default noise, :meth:`delete`, removes about 60% of
    the words (NLTK's word tokenizer and detokenizer, numpy's global random state), keeping at
    least one.

    Args:
        sentences: the training sentences.
        noise_fn: ``str -> str`` that damages a sentence, default :meth:`delete` (needs ``nltk``
            and its ``punkt`` data).

    Example:
        .. code-block:: python

            from torch.utils.data import DataLoader
            from sentrix import SentenceTransformer
            from sentrix.losses import DenoisingAutoEncoderDataset, DenoisingAutoEncoderLoss

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            sentences = ["A man is eating food.", "A monkey is playing drums.", "The cat sits on the mat."]
            dataset = DenoisingAutoEncoderDataset(sentences, noise_fn=lambda s: " ".join(s.split()[::2]))
            loader = DataLoader(dataset, batch_size=2, shuffle=True)
            model.fit(train_objectives=[(loader, DenoisingAutoEncoderLoss(model))], epochs=1)
    """

    def __init__(self, sentences: list[str], noise_fn: Callable[[str], str] = _delete_words) -> None:
        if noise_fn is _delete_words:
            _require_nltk()
        if not callable(noise_fn):
            raise InvalidInputError(
                f"DenoisingAutoEncoderDataset: noise_fn must be a function str -> str, got {type(noise_fn).__name__}."
            )
        self.sentences = sentences
        self.noise_fn = noise_fn

    def __getitem__(self, item: int) -> InputExample:
        sentence = self.sentences[item]
        return InputExample(texts=[self.noise_fn(sentence), sentence])

    def __len__(self) -> int:
        return len(self.sentences)

    @staticmethod
    def delete(text: str, del_ratio: float = 0.6) -> str:
        """``text`` with each word removed with probability ``del_ratio`` (at least one word kept)."""
        import numpy as np

        _require_nltk()
        from nltk import word_tokenize
        from nltk.tokenize.treebank import TreebankWordDetokenizer

        words = word_tokenize(text)
        if not words:
            return text
        keep = np.random.rand(len(words)) > del_ratio
        if keep.sum() == 0:
            keep[np.random.choice(len(words))] = True
        return TreebankWordDetokenizer().detokenize(np.array(words)[keep])


def _require_nltk() -> None:
    try:
        import nltk  # noqa: F401
    except ImportError:
        raise ImportError(
            "DenoisingAutoEncoderDataset's default noise (DenoisingAutoEncoderDataset.delete) needs NLTK. Fix: "
            "`pip install nltk` and `python -m nltk.downloader punkt_tab`, or pass your own noise_fn=..."
        ) from None
