"""Independent NumPy implementations of the papers' equations, written from the formulas with
dense matrices and explicit loops; the layers are checked against these."""

import itertools

import numpy as np
from scipy.special import expit, log_softmax, logsumexp, softmax


# ----------------------------------------------------------------------------- attention
def attention(x, w, num_heads, score="dot", window=None, causal=False, mask=None):
    """Self-attention on one batch [B, T, F] with a full T x T relevance matrix per head.

    ``w`` holds the layer's weights by name. Returns (outputs [B,T,F'], weights [B,H,T,T]).
    """
    b, t, _ = x.shape
    mask = np.ones((b, t), bool) if mask is None else mask.astype(bool)
    q = np.einsum("btf,fhd->bthd", x, w["query_kernel"]) + w["query_bias"]
    k = np.einsum("btf,fhd->bthd", x, w["key_kernel"]) + w["key_bias"]
    v = np.einsum("btf,fhd->bthd", x, w["value_kernel"]) + w["value_bias"]
    out = np.zeros((b, t, w["output_kernel"].shape[-1]))
    weights = np.zeros((b, num_heads, t, t))
    for bi, h, i in itertools.product(range(b), range(num_heads), range(t)):
        if not mask[bi, i]:
            continue  # padded query: output stays zero
        rel = np.full(t, -np.inf)
        for j in range(t):
            if not mask[bi, j] or (window is not None and abs(i - j) > window) or (causal and j > i):
                continue
            if score == "dot":
                rel[j] = q[bi, i, h] @ k[bi, j, h] / np.sqrt(q.shape[-1])
            else:
                rel[j] = w["score_vector"][h] @ np.tanh(q[bi, i, h] + k[bi, j, h])
        a = softmax(rel)
        weights[bi, h, i] = a
        out[bi, i] += (a @ v[bi, :, h]) @ w["output_kernel"][h]
    out += mask[..., None] * w["output_bias"]
    return out, weights


def sinusoid(length, dim, max_wavelength=10000.0):
    pe = np.zeros((length, dim))
    for pos in range(length):
        for i in range(0, dim, 2):
            angle = pos / max_wavelength ** (i / dim)
            pe[pos, i] = np.sin(angle)
            if i + 1 < dim:
                pe[pos, i + 1] = np.cos(angle)
    return pe


# ----------------------------------------------------------------------------- peephole LSTM
def peephole_lstm(x, kernel, recurrent_kernel, bias, p_i, p_f, p_o, mask=None):
    """Gers et al. 2002, step by step. x [B, T, F] -> (h_seq [B, T, U], h_last, c_last).

    Masked steps keep the previous state and output it again (Keras' convention).
    """
    b, t, _ = x.shape
    u = recurrent_kernel.shape[0]
    mask = np.ones((b, t), bool) if mask is None else mask.astype(bool)
    wi, wf, wc, wo = np.split(kernel, 4, axis=1)
    ui, uf, uc, uo = np.split(recurrent_kernel, 4, axis=1)
    bi, bf, bc, bo = np.split(bias, 4)
    h, c = np.zeros((b, u)), np.zeros((b, u))
    outputs = np.zeros((b, t, u))
    for step in range(t):
        xt = x[:, step]
        i = expit(xt @ wi + h @ ui + p_i * c + bi)
        f = expit(xt @ wf + h @ uf + p_f * c + bf)
        c_new = f * c + i * np.tanh(xt @ wc + h @ uc + bc)
        o = expit(xt @ wo + h @ uo + p_o * c_new + bo)
        h_new = o * np.tanh(c_new)
        keep = mask[:, step : step + 1]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        outputs[:, step] = h
    return outputs, h, c


# ----------------------------------------------------------------------------- graphs
def adjacency(senders, receivers, n):
    """Dense A with A[r, s] = number of edges s -> r."""
    a = np.zeros((n, n))
    for s, r in zip(senders, receivers):
        a[r, s] += 1
    return a


def inv_sqrt(d):
    return np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)


def gin(x, a, eps, dense_layers):
    h = (1 + eps) * x + a @ x
    for i, (kernel, bias) in enumerate(dense_layers):
        h = h @ kernel + bias
        if i < len(dense_layers) - 1:
            h = np.maximum(h, 0)
    return h


