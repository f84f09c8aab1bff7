"""Closure Lite model: shapes, masks, losses, padding, gradients, masking and a tiny overfit run."""

import pytest

torch = pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the 'ml' extra is not installed")

from closure_lite_helpers import pad_batch, synth_pages, tiny_batch, tiny_model  # noqa: E402
from comics_analysis.modeling.closure_lite import (  # noqa: E402
    LOSS_NAMES,
    VARIANTS,
    ClosureLiteConfig,
    decode_reading_order,
)
from comics_analysis.modeling.closure_lite.losses_closure_lite import (  # noqa: E402
    image_text_loss,
    info_nce,
    panel_page_loss,
    reading_order_loss,
    reading_order_targets,
    select_masked,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tests run two at a time (xdist) on small machines
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pages():
    return synth_pages(range(4))


def _run(model, batch, seed=0, **kwargs):
    torch.manual_seed(seed)
    return model(**batch, **kwargs)


def test_variants_map_to_loss_switches():
    for name, switches in VARIANTS.items():
        config = ClosureLiteConfig.from_preset("tiny", variant=name)
        assert config.loss_masked_panel == switches["loss_masked_panel"]
        assert config.loss_denoise == switches["loss_denoise"]
    assert ClosureLiteConfig.from_preset("tiny", variant="context").enabled_losses == (
        "reading_order",
        "masked_panel",
        "image_text",
        "query",
        "panel_page",
        "page",
    )
    explicit = ClosureLiteConfig.from_preset("tiny", variant="context", loss_masked_panel=False)
    assert not explicit.loss_masked_panel
    with pytest.raises(ValueError, match="unknown variant"):
        ClosureLiteConfig(variant="closure")
    with pytest.raises(ValueError, match="unknown losses"):
        ClosureLiteConfig.from_preset("tiny", loss_weights={"contrast": 1.0})


def test_output_shapes_and_masks(pages):
    model = tiny_model(variant="context-denoise").eval()
    batch = tiny_batch(model.config, pages)
    batch["text_mask"][0, 1] = False  # a panel without lettered text
    batch["attention_mask"][0, 1] = 0
    b, p = batch["panel_mask"].shape
    d = model.config.embed_dim
    out = model(**batch, output_attentions=True)
    valid = batch["panel_mask"]
    assert out.panel_embeddings.shape == (b, p, d)
    assert out.page_embeddings.shape == (b, d)
    assert out.reading_order_logits.shape == (b, p + 1, p + 1)
    assert out.pooling_weights.shape == (b, p)
    assert len(out.attentions) == model.config.context_layers and out.attentions[0].shape == (b, p, p)
    norms = out.panel_embeddings.norm(dim=-1)
    assert torch.allclose(norms[valid], torch.ones_like(norms[valid]), atol=1e-5)
    assert torch.all(norms[~valid] == 0)
    assert torch.allclose(out.page_embeddings.norm(dim=-1), torch.ones(b), atol=1e-5)
    assert torch.all(out.text_embeds[0, 1] == 0) and out.text_embeds[0, 0].norm() > 0.99
    assert torch.all(out.vision_embeds[~valid] == 0) and torch.all(out.layout_embeds[~valid] == 0)
    assert torch.allclose(out.pooling_weights.sum(-1), torch.ones(b), atol=1e-5)
    assert torch.all(out.pooling_weights[~valid] == 0)
    assert out.loss is None and out.losses is None  # eval mode: no losses unless asked for


def test_every_enabled_loss_is_finite_and_weighted(pages):
    weights = {"reading_order": 2.0, "page": 0.5}
    model = tiny_model(variant="context-denoise", loss_weights=weights).train()
    out = _run(model, tiny_batch(model.config, pages))
    assert set(out.losses) == set(LOSS_NAMES)
    for name, value in out.losses.items():
        assert torch.isfinite(value) and value > 0, name
    expected = sum(model.config.loss_weights[name] * value for name, value in out.losses.items())
    assert torch.allclose(out.loss, expected)
    base = tiny_model(variant="base").train()
    assert set(_run(base, tiny_batch(base.config, pages)).losses) == {
        "reading_order",
        "image_text",
        "query",
        "panel_page",
        "page",
    }
    nothing = tiny_model(**{f"loss_{name}": False for name in LOSS_NAMES})
    assert nothing.train()(**tiny_batch(nothing.config, pages)).losses == {}


def test_each_loss_term_is_in_the_output_and_a_pure_function_of_tensors(pages):
    model = tiny_model(variant="context-denoise").train()
    batch = tiny_batch(model.config, pages)
    out = _run(model, batch)
    for name in LOSS_NAMES:  # each term as transformers outputs carry them: <name>_loss, not detached
        term = getattr(out, f"{name}_loss")
        assert term.requires_grad and torch.equal(term.detach(), out.losses[name]), name
    valid = out.panel_mask
    tau = model.config.contrastive_temperature
    # recomputed from the output tensors alone, the terms that need no second pass agree exactly
    assert torch.equal(
        reading_order_loss(out.reading_order_logits, batch["order"], valid), out.reading_order_loss
    )
    assert torch.equal(
        panel_page_loss(out.panel_embeddings, out.page_embeddings, valid, tau), out.panel_page_loss
    )
    base = tiny_model(variant="base").eval()
    out = base(**batch, return_loss=True)
    assert out.masked_panel_loss is None and out.denoise_loss is None
    both = valid & batch["text_mask"]
    expected = image_text_loss(out.vision_embeds, out.text_embeds, both, both, batch["input_ids"], tau)
    assert torch.allclose(expected, out.image_text_loss, atol=1e-6)  # normalised input: same loss
    with pytest.raises(ValueError, match="order"):
        reading_order_loss(out.reading_order_logits, None, valid)


def test_info_nce_and_panel_page_loss_by_hand():
    query = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # row 0: logits (1, 0, -1) / 0.5 = (2, 0, -2), positive 0
    expected_0 = -torch.log(torch.exp(torch.tensor(2.0)) / (torch.exp(torch.tensor([2.0, 0.0, -2.0])).sum()))
    # row 1: logits (0, 1, 0) / 0.5 = (0, 2, 0), positive 2; key 1 excluded -> (0, -inf, 0)
    exclude = torch.tensor([[False, False, False], [False, True, False]])
    expected_1 = torch.log(torch.tensor(2.0))
    got = info_nce(query, keys, torch.tensor([0, 2]), 0.5, exclude)
    assert torch.allclose(got, (expected_0 + expected_1) / 2)
    # two pages, one panel each, equal to their page: each panel picks its page
    panels = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    pages_ = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mask = torch.ones(2, 1, dtype=torch.bool)
    loss = panel_page_loss(panels, pages_, mask, 1.0)
    assert torch.allclose(loss, -torch.log(torch.exp(torch.tensor(1.0)) / (torch.exp(torch.tensor(1.0)) + 1)))
    assert panel_page_loss(panels[:1], pages_[:1], mask[:1], 1.0) == 0  # one page: nothing to contrast


def test_padding_never_enters_outputs_or_losses(pages):
    model = tiny_model(variant="context-denoise").train()
    batch = tiny_batch(model.config, pages)
    assert not batch["panel_mask"].all(), "the fixture should have pages of different panel counts"
    padded = pad_batch(batch, extra=3)
    a, b = _run(model, batch), _run(model, padded)
    for name in a.losses:
        assert torch.allclose(a.losses[name], b.losses[name], atol=1e-5), name
    p = batch["panel_mask"].shape[1]
    valid = batch["panel_mask"]
    assert torch.allclose(a.panel_embeddings, b.panel_embeddings[:, :p], atol=1e-5)
    assert torch.all(b.panel_embeddings[:, p:] == 0)
    assert torch.allclose(a.page_embeddings, b.page_embeddings, atol=1e-5)
    assert torch.equal(a.masked_positions, b.masked_positions[:, :p])
    # reading-order scores between real panels, and of START / END, are unchanged
    rows = torch.cat([torch.arange(p), torch.tensor([p + 3])])
    cols = rows
    big = b.reading_order_logits[:, rows][:, :, cols]
    real = torch.cat([valid, torch.ones(valid.shape[0], 1, dtype=torch.bool)], dim=1)
    pair = real.unsqueeze(2) & real.unsqueeze(1)
    assert torch.allclose(a.reading_order_logits[pair], big[pair], atol=1e-5)


def test_gradient_reaches_every_parameter(pages):
    model = tiny_model(variant="context-denoise").train()
    out = _run(model, tiny_batch(model.config, pages))
    out.loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert dead == []  # every branch learns (and DDP needs no find_unused_parameters)
    for branch in ("vision_tower", "text_tower", "layout_proj", "fusion", "context", "pool", "order_head"):
        grads = [p.grad.abs().sum() for n, p in model.named_parameters() if n.startswith(branch)]
        assert grads and sum(grads) > 0, branch


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_each_loss_alone_trains_both_towers(pages, loss):
    switches = {f"loss_{name}": name == loss for name in LOSS_NAMES}
    model = tiny_model(**switches).train()
    out = _run(model, tiny_batch(model.config, pages))
    assert set(out.losses) == {loss}
    out.loss.backward()
    for tower in (model.vision_tower, model.text_tower):
        assert any(p.grad is not None and torch.any(p.grad != 0) for p in tower.parameters()), loss


def test_masked_panel_inputs_are_really_removed(pages):
    model = tiny_model(variant="context").train()
    batch = tiny_batch(model.config, pages)
    masked = torch.zeros_like(batch["panel_mask"])
    masked[1, 1] = True
    out = _run(model, batch, masked_positions=masked)
    assert out.masked_positions[1, 1] and out.masked_positions.sum() == 1

    changed = {k: v.clone() for k, v in batch.items()}
    changed["pixel_values"][1, 1] = torch.randn_like(changed["pixel_values"][1, 1]) * 3
    changed["input_ids"][1, 1, 1:5] = torch.tensor([20, 21, 22, 23])
    again = _run(model, changed, masked_positions=masked)
    assert torch.equal(out.masked_predictions, again.masked_predictions)
    # not vacuous: the same change to a visible panel of that page moves the prediction
    other = {k: v.clone() for k, v in batch.items()}
    other["pixel_values"][1, 0] = changed["pixel_values"][1, 1]
    moved = _run(model, other, masked_positions=masked)
    assert not torch.allclose(out.masked_predictions[1, 1], moved.masked_predictions[1, 1])
    # and the clean pass does see the masked panel's content (it is removed only from the task)
    assert not torch.allclose(out.panel_embeddings[1, 1], again.panel_embeddings[1, 1])


def test_panel_without_text_ignores_token_ids_and_differs_from_empty_string(pages):
    model = tiny_model().eval()
    batch = tiny_batch(model.config, pages)
    none = {k: v.clone() for k, v in batch.items()}
    none["text_mask"][0, 0] = False
    garbage = {k: v.clone() for k, v in none.items()}
    garbage["input_ids"][0, 0] = torch.randint(5, 40, garbage["input_ids"][0, 0].shape)
    empty = {k: v.clone() for k, v in batch.items()}
    empty["input_ids"][0, 0] = 0
    empty["input_ids"][0, 0, :2] = torch.tensor([2, 3])  # [CLS] [SEP]: the empty string
    empty["attention_mask"][0, 0] = 0
    empty["attention_mask"][0, 0, :2] = 1
    a, b, c = model(**none), model(**garbage), model(**empty)
    assert torch.equal(a.panel_embeddings, b.panel_embeddings)
    assert not torch.allclose(a.panel_embeddings[0, 0], c.panel_embeddings[0, 0], atol=1e-4)


def test_input_order_is_invisible_to_the_model(pages):
    model = tiny_model().eval()
    batch = tiny_batch(model.config, pages)
    n = int(batch["panel_mask"][1].sum())
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    shuffled = {k: v.clone() for k, v in batch.items()}
    for key in shuffled:
        shuffled[key][1, :n] = batch[key][1, perm]
    a, b = model(**batch), model(**shuffled)
    assert torch.allclose(a.panel_embeddings[1, perm], b.panel_embeddings[1, :n], atol=1e-5)
    assert torch.allclose(a.page_embeddings, b.page_embeddings, atol=1e-5)
    first = decode_reading_order(a.reading_order_logits, a.panel_mask)[1]
    second = decode_reading_order(b.reading_order_logits, b.panel_mask)[1]
    assert [int(perm[i]) for i in second] == first


def test_reading_order_targets_by_hand():
    order = torch.tensor([[0, 2, 1, -100], [1, 0, -100, -100]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    # page 0: 0 -> 2 -> 1 -> END(4); START -> 0.  page 1: 1 -> 0 -> END; START -> 1
    assert reading_order_targets(order, mask).tolist() == [[2, 4, 1, -100, 0], [4, 0, -100, -100, 1]]


def test_select_masked_keeps_context():
    valid = torch.tensor([[True, True, True, True], [True, False, False, False], [True, True, False, False]])
    for seed in range(20):
        u = torch.rand(valid.shape, generator=torch.Generator().manual_seed(seed))
        for ratio in (0.0, 0.25, 1.0):
            chosen = select_masked(u, valid, ratio)
            assert not torch.any(chosen & ~valid)
            assert chosen[0].sum() >= 1 and chosen[0].sum() < 4
            assert chosen[1].sum() == 0  # a lone panel has no context to be predicted from
            assert chosen[2].sum() == 1


def test_decode_reading_order_greedy():
    logits = torch.full((1, 4, 4), -10.0)
    logits[0, 3, 2] = 5  # START -> 2
    logits[0, 2, 0] = 5  # 2 -> 0
    logits[0, 0, 0] = 9  # a visited panel is never chosen again
    logits[0, 0, 1] = 4
    assert decode_reading_order(logits, torch.tensor([[True, True, True]])) == [[2, 0, 1]]


def test_queries_land_in_the_panel_space(pages):
    model = tiny_model().eval()
    batch = tiny_batch(model.config, pages)
    text = model.embed_text(batch["input_ids"][0, :2], batch["attention_mask"][0, :2])
    image = model.embed_image(batch["pixel_values"][0, :2])
    d = model.config.embed_dim
    assert text.shape == (2, d) and image.shape == (2, d)
    assert torch.allclose(text.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(model.embed_pages(**batch), model(**batch).page_embeddings)


def test_overfit_tiny_model_every_loss_falls(pages):
    """A handful of synthetic pages, every loss of context-denoise: each falls within ~40 steps."""
    model = tiny_model(variant="context-denoise")
    batch = tiny_batch(model.config, pages)
    masked = select_masked(torch.rand(batch["panel_mask"].shape), batch["panel_mask"], 0.25)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    history = []
    torch.manual_seed(0)
    for _ in range(40):
        out = model(**batch, masked_positions=masked)
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        history.append({k: float(v) for k, v in out.losses.items()})
    for name in LOSS_NAMES:
        start = sum(h[name] for h in history[:4]) / 4
        end = sum(h[name] for h in history[-4:]) / 4
        assert end < 0.7 * start, f"{name}: {start:.3f} -> {end:.3f}"


def test_without_layout_the_model_ignores_geometry(pages):
    """The position ablation: use_layout=False must not see boxes anywhere (fusion, pooling,
    reading-order head)."""
    model = tiny_model(use_layout=False).eval()
    assert model.layout_proj is None and model.order_head.pair is None and model.pool.position is None
    batch = tiny_batch(model.config, pages)
    moved = {k: v.clone() for k, v in batch.items()}
    moved["layout"] = torch.rand_like(moved["layout"])
    a, b = model(**batch), model(**moved)
    assert torch.equal(a.panel_embeddings, b.panel_embeddings)
    assert torch.equal(a.reading_order_logits, b.reading_order_logits)
    assert a.layout_embeds is None
    with_layout = tiny_model().eval()
    assert not torch.allclose(with_layout(**batch).panel_embeddings, with_layout(**moved).panel_embeddings)


def test_pretrained_towers_load_without_a_load_report(capfd):
    """The lite preset's towers load from their offline packages without transformers' LOAD
    REPORT (the checkpoint's pooler is dropped on purpose: that is no news to a user), and the
    verbosity of transformers is the same afterwards."""
    from transformers.utils import logging as hf_logging

    from comics_analysis.modeling.closure_lite import ClosureLiteConfig, ClosureLiteModel

    before = hf_logging.get_verbosity()
    model = ClosureLiteModel.from_backbones(ClosureLiteConfig.from_preset("lite"))
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "UNEXPECTED" not in err
    assert hf_logging.get_verbosity() == before
    assert not hasattr(model.text_tower, "pooler") or model.text_tower.pooler is None
