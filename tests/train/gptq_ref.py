#!/usr/bin/python3
"""NumPy reference for bnc's GPTQ (llm/gptq.c): the fixture of train_gptq.

Writes into DIR, as raw little-endian arrays:
  W.f64 (ROWS x COLS), H.f64 (COLS x COLS, 2/N X^T X of the calibration
  inputs), Xtest.f64 (N x COLS, held-out inputs of the same distribution),
  and for each scheme S in q4_0, q8_0, tq2_0, bitnet: S.codes.i32 (ROWS x
  COLS) and S.q.f64 (the dequantized weights) computed here by GPTQ with
  ggml's quantization rules; meta.txt holds ROWS COLS N.

The inputs look like a transformer layer's: correlated features (a random
mixing with a decaying spectrum) and a few outlier channels ten times
larger. The algorithm is written from the GPTQ paper (Frantar et al. 2022,
Algorithm 1 with lazy batch updates), independently of the C code.
"""
import math
import sys

import numpy as np

ROWS, COLS, N = 24, 256, 768
DAMP, BLOCK = 0.01, 128


def f16r(x):
    return float(np.float16(np.float32(x)))


def round_away(x):
    return math.copysign(math.floor(abs(x) + 0.5), x)


GROUP = {'q4_0': 32, 'q8_0': 32, 'tq2_0': 256, 'bitnet': 0}


def group_scale(s, g):
    amax, m = 0.0, 0.0
    for v in g:
        if abs(v) > amax:
            amax, m = abs(v), v
    d = m / -8.0 if s == 'q4_0' else amax / 127.0 if s == 'q8_0' else amax
    return f16r(d), (1.0 / d if d != 0 else 0.0)


def quant1(s, x, dq, inv):
    if s == 'q4_0':
        c = min(15, max(0, int(math.trunc(x * inv + 8.5))))
        return c, (c - 8) * dq
    t = round_away(x * inv)
    lim = 127 if s == 'q8_0' else 1
    c = int(min(lim, max(-lim, t)))
    return c, c * dq


def gptq(s, W, H):
    W = W.copy()
    H = H.copy()
    rows, n = W.shape
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += DAMP * np.mean(np.diag(H)) * np.eye(n)
    L = np.linalg.cholesky(H)
    Li = np.linalg.inv(L)
    U = np.linalg.cholesky(Li.T @ Li).T
    codes = np.zeros((rows, n), dtype=np.int32)
    G = GROUP[s]
    dq = np.zeros(rows)
    inv = np.zeros(rows)
    if s == 'bitnet':
        g = f16r(np.mean(np.abs(W)))
        dq[:] = g
        inv[:] = 1.0 / g if g > 0 else 0.0
    for i1 in range(0, n, BLOCK):
        i2 = min(i1 + BLOCK, n)
        E = np.zeros((rows, i2 - i1))
        for i in range(i1, i2):
            if G and i % G == 0:
                for r in range(rows):
                    dq[r], inv[r] = group_scale(s, W[r, i:i + G])
            for r in range(rows):
                c, v = quant1(s, W[r, i], dq[r], inv[r])
                codes[r, i] = c
                e = (W[r, i] - v) / U[i, i]
                W[r, i] = v
                E[r, i - i1] = e
            W[:, i + 1:i2] -= np.outer(E[:, i - i1], U[i, i + 1:i2])
        W[:, i2:] -= E @ U[i1:i2, i2:]
    return codes, W


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261202)
    spectrum = 1.0 / np.sqrt(1.0 + np.arange(COLS))
    A = rng.standard_normal((COLS, COLS)) * spectrum[:, None]
    scale = np.ones(COLS)
    scale[rng.choice(COLS, 6, replace=False)] = 10.0

    def inputs(k):
        return (rng.standard_normal((k, COLS)) @ A) * scale

    X = inputs(N)
    Xtest = inputs(N)
    W = (rng.standard_normal((ROWS, COLS)) * 0.05).astype(np.float32).astype(np.float64)
    H = 2.0 / N * (X.T @ X)
    W.tofile(out + '/W.f64')
    H.tofile(out + '/H.f64')
    Xtest.tofile(out + '/Xtest.f64')
    for s in GROUP:
        codes, Q = gptq(s, W, H)
        codes.tofile(out + '/%s.codes.i32' % s)
        Q.tofile(out + '/%s.q.f64' % s)
    with open(out + '/meta.txt', 'w') as f:
        f.write('%d %d %d\n' % (ROWS, COLS, N))


if __name__ == '__main__':
    main()
