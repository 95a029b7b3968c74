"""Packed rows (sentrix.packing): the layout itself, the Transformer's packed forward (equal to the plain
forward for every packable encoder type, attention kind and pooling mode, values and gradients), and when
the loss helper packs and when it must not."""

from __future__ import annotations

import random

import pytest
import torch

from sentrix.embedding import (
    EmbeddingOptions,
    can_pack_rows,
    count_tokens,
    embed_columns,
    embedding_options,
    padding_stats,
    plan_forwards,
)
from sentrix.errors import InvalidInputError
from sentrix.packing import ROW_PACKING_KEY, pack_rows

# ------------------------------------------------------------------------------------------ the layout


@pytest.mark.parametrize("seed", range(20))
def test_every_row_gets_its_own_non_overlapping_slots(seed):
    rng = random.Random(seed)
    lengths = [rng.randint(1, 60) for _ in range(rng.randint(1, 90))]
    packing = pack_rows(lengths)
    assert max(lengths) <= packing.pack_length <= 2 * max(lengths) and packing.rows == len(lengths)
    used = set()
    for row, length in enumerate(lengths):
        pack, offset = packing.pack_of[row], packing.offset_of[row]
        assert 0 <= pack < packing.packs and 0 <= offset and offset + length <= packing.pack_length
        slots = {(pack, offset + j) for j in range(length)}
        assert not (slots & used)
        used |= slots
    assert packing.real_tokens == sum(lengths) <= packing.tokens
    # first-fit decreasing never needs more packs than rows, and at most 2x the lower bound + 1
    lower = -(-sum(lengths) // packing.pack_length)
    fixed = pack_rows(lengths, pack_length=max(lengths))
    assert fixed.pack_length == max(lengths) and fixed.packs >= -(-sum(lengths) // max(lengths))
    assert lower <= packing.packs <= min(len(lengths), 2 * lower + 1)


def test_pack_unpack_positions_and_segments_round_trip():
    lengths = [5, 2, 3, 1, 4]
    packing = pack_rows(lengths)
    width = max(lengths)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = 100 * (row + 1) + torch.arange(length)
    packed = packing.pack(ids, fill=-7)
    assert packed.shape == (packing.packs, packing.pack_length)
    assert int((packed == -7).sum()) == packing.tokens - sum(lengths)
    positions, segments = packing.position_ids(), packing.segments()
    for row, length in enumerate(lengths):
        where = segments == row
        assert int(where.sum()) == length
        assert packed[where].tolist() == ids[row, :length].tolist()
        assert positions[where].tolist() == list(range(length))
    assert packing.position_ids(start=2)[segments == 0].tolist() == [2, 3, 4, 5, 6]
    hidden = packed.unsqueeze(-1).float()
    back = packing.unpack(hidden).squeeze(-1)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    assert torch.equal(back[mask], ids[mask].float()) and bool((back[~mask] == 0).all())


def test_attention_mask_is_block_diagonal_and_free_slots_attend_to_themselves():
    packing = pack_rows([3, 2, 2], pack_length=3)  # packs: [row0], [row1], [row2] (2 + 2 > 3)
    boolean = packing.attention_mask()
    segments = packing.segments()
    assert boolean.shape == (packing.packs, 1, 3, 3) and boolean.dtype == torch.bool
    for p in range(packing.packs):
        for i in range(3):
            for j in range(3):
                if segments[p, i] >= 0:
                    expected = bool(segments[p, i] == segments[p, j])
                else:
                    expected = i == j
                assert bool(boolean[p, 0, i, j]) == expected
    additive = packing.attention_mask(torch.float64)
    assert torch.equal(additive == 0, boolean) and float(additive.min()) == torch.finfo(torch.float64).min


def test_unpack_passes_gradients_back_to_the_packed_tokens():
    packing = pack_rows([3, 1, 2])
    packed = torch.randn(packing.packs, packing.pack_length, 4, dtype=torch.float64, requires_grad=True)
    packing.unpack(packed).sum().backward()
    assert torch.equal(packed.grad[..., 0] != 0, packing.segments() >= 0)


@pytest.mark.parametrize("seed", range(10))
def test_the_chosen_pack_length_has_the_lowest_estimated_cost(seed):
    """Against every candidate length packed on its own; the cost weighs tokens by the attention each costs."""
    rng = random.Random(seed)
    lengths = [rng.randint(5, 70) for _ in range(rng.randint(8, 120))]
    scale = rng.choice([300.0, 2304.0, 1e9])
    chosen = pack_rows(lengths, attention_scale=scale)
    longest = max(lengths)
    candidates = sorted({longest + (longest * k) // 16 for k in range(17)})
    costs = {size: pack_rows(lengths, size).tokens * (1 + size / scale) for size in candidates}
    assert chosen.pack_length in costs and costs[chosen.pack_length] == min(costs.values())


def test_cheap_attention_buys_less_padding():
    rng = random.Random(1)
    lengths = [rng.randint(5, 40) for _ in range(64)]
    at_longest = pack_rows(lengths, pack_length=max(lengths))
    free_attention = pack_rows(lengths, attention_scale=1e12)
    assert free_attention.tokens <= at_longest.tokens
    assert pack_rows(lengths, attention_scale=1e-6).pack_length == max(lengths)  # attention dominates: shortest packs


def test_a_pack_length_shorter_than_a_row_is_refused():
    with pytest.raises(ValueError, match="shorter than the longest row"):
        pack_rows([4, 9], pack_length=8)


# ------------------------------------------------------------------------------------------ encoders


def _hf_folder(tmp_path, model_type: str, attn: str):
    """A random tiny encoder of ``model_type`` with the tiny WordPiece tokenizer, saved as an HF folder."""
    from transformers import AutoConfig, AutoModel

    from sentrix.testing.tiny_models import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    config = AutoConfig.for_model(
        model_type, vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=160, pad_token_id=0, type_vocab_size=2,
    )
    torch.manual_seed(7)
    model = AutoModel.from_config(config, attn_implementation=attn)
    folder = tmp_path / f"{model_type}-{attn}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _sentrix_model(folder, attn: str, pooling=("mean",), include_prompt=True, **transformer_kwargs):
    from sentrix import SentenceTransformer
    from sentrix.models import Pooling, Transformer

    transformer = Transformer(folder, model_kwargs={"attn_implementation": attn}, **transformer_kwargs)
    model = SentenceTransformer(modules=[transformer, Pooling(32, list(pooling), include_prompt=include_prompt)])
    return model.to(torch.float64).eval()


TEXTS = [
    ["a b", "the quick brown fox jumps over the lazy dog again and again", "x", "hello world", "one two three"],
    ["short one", "c", "a much longer sentence with many many words in it for sure", "to be", "z y x w"],
]
POOLING = ("mean", "max", "cls", "lasttoken", "weightedmean", "mean_sqrt_len_tokens")


def _grads(model):
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("model_type", ["bert", "distilbert", "electra", "roberta", "xlm-roberta", "camembert"])
@pytest.mark.parametrize("include_prompt", [True, False])
def test_packed_forward_equals_the_plain_forward_values_and_gradients(tmp_path, model_type, attn, include_prompt):
    model = _sentrix_model(_hf_folder(tmp_path, model_type, attn), attn, POOLING, include_prompt)
    assert model[0].can_pack_rows() and can_pack_rows(model)
    prompt = None if include_prompt else "query: "
    batch = [dict(model.preprocess(texts, prompt=prompt)) for texts in TEXTS]
    assert padding_stats(batch, model=model)["model_calls"] == 1  # one packed call for both columns

    def run(**options):
        model.zero_grad(set_to_none=True)
        with count_tokens() as counted:
            embeddings = embed_columns(model, [dict(f) for f in batch], **options)
        sum((e * torch.linspace(-1, 1, e.numel(), dtype=e.dtype).view_as(e)).sum() for e in embeddings).backward()
        return [e.detach() for e in embeddings], _grads(model), counted

    plain, plain_grads, _ = run(merge_and_bucket=False)
    packed, packed_grads, counted = run()
    assert counted.calls == 1 and counted.forward < sum(int(f["attention_mask"].numel()) for f in batch)
    for got, expected in zip(packed, plain):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    assert plain_grads.keys() == packed_grads.keys()
    for name in plain_grads:
        torch.testing.assert_close(packed_grads[name], plain_grads[name], rtol=1e-9, atol=1e-12, msg=name)


def test_every_packable_type_is_tested():
    from sentrix_builtins.modules.transformer import PACKABLE_MODEL_TYPES

    tested = {"bert", "distilbert", "electra", "roberta", "xlm-roberta", "camembert"}
    assert set(PACKABLE_MODEL_TYPES) == tested


def test_mpnet_is_not_packable_because_packing_changes_its_outputs(tmp_path, monkeypatch):
    """Why the list is explicit: MPNet takes position_ids and a 4-D mask, yet its relative position
    buckets make the packed forward differ; forced into the list, the embeddings move."""
    from sentrix_builtins.modules import transformer as module

    model = _sentrix_model(_hf_folder(tmp_path, "mpnet", "eager"), "eager")
    assert not model[0].can_pack_rows()
    monkeypatch.setitem(module.PACKABLE_MODEL_TYPES, "mpnet", "after_padding_idx")
    assert model[0].can_pack_rows()
    batch = [dict(model.preprocess(texts)) for texts in TEXTS]
    with torch.no_grad():
        plain = embed_columns(model, [dict(f) for f in batch], merge_and_bucket=False)
        packed = embed_columns(model, [dict(f) for f in batch])
    assert max(float((a - b).abs().max()) for a, b in zip(plain, packed)) > 1e-3


def test_all_layer_embeddings_come_back_unpacked(tmp_path):
    folder = _hf_folder(tmp_path, "bert", "sdpa")
    model = _sentrix_model(folder, "sdpa", config_kwargs={"output_hidden_states": True})
    batch = [dict(model.preprocess(texts)) for texts in TEXTS]
    plain = [model(dict(f)) for f in batch]
    features = dict(batch[0])
    features[ROW_PACKING_KEY] = pack_rows(features["attention_mask"].sum(1).tolist())
    packed = model[0](features)
    assert len(packed["all_layer_embeddings"]) == len(plain[0]["all_layer_embeddings"])
    mask = batch[0]["attention_mask"].bool()
    for got, expected in zip(packed["all_layer_embeddings"], plain[0]["all_layer_embeddings"]):
        torch.testing.assert_close(got[mask], expected[mask], rtol=1e-10, atol=1e-12)


def test_encoders_that_cannot_pack_say_so_and_get_buckets(tmp_path, monkeypatch):
    folder = _hf_folder(tmp_path, "bert", "sdpa")
    model = _sentrix_model(folder, "sdpa")
    # flash-attention takes no 4-D mask (set without the setter, which would look for the kernels package)
    monkeypatch.setattr(model[0].config, "_attn_implementation_internal", "flash_attention_2")
    assert not model[0].can_pack_rows() and not can_pack_rows(model)
    batch = [dict(model.preprocess(texts)) for texts in TEXTS]
    assert padding_stats(batch, EmbeddingOptions(call_cost=0), model=model)["model_calls"] > 1  # length buckets instead
    features = dict(batch[0])
    features[ROW_PACKING_KEY] = pack_rows(features["attention_mask"].sum(1).tolist())
    with pytest.raises(InvalidInputError, match="cannot run packed rows"):
        model[0](features)
    monkeypatch.setattr(model[0].config, "_attn_implementation_internal", "sdpa")
    assert model[0].can_pack_rows()
    monkeypatch.setattr(model[0].config, "position_embedding_type", "relative_key", raising=False)
    assert not model[0].can_pack_rows()
    monkeypatch.setattr(model[0].config, "position_embedding_type", "absolute", raising=False)
    monkeypatch.setattr(model[0].config, "model_type", "t5")  # positions not from position_ids
    assert not model[0].can_pack_rows()


def test_the_pack_switch_and_plain_options_turn_packing_off(tmp_path):
    model = _sentrix_model(_hf_folder(tmp_path, "bert", "sdpa"), "sdpa")
    batch = [dict(model.preprocess(texts)) for texts in TEXTS]
    assert padding_stats(batch, model=model)["model_calls"] == 1
    assert padding_stats(batch, EmbeddingOptions(pack=False, call_cost=0), model=model)["model_calls"] > 1
    with embedding_options(pack=False), count_tokens() as counted:
        embed_columns(model, [dict(f) for f in batch], call_cost=0)
    assert counted.calls > 1
    with embedding_options(merge_and_bucket=False), count_tokens() as counted:
        embed_columns(model, [dict(f) for f in batch])
    assert counted.calls == 2


def test_packing_never_runs_more_tokens_than_per_column_forwards(tmp_path):
    """Every batch size from 2 to 256 with short queries and long passages: packed plans are compared like the rest."""
    model = _sentrix_model(_hf_folder(tmp_path, "bert", "sdpa"), "sdpa")
    rng = random.Random(5)
    packed_plans = 0
    for rows in range(2, 257):
        columns = []
        for kind in ("query", "passage", "passage")[: 2 + rows % 2]:
            lengths = [rng.randint(3, 16) if kind == "query" else min(512, int(rng.lognormvariate(4.5, 0.7)) + 8)
                       for _ in range(rows)]
            width = max(lengths)
            mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
            columns.append({"input_ids": mask * 7, "attention_mask": mask})
        stats = padding_stats(columns, model=model)
        assert stats["planned_tokens"] <= stats["per_column_tokens"], (rows, stats)
        packed_plans += any(ROW_PACKING_KEY in f for plan in plan_forwards(columns, model=model) for f in plan.features)
    assert packed_plans > 200
