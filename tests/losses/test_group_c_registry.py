"""Group C losses: registered under both names, documented in the shared layout, data needs shown by the CLI."""

from __future__ import annotations

import inspect
import re

import pytest

from sentrix.registry import losses as registry

GROUP_C = {
    "margin_mse": "MarginMSELoss",
    "mse": "MSELoss",
    "embed_distill": "EmbedDistillLoss",
    "distill_kl_div": "DistillKLDivLoss",
    "adaptive_layer": "AdaptiveLayerLoss",
    "matryoshka_2d": "Matryoshka2dLoss",
    "global_orthogonal_regularization": "GlobalOrthogonalRegularizationLoss",
    "contrastive_tension": "ContrastiveTensionLoss",
    "contrastive_tension_in_batch_negatives": "ContrastiveTensionLossInBatchNegatives",
    "denoising_auto_encoder": "DenoisingAutoEncoderLoss",
}

SECTIONS = ["Inputs:", "Sampler:", "Args:", "Example:", "References:"]


@pytest.mark.parametrize("name,alias", sorted(GROUP_C.items()))
def test_registered_under_both_names(name, alias):
    assert registry.get(name) is registry.get(alias)
    assert registry.get(name).__name__ == alias


@pytest.mark.parametrize("name", sorted(GROUP_C))
def test_docstring_layout(name):
    cls = registry.get(name)
    doc = inspect.getdoc(cls)
    lines = doc.splitlines()
    assert lines[0].endswith("."), "one-line summary ending with a period"
    headers = [line for line in lines if line.strip() in SECTIONS + ["Metrics:"] and not line.startswith(" ")]
    assert headers == SECTIONS, f"sections {headers}"
    args = doc.split("\nArgs:\n", 1)[1].split("\nExample:\n", 1)[0]
    documented = set(re.findall(r"^    (\w+):", args, flags=re.M))
    parameters = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert set(parameters) <= documented, f"undocumented: {set(parameters) - documented}"
    assert "sentence_transformers" not in doc


@pytest.mark.parametrize("name", sorted(GROUP_C))
def test_plugins_show_prints_data_needs(name):
    from sentrix.cli.plugins_cmd import describe

    text = describe(registry.info(name))
    needs = registry.get(name).data_needs.describe()
    assert f"data needs: {needs}" in text


def test_teacher_label_shapes_are_described():
    assert "teacher embeddings" in registry.get("mse").data_needs.describe()
    assert "(batch, n_docs)" in registry.get("distill_kl_div").data_needs.describe()
    assert "raw teacher scores" in registry.get("margin_mse").data_needs.describe()


@pytest.mark.parametrize("helper", ["ContrastiveTensionDataLoader", "DenoisingAutoEncoderDataset"])
def test_data_helpers_are_companions(helper):
    import sentrix.losses

    obj = getattr(sentrix.losses, helper)
    assert obj.__module__.startswith("sentrix_builtins.losses.")
    doc = inspect.getdoc(obj)
    assert "Args:" in doc and "Example:" in doc
