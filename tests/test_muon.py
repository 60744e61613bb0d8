"""llmbook.muon: Newton-Schulz against the SVD, Muon against torch.optim.Muon, the split of a
GPT's parameters, and a tiny GPT that learns with it."""

import pytest
import torch

from llmbook.gpt import GPT, GPTConfig
from llmbook.muon import CUBIC, QUINTIC, Muon, make_optimizers, newton_schulz, set_lr_scale, \
    split_parameters


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SHAPES = [(32, 96), (96, 32), (60, 100), (48, 48)]


def _polar(G):
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    return U, Vh


@pytest.mark.parametrize("shape", SHAPES)
def test_quintic_newton_schulz_is_nearly_orthogonal(shape):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    O = newton_schulz(G)
    assert O.shape == G.shape and O.dtype == torch.float32
    U, Vh = _polar(G)
    cosine = (O * (U @ Vh)).sum() / (O.norm() * (U @ Vh).norm())
    assert cosine > 0.95
    # the same singular vectors: U^T O V is diagonal, its diagonal the new singular values
    core = U.T @ O @ Vh.T
    s = torch.diagonal(core)
    assert (core - torch.diag(s)).abs().max() < 1e-4
    big = torch.linalg.svdvals(G) > 0.0015 * G.norm()  # those the quintic has pushed up
    assert s[big].min() > 0.5 and s.max() < 1.5
    assert s[big].min() > 0.67 and s.max() < 1.21          # the measured band


def test_the_quintic_maps_each_singular_value_by_its_polynomial():
    gen = torch.Generator().manual_seed(1)
    U, _ = torch.linalg.qr(torch.randn(20, 20, generator=gen))
    V, _ = torch.linalg.qr(torch.randn(30, 20, generator=gen))
    sigma = torch.linspace(0.05, 1.0, 20)
    G = U @ torch.diag(sigma) @ V.T
    x = sigma / sigma.norm()                         # what X_0 = G / ||G||_F holds
    a, b, c = QUINTIC
    for _ in range(5):
        x = a * x + b * x ** 3 + c * x ** 5
    assert torch.allclose(newton_schulz(G), U @ torch.diag(x) @ V.T, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_the_cubic_iteration_converges_to_u_vt(shape):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    U, Vh = _polar(G)
    assert (newton_schulz(G, 40, CUBIC) - U @ Vh).abs().max() < 1e-5
    # but slowly: after 5 steps the cubic's smallest singular value lags the quintic's
    cubic5 = torch.linalg.svdvals(newton_schulz(G, 5, CUBIC)).min()
    assert cubic5 < 0.6 < 0.67 < torch.linalg.svdvals(newton_schulz(G, 5)).min()


def test_bfloat16_iteration_and_bad_inputs():
    G = torch.randn(16, 24)
    O = newton_schulz(G, dtype=torch.bfloat16)
    assert O.dtype == torch.bfloat16 and (O.float() - newton_schulz(G)).abs().max() < 0.05
    with pytest.raises(ValueError, match="2-D"):
        newton_schulz(torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="steps"):
        newton_schulz(G, 0)
    with pytest.raises(ValueError, match="coefficients"):
        newton_schulz(G, 5, (1.0, 2.0))


@pytest.mark.parametrize("shape, nesterov", [((24, 40), True), ((40, 24), True),
                                             ((40, 24), False)])
def test_muon_steps_like_torch_optim_muon(shape, nesterov):
    gen = torch.Generator().manual_seed(3)
    W0 = torch.randn(*shape, generator=gen)
    ours, theirs = torch.nn.Parameter(W0.clone()), torch.nn.Parameter(W0.clone())
    opt_ours = Muon([ours], lr=0.05, weight_decay=0.1, nesterov=nesterov)
    opt_theirs = torch.optim.Muon([theirs], lr=0.05, weight_decay=0.1, nesterov=nesterov)
    for _ in range(3):                          # momentum across steps
        g = torch.randn(*shape, generator=gen)
        ours.grad, theirs.grad = g.clone(), g.clone()
        opt_ours.step()
        opt_theirs.step()
    moved = (theirs - W0).abs().max()
    # torch's iteration runs in bfloat16: equal to a few per cent of the step
    assert (ours - theirs).abs().max() < 0.05 * moved


def test_muon_rejects_bad_arguments():
    w = torch.nn.Parameter(torch.randn(4, 4))
    for kwargs, match in (({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"),
                          ({"lr": float("nan")}, "lr"), ({"momentum": 1.0}, "momentum"),
                          ({"momentum": -0.1}, "momentum"), ({"weight_decay": -1.0}, "decay"),
                          ({"ns_steps": 0}, "ns_steps")):
        with pytest.raises(ValueError, match=match):
            Muon([w], **kwargs)
    with pytest.raises(ValueError, match="2-D"):
        Muon([w, torch.nn.Parameter(torch.randn(4))])
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.nn.Parameter(torch.randn(2, 3, 4))])


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16))


def test_split_parameters_of_the_gpt():
    model = _tiny_gpt()
    hidden, matrices, vectors = split_parameters(model)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in hidden) == sorted(
        n for n, p in model.h.named_parameters(prefix="h") if p.dim() == 2)
    assert sorted(names[id(p)] for p in matrices) == ["wpe.weight", "wte.weight"]   # tied head
    assert all(p.dim() == 1 for p in vectors)
    assert len(hidden) + len(matrices) + len(vectors) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="body"):
        split_parameters(torch.nn.Linear(3, 3))
    muon, adamw = make_optimizers(model, lr=0.03, adam_lr=1e-3, weight_decay=0.1)
    assert isinstance(muon, Muon) and isinstance(adamw, torch.optim.AdamW)
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.1, 0.0]
    set_lr_scale([muon, adamw], 0.5)
    assert muon.param_groups[0]["lr"] == pytest.approx(0.015)
    assert adamw.param_groups[0]["lr"] == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="adam_lr"):
        make_optimizers(model, adam_lr=0.0)


def test_a_tiny_gpt_learns_with_muon():
    model = _tiny_gpt()
    optimizers = make_optimizers(model, lr=0.02, adam_lr=3e-3)
    pattern = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 4)   # a sequence to learn
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(40):
        starts = torch.randint(0, 20, (8,), generator=gen)
        x = torch.stack([pattern[s:s + 16] for s in starts])
        y = torch.stack([pattern[s + 1:s + 17] for s in starts])
        _, loss = model(x, y)
        for opt in optimizers:
            opt.zero_grad()
        loss.backward()
        for opt in optimizers:
            opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
