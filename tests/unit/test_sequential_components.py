"""Sequence components and augmentations: shapes, masks (causality, padding), gradients, seeding."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recutils.models.sequential import augment  # noqa: E402
from recutils.nn.components.registry import check_layer_params, component_class  # noqa: E402
from recutils.nn.components.sequence import (  # noqa: E402
    CaserConv,
    GRUEncoder,
    NextItNetEncoder,
    SequenceEmbedding,
    TransformerEncoder,
    UserInjection,
    stochastic_shared_embedding,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _seq():
    return torch.tensor([[0, 0, 3, 4, 5], [0, 0, 0, 0, 2], [1, 2, 3, 4, 5]])


def test_sequence_embedding_masks_padding_and_counts_positions_from_the_end():
    emb = SequenceEmbedding(n_tokens=8, dim=4, max_len=5).eval()
    x, mask = emb(_seq())
    assert x.shape == (3, 5, 4)
    assert mask.tolist()[1] == [False, False, False, False, True]
    assert torch.all(x[~mask] == 0)
    # the latest item always sits at the last position embedding, whatever the padding
    short, _ = emb(torch.tensor([[4, 5]]))
    assert torch.allclose(short[0], x[0, 3:])
    with pytest.raises(ValueError):
        emb(torch.zeros(2, 6, dtype=torch.long))


@pytest.mark.parametrize(
    "encoder",
    [
        TransformerEncoder(4, num_layers=2, num_heads=2, dropout=0.0, causal=True),
        GRUEncoder(4, hidden_dim=4),
        CaserConv(4, window=2, n_h=3, n_v=2, dropout=0.0),
        NextItNetEncoder(4, dilations=[1, 2]),
    ],
    ids=["transformer", "gru", "caser", "nextitnet"],
)
def test_causal_encoders_never_read_later_positions(encoder):
    encoder.eval()
    emb = SequenceEmbedding(8, 4, 5).eval()
    x, mask = emb(_seq())
    out = encoder(x, mask)
    assert out.shape[:2] == (3, 5) and torch.isfinite(out).all()
    changed = x.clone()
    changed[:, -1] += torch.randn(changed.shape[0], changed.shape[2])  # change the latest item only
    out2 = encoder(changed, mask)
    torch.testing.assert_close(out[:, :-1], out2[:, :-1])
    assert not torch.allclose(out[:, -1], out2[:, -1])


def test_transformer_ignores_padded_keys_and_bidirectional_reads_both_sides():
    enc = TransformerEncoder(4, num_layers=1, num_heads=1, dropout=0.0, causal=False).eval()
    x = torch.randn(1, 5, 4)
    mask = torch.tensor([[False, False, True, True, True]])
    out = enc(x, mask)
    noisy = x.clone()
    noisy[0, :2] = torch.randn(2, 4) * 10  # padded positions: any content
    torch.testing.assert_close(enc(noisy, mask)[0, 2:], out[0, 2:])
    later = x.clone()
    later[0, -1] += torch.randn(4)
    assert not torch.allclose(enc(later, mask)[0, 2], out[0, 2])  # position 2 sees position 4


def test_gradients_reach_every_parameter():
    emb = SequenceEmbedding(8, 4, 5, dropout=0.1)
    for enc in (
        TransformerEncoder(4, 1, 1, dropout=0.1),
        GRUEncoder(4, 6),
        CaserConv(4, 3, 2, 2),
        NextItNetEncoder(4, [1, 2]),
    ):
        x, mask = emb(_seq())
        enc(x, mask).sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())


def test_caser_images_are_the_windows_before_each_position():
    conv = CaserConv(2, window=3, n_h=1, n_v=1)
    x = torch.arange(10, dtype=torch.float32).view(1, 5, 2)
    img = conv.images(x).view(5, 3, 2)
    assert img[0].tolist() == [[0, 0], [0, 0], [0, 1]]
    assert img[4].tolist() == [[4, 5], [6, 7], [8, 9]]


def _caser_by_images(conv, x):
    """Caser's definition: every filter convolved over each position's image."""
    b, length, _ = x.shape
    img = conv.images(x)
    out_v = conv.vertical(img).reshape(img.shape[0], -1)
    pooled = [conv.act(h(img).squeeze(3)).amax(dim=2) for h in conv.horizontal]
    z = torch.cat([out_v, *pooled], dim=1)
    return conv.act(conv.fc(conv.dropout(z))).reshape(b, length, -1)


@pytest.mark.parametrize("window,activation", [(1, "relu"), (3, "tanh"), (5, "relu")])
def test_caser_along_the_sequence_equals_convolving_every_image(window, activation):
    conv = CaserConv(6, window=window, n_h=4, n_v=3, dropout=0.0, activation=activation)
    x = torch.randn(3, 7, 6, dtype=torch.float64, requires_grad=True)
    conv = conv.double()
    out = conv(x)
    ref = _caser_by_images(conv, x)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    grads = torch.autograd.grad((out * g).sum(), [x, *conv.parameters()])
    ref_grads = torch.autograd.grad((ref * g).sum(), [x, *conv.parameters()])
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want)


def test_user_injection_and_sse():
    inj = UserInjection(n_users=3, user_dim=2)
    out = inj(torch.zeros(2, 4, 5), torch.tensor([1, -1]))
    assert out.shape == (2, 4, 7)
    torch.testing.assert_close(out[0, 0, 5:], inj.users.weight[1])
    torch.testing.assert_close(out[1, 0, 5:], inj.users.weight.mean(0))  # unknown user: the mean
    ids = torch.arange(1, 10001)
    swapped = stochastic_shared_embedding(ids, 0.3, 1, 50)
    assert 0.25 < (swapped != ids).float().mean() < 0.32
    keep = ids % 2 == 0
    assert torch.equal(stochastic_shared_embedding(ids, 0.9, 1, 50, keep=keep)[keep], ids[keep])
    assert stochastic_shared_embedding(ids, 0.0, 1, 50) is ids


def test_registered_encoders_build_from_their_params():
    for name in ("TransformerEncoder", "GRUEncoder", "CaserConv", "NextItNetEncoder"):
        params = check_layer_params(name, {})
        module = component_class(name)(input_dim=8, **params.to_dict())
        assert module(torch.randn(2, 5, 8)).shape[:2] == (2, 5)
    from recutils.exceptions import ConfigError

    with pytest.raises(ConfigError, match="activation"):
        check_layer_params("TransformerEncoder", {"activation": "swish"})
    with pytest.raises(ConfigError):
        check_layer_params("NextItNetEncoder", {"dilations": [0]})


def _padded():
    return np.array([[0, 0, 0, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 0, 0, 3], [1, 2, 3, 4, 5, 6, 7, 8]])


def test_crop_keeps_a_contiguous_run_left_padded():
    out = augment.crop(_padded(), 0.6, np.random.default_rng(0))
    for row, src in zip(out, _padded()):
        items, original = row[row > 0], src[src > 0]
        assert len(items) == max(1, int(0.6 * len(original)))
        start = int(np.flatnonzero(original == items[0])[0])
        assert original[start : start + len(items)].tolist() == items.tolist()
        assert (row[: len(row) - len(items)] == 0).all()


def test_mask_and_reorder():
    rng = np.random.default_rng(1)
    masked = augment.mask(_padded(), 0.5, 99, rng)
    assert ((masked == 99) <= (_padded() > 0)).all()  # padding is never masked
    big = np.tile(np.arange(1, 101), (200, 1))
    assert 0.45 < (augment.mask(big, 0.5, 0, rng) == 0).mean() < 0.55
    shuffled = augment.reorder(big, 0.3, rng)
    assert (np.sort(shuffled, axis=1) == big).all()
    changed = shuffled != big
    assert changed.any()
    span = [np.ptp(np.flatnonzero(r)) + 1 for r in changed if r.any()]
    assert max(span) <= 30  # only a window of 30 items moves


def test_random_augment_is_seeded_and_checks_its_methods():
    from recutils.exceptions import ConfigError

    kw = dict(eta=0.6, gamma=0.3, beta=0.6, mask_token=99)
    a = augment.random_augment(
        _padded(), ["crop", "mask", "reorder"], np.random.default_rng(3), **kw
    )
    b = augment.random_augment(
        _padded(), ["crop", "mask", "reorder"], np.random.default_rng(3), **kw
    )
    assert (a == b).all()
    with pytest.raises(ConfigError):
        augment.random_augment(_padded(), ["rotate"], np.random.default_rng(3), **kw)