def gat(x, a, kernel, att_self, att_nbr, bias, heads, concat=True, slope=0.2):
    n = x.shape[0]
    a = a.copy()
    np.fill_diagonal(a, 1.0)  # self-loops replaced by exactly one per node
    z = (x @ kernel).reshape(n, heads, -1)
    out = np.zeros_like(z)
    for h in range(heads):
        e = (z[:, h] @ att_self[h])[:, None] + (z[:, h] @ att_nbr[h])[None, :]  # e[r, s]
        e = np.where(e > 0, e, slope * e)
        weight = a * np.exp(e - e.max(axis=1, keepdims=True))
        alpha = weight / weight.sum(axis=1, keepdims=True)
        out[:, h] = alpha @ z[:, h]
    out = out.reshape(n, -1) if concat else out.mean(axis=1)
    return out + bias


def cheb(x, a, kernel, bias):
    d = inv_sqrt(a.sum(axis=1))
    lap = -d[:, None] * a * d[None, :]
    terms = [x, lap @ x]
    while len(terms) < kernel.shape[0]:
        terms.append(2 * lap @ terms[-1] - terms[-2])
    return sum(t @ w for t, w in zip(terms, kernel)) + bias


def gcn(x, a, kernel, bias):
    a_hat = a + np.eye(len(a))
    d = inv_sqrt(a_hat.sum(axis=1))
    return (d[:, None] * a_hat * d[None, :]) @ x @ kernel + bias


def sage(x, a, kernel_self, kernel_nbr, bias, aggregator):
    agg = np.zeros_like(x)
    for r in range(len(a)):
        senders = [s for s in range(len(a)) for _ in range(int(a[r, s]))]
        if senders:
            msgs = x[senders]
            agg[r] = {"sum": msgs.sum(0), "mean": msgs.mean(0), "max": msgs.max(0)}[aggregator]
    return x @ kernel_self + agg @ kernel_nbr + bias


def pool(x, graph_ids, num_graphs, mode):
    out = np.zeros((num_graphs, x.shape[1]))
    for g in range(num_graphs):
        rows = x[graph_ids == g]
        if len(rows):
            out[g] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode]
    return out


# ----------------------------------------------------------------------------- CTC
def ctc_nll(logits, labels, blank=0):
    """-log p(labels | logits [T, C]) by the CTC forward recursion (Graves et al. 2006)."""
    logp = log_softmax(logits, axis=-1)
    ext = [blank]
    for label in labels:
        ext += [label, blank]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = logp[0, blank]
    if len(ext) > 1:
        alpha[1] = logp[0, ext[1]]
    for t in range(1, len(logp)):
        new = np.full(len(ext), -np.inf)
        for s in range(len(ext)):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = logsumexp(terms) + logp[t, ext[s]]
        alpha = new
    return -logsumexp(alpha[-2:]) if len(ext) > 1 else -alpha[-1]


def collapse(path, blank=0):
    out, prev = [], None
    for p in path:
        if p != prev and p != blank:
            out.append(int(p))
        prev = p
    return out


def ctc_best_labelling(logits, blank=0):
    """The exact most probable labelling, by summing over every frame path (tiny inputs only)."""
    logp = log_softmax(logits, axis=-1)
    totals = {}
    for path in itertools.product(range(logits.shape[1]), repeat=len(logits)):
        key = tuple(collapse(path, blank))
        totals[key] = np.logaddexp(totals.get(key, -np.inf), logp[np.arange(len(path)), path].sum())
    return list(max(totals, key=totals.get))


def vtlp_warp(f, alpha, top, boundary):
    """Jaitly & Hinton's (2013) piecewise-linear frequency warp, as their equation states it."""
    cut = boundary * top * min(alpha, 1.0)
    return np.where(f <= cut / alpha, alpha * f, top - (top - cut) / (top - cut / alpha) * (top - f))


def vtlp(x, alphas, min_freq, max_freq, boundary=0.8):
    """Mel features ``x`` [B, T, bands] after VTLP by ``alphas``: band j takes the input's value
    (interpolated between bands) at the frequency the warp sends to the band's centre, the
    warp inverted numerically on a fine grid."""
    bands = x.shape[-1]
    mel = lambda hz: 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)  # noqa: E731
    centres_mel = np.linspace(mel(min_freq), mel(max_freq), bands + 2)[1:-1]
    centres = 700.0 * (10 ** (centres_mel / 2595.0) - 1.0)
    grid = np.linspace(0.0, max_freq, 200001)
    out = np.empty_like(x)
    for b, alpha in enumerate(alphas):
        warped = vtlp_warp(grid, alpha, max_freq, boundary)
        source = np.interp(centres, warped, grid)  # the frequency that lands on each centre
        position = np.interp(mel(source), centres_mel, np.arange(bands))
        for t in range(x.shape[1]):
            out[b, t] = np.interp(position, np.arange(bands), x[b, t])
    return out
