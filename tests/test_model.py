import pytest
import torch

from transfer_laws.train.model import GPT, LADDER, GPTConfig, flops_per_token


def hand_count(d: int, n_layer: int) -> int:
    """Non-embedding parameters counted by hand, tensor by tensor."""
    attn = (d * 3 * d + 3 * d) + (d * d + d)  # qkv weight+bias, proj weight+bias
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)  # fc, out
    norms = 2 * (2 * d)  # two LayerNorms (weight+bias)
    return n_layer * (attn + mlp + norms) + 2 * d  # + final LayerNorm


@pytest.mark.parametrize("name", list(LADDER))
def test_ladder_counts(name):
    cfg = LADDER[name]
    n = hand_count(cfg.d_model, cfg.n_layer)
    assert cfg.n_params() == n == GPT(cfg).n_params()
    assert GPT(cfg).n_params(non_embedding=False) == n + cfg.vocab_size * cfg.d_model + cfg.n_ctx * cfg.d_model
    assert cfg.d_model // cfg.n_head == 16
    # the name says N to two significant figures
    scale = 1e6 if name.endswith("m") else 1e3
    assert abs(float(name[1:-1]) * scale - n) / n < 0.05


def test_ladder_spans_two_decades():
    ns = [c.n_params() for c in LADDER.values()]
    assert len(ns) >= 8 and ns == sorted(ns)
    assert ns[0] < 2e4 and ns[-1] > 2.5e6


def test_unknown_size():
    with pytest.raises(ValueError, match="unknown model size 'n7'"):
        GPTConfig.from_name("n7")


def test_forward_shapes_causal_and_tied():
    torch.manual_seed(0)
    cfg = GPTConfig(d_model=32, n_layer=1, n_head=2, vocab_size=50, n_ctx=16)
    m = GPT(cfg)
    x = torch.randint(0, 50, (2, 16))
    logits, loss = m(x, x)
    assert logits.shape == (2, 16, 50) and loss.item() > 0
    x2 = x.clone()
    x2[:, 10] = (x2[:, 10] + 1) % 50
    l2, _ = m(x2)
    assert torch.allclose(logits[:, :10], l2[:, :10], atol=1e-5), "no position sees the future"
    # tied: the output projection is the input embedding's weight, and there is no separate head
    h = m.ln_f(m.blocks[0](m.wte(x) + m.wpe(torch.arange(16))))
    assert torch.allclose(logits, h @ m.wte.weight.T, atol=1e-5), "the output projection is wte's weight"
    assert sum(p.numel() for p in m.parameters()) == cfg.n_params(non_embedding=False), "no untied output head"


def test_flops():
    cfg = LADDER["n100k"]
    f = flops_per_token(cfg)
    assert f["kaplan"] == 6 * cfg.n_params() and f["full"] > f["kaplan"]
