#!/usr/bin/python3
"""Independent NumPy reference for llm/'s forward pass (float64 throughout).

Reads the same files as the C code (its own small GGUF and safetensors
readers, its own q8_0/q4_0/tq2_0 dequantizers written from FORMATS.md) and
checks, for `bnc model synth` models in llama and BitNet layout and 3 seeds:
  * f32 weights: logits within 1e-4 relative (max |ours - ref| / max |ref|);
  * KV-cache path (one token per call) and 5-token calls equal the
    whole-chunk path bitwise; 1 and 2 threads equal bitwise;
  * quantized weights (q8_0, q4_0, tq2_0, written to GGUF by the C side):
    equal to this reference run on the dequantized weights *with the same
    per-token int8 absmax activation quantization* within
    max 1e-2 and rms 1e-3 relative (float32 vs float64 activations flip an
    int8 code at a rounding boundary now and then, about 1e-5 of the codes,
    and a flip propagates), an order of magnitude below the measured effect
    of the activation quantization itself (reference without it: 3-14% max);
  * a HF safetensors checkpoint (rotate-half RoPE, no permutation here) and
    the GGUF the C side converts from it give the same logits.
Usage: ref_forward.py BNC LLM_TOOL WORKDIR
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

BNC, TOOL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(WORK, exist_ok=True)
FAIL = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAIL.append(what)


# ---- GGUF ------------------------------------------------------------------

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}


def read_gguf(path):
    b = open(path, "rb").read()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from(fmt, b, off)
        off += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("<Q")
        s = b[off:off + n].decode("utf-8")
        off += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(SCALAR[t])

    assert b[:4] == b"GGUF"
    off = 4
    assert take("<I") == 3
    nt, nkv = take("<Q"), take("<Q")
    kv = {}
    for _ in range(nkv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(nt):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        typ, o = take("<I"), take("<Q")
        infos.append((name, ne, typ, o))
    align = kv.get("general.alignment", 32)
    data = (off + align - 1) // align * align
    ts = {}
    for name, ne, typ, o in infos:
        cols = ne[0]
        rows = int(np.prod(ne[1:])) if len(ne) > 1 else 1
        ts[name] = dequant(b, data + o, typ, rows, cols)
    return kv, ts


def f16(buf, off, n):
    return np.frombuffer(buf, dtype="<f2", count=n, offset=off).astype(np.float64)


def dequant(b, off, typ, rows, cols):
    n = rows * cols
    if typ == 0:
        return np.frombuffer(b, "<f4", n, off).astype(np.float64).reshape(rows, cols)
    if typ == 1:
        return f16(b, off, n).reshape(rows, cols)
    if typ == 8:  # q8_0: f16 d, 32 x int8
        nb = n // 32
        raw = np.frombuffer(b, np.uint8, nb * 34, off).reshape(nb, 34)
        d = raw[:, :2].copy().view("<f2").astype(np.float64)
        q = raw[:, 2:].copy().view(np.int8).astype(np.float64)
        return (q * d).reshape(rows, cols)
    if typ == 2:  # q4_0: f16 d, 16 bytes: low nibble j, high nibble j+16
        nb = n // 32
        raw = np.frombuffer(b, np.uint8, nb * 18, off).reshape(nb, 18)
        d = raw[:, :2].copy().view("<f2").astype(np.float64)
        qs = raw[:, 2:]
        q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float64) - 8
        return (q * d).reshape(rows, cols)
    if typ == 35:  # tq2_0: 64 bytes, f16 d; chunk c byte m: elements 128c+m+32k at bits 2k
        nb = n // 256
        raw = np.frombuffer(b, np.uint8, nb * 66, off).reshape(nb, 66)
        d = raw[:, 64:66].copy().view("<f2").astype(np.float64)
        out = np.zeros((nb, 256))
        for c in range(2):
            for k in range(4):
                codes = (raw[:, 32 * c:32 * c + 32] >> (2 * k)) & 3
                out[:, 128 * c + 32 * k:128 * c + 32 * k + 32] = codes.astype(np.float64) - 1
        return (out * d).reshape(rows, cols)
    raise ValueError("type %d" % typ)


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack_from("<Q", b, 0)[0]
    hdr = json.loads(b[8:8 + n])
    ts = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        assert v["dtype"] == "F32"
        a = np.frombuffer(b, "<f4", (e - s) // 4, 8 + n + s).astype(np.float64)
        ts[k] = a.reshape(v["shape"]) if len(v["shape"]) > 1 else a.reshape(1, -1)
    return ts


# ---- the model ---------------------------------------------------------------


def actq(x):
    """BitNet's per-token int8 absmax quantization (round half away from zero)."""
    m = np.abs(x).max(axis=-1, keepdims=True)
    d = m / 127.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(m > 0, x * (127.0 / np.where(m > 0, m, 1)), 0)
    q = np.clip(np.sign(q) * np.floor(np.abs(q) + 0.5), -127, 127)
    return q * d


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def forward(cfg, W, toks, hf=False, quantized=()):
    dim, L, nh, nkv = cfg["dim"], cfg["layers"], cfg["heads"], cfg["kv_heads"]
    hd, eps, base, bitnet = dim // nh, cfg["eps"], cfg["base"], cfg["bitnet"]
    n = len(toks)

    def lin(name, x):
        if name in quantized:
            x = actq(x)
        return x @ W[name].T

    def rope(x, heads):
        x = x.reshape(n, heads, hd).copy()
        pos = np.arange(n)[:, None]
        i = np.arange(hd // 2)[None, :]
        th = pos * base ** (-2.0 * i / hd)
        c, s = np.cos(th)[:, None, :], np.sin(th)[:, None, :]
        if hf:  # rotate_half: pairs (j, j + hd/2)
            a, b = x[..., :hd // 2].copy(), x[..., hd // 2:].copy()
            x[..., :hd // 2], x[..., hd // 2:] = a * c - b * s, a * s + b * c
        else:  # llama.cpp GGUF: adjacent pairs
            a, b = x[..., 0::2].copy(), x[..., 1::2].copy()
            x[..., 0::2], x[..., 1::2] = a * c - b * s, a * s + b * c
        return x

    x = W["token_embd.weight"][toks]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for l in range(L):
        p = "blk.%d." % l
        h = rms(x, W[p + "attn_norm.weight"], eps)
        q = rope(lin(p + "attn_q.weight", h), nh)
        k = rope(lin(p + "attn_k.weight", h), nkv)
        v = lin(p + "attn_v.weight", h).reshape(n, nkv, hd)
        g = nh // nkv
        out = np.zeros((n, nh, hd))
        for hh in range(nh):
            sc = q[:, hh, :] @ k[:, hh // g, :].T / np.sqrt(hd) + mask
            sc = np.exp(sc - sc.max(axis=1, keepdims=True))
            sc /= sc.sum(axis=1, keepdims=True)
            out[:, hh, :] = sc @ v[:, hh // g, :]
        out = out.reshape(n, dim)
        if bitnet:
            out = rms(out, W[p + "attn_sub_norm.weight"], eps)
        x = x + lin(p + "attn_output.weight", out)
        h = rms(x, W[p + "ffn_norm.weight"], eps)
        gt, up = lin(p + "ffn_gate.weight", h), lin(p + "ffn_up.weight", h)
        if bitnet:
            a = np.maximum(gt, 0) ** 2 * up
            a = rms(a, W[p + "ffn_sub_norm.weight"], eps)
        else:
            a = gt / (1 + np.exp(-gt)) * up
        x = x + lin(p + "ffn_down.weight", a)
    x = rms(x, W["output_norm.weight"], eps)
    head = "output.weight" if "output.weight" in W else "token_embd.weight"
    return lin(head, x)


def cfg_of(kv):
    a = kv["general.architecture"]
    dim = kv[a + ".embedding_length"]
    return {"dim": dim, "layers": kv[a + ".block_count"], "heads": kv[a + ".attention.head_count"],
            "kv_heads": kv[a + ".attention.head_count_kv"],
            "eps": kv[a + ".attention.layer_norm_rms_epsilon"], "base": kv[a + ".rope.freq_base"],
            "bitnet": a == "bitnet"}


def run_tool(model, out, *opts):
    r = subprocess.run([TOOL, model, out] + list(opts), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("llm_tool failed: " + r.stderr)
    info = json.loads(r.stdout)
    return np.fromfile(out, "<f4").astype(np.float64).reshape(info["n"], info["vocab"])


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def rms_rel(a, b):
    return float(np.sqrt(((a - b) ** 2).mean() / (b ** 2).mean()))


N = 16
toks_of = lambda V: [(i * 7919 + 13) % V for i in range(N)]
SH = ["--dim", "256", "--layers", "2", "--ff", "512", "--vocab", "384", "--kv-dim", "128"]

for arch in ["llama", "bitnet"]:
    for seed in [1, 2, 3]:
        tag = "%s seed %d" % (arch, seed)
        g = os.path.join(WORK, "%s-%d.gguf" % (arch, seed))
        subprocess.run([BNC, "model", "synth", g, "--arch", arch, "--seed", str(seed),
                        "--byte-vocab"] + SH, check=True, capture_output=True)
        kv, W = read_gguf(g)
        cfg = cfg_of(kv)
        V = W["token_embd.weight"].shape[0]
        ref = forward(cfg, W, toks_of(V))
        out = os.path.join(WORK, "out.bin")
        ours = run_tool(g, out)
        e = rel(ours, ref)
        check(e <= 1e-4, "%s f32: logits vs NumPy, max rel err %.2e <= 1e-4" % (tag, e))
        if seed == 1:
            for mode in ["kv", "split"]:
                o2 = run_tool(g, out, "--mode", mode)
                check(np.array_equal(o2, ours), "%s f32: %s path == whole chunk (bitwise)"
                      % (tag, mode))
            o2 = run_tool(g, out, "--threads", "2")
            check(np.array_equal(o2, ours), "%s f32: 2 threads == 1 thread (bitwise)" % tag)
        # quantized weights: the C side quantizes in memory and writes a GGUF we dequantize
        for scheme in (["q8_0", "q4_0", "tq2_0"] if seed == 1 else ["q4_0"]):
            qg = os.path.join(WORK, "%s-%d-%s.gguf" % (arch, seed, scheme))
            oq = run_tool(g, out, "--quant", scheme, "--write-gguf", qg)
            _, Wq = read_gguf(qg)
            quantized = {k for k in Wq if k.startswith("blk.") and Wq[k].shape[0] > 1}
            refq = forward(cfg, Wq, toks_of(V), quantized=quantized)
            refn = forward(cfg, Wq, toks_of(V))
            e, er = rel(oq, refq), rms_rel(oq, refq)
            check(e <= 1e-2 and er <= 1e-3, "%s %s: logits vs NumPy with int8 activations, max "
                  "rel err %.2e <= 1e-2, rms rel %.2e <= 1e-3" % (tag, scheme, e, er))
            print("     %s %s: effect of int8 activations: max rel %.3e, rms rel %.3e" %
                  (tag, scheme, rel(refq, refn), rms_rel(refq, refn)))
            if seed == 1 and scheme == "q4_0":
                for mode, th in [("kv", "1"), ("chunk", "2")]:
                    o2 = run_tool(g, out, "--quant", scheme, "--mode", mode, "--threads", th)
                    check(np.array_equal(o2, oq), "%s %s: %s path, %s threads == chunk, 1 "
                          "thread (bitwise)" % (tag, scheme, mode, th))

# HF safetensors (rotate-half order) against the GGUF the C side converts from it.
for arch in ["llama", "bitnet"]:
    d = os.path.join(WORK, "hf-" + arch)
    os.makedirs(d, exist_ok=True)
    st = os.path.join(d, "model.safetensors")
    subprocess.run([BNC, "model", "synth", st, "--arch", arch, "--seed", "7"] + SH, check=True,
                   capture_output=True)
    json.dump({"model_type": arch, "hidden_size": 256, "num_hidden_layers": 2,
               "intermediate_size": 512, "num_attention_heads": 4, "num_key_value_heads": 2,
               "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "max_position_embeddings": 2048,
               "vocab_size": 384}, open(os.path.join(d, "config.json"), "w"))
    H = read_safetensors(st)
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight":
             "output_norm.weight", "lm_head.weight": "output.weight"}
    parts = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
             "self_attn.attn_sub_norm": "attn_sub_norm", "mlp.ffn_sub_norm": "ffn_sub_norm"}
    W = {}
    for k, v in H.items():
        if k in names:
            W[names[k]] = v
        else:
            l, rest = k.split(".")[2], ".".join(k.split(".")[3:-1])
            W["blk.%s.%s.weight" % (l, parts[rest])] = v
    W = {k: (v[0] if v.shape[0] == 1 else v) for k, v in W.items()}
    cfg = {"dim": 256, "layers": 2, "heads": 4, "kv_heads": 2, "eps": 1e-5, "base": 10000.0,
           "bitnet": arch == "bitnet"}
    ref = forward(cfg, W, toks_of(384), hf=True)
    out = os.path.join(WORK, "out.bin")
    conv = os.path.join(WORK, "hf-%s.gguf" % arch)
    a = run_tool(d, out, "--write-gguf", conv)
    b = run_tool(conv, out)
    e = rel(a, ref)
    check(e <= 1e-4, "%s HF safetensors: logits vs NumPy (rotate-half RoPE) %.2e <= 1e-4"
          % (arch, e))
    check(np.array_equal(a, b), "%s HF safetensors == the GGUF converted from it (bitwise)" % arch)
    # the same checkpoint in two shards (model.safetensors.index.json)
    ds = d + "-sharded"
    os.makedirs(ds, exist_ok=True)
    subprocess.run([BNC, "model", "synth", os.path.join(ds, "model.safetensors.index.json"),
                    "--shards", "2", "--arch", arch, "--seed", "7"] + SH, check=True,
                   capture_output=True)
    with open(os.path.join(d, "config.json")) as f:
        open(os.path.join(ds, "config.json"), "w").write(f.read())
    check(np.array_equal(run_tool(ds, out), a), "%s HF sharded checkpoint == single file" % arch)

# llama-perplexity's protocol and the KLD statistics, recomputed here from the
# reference logits on the ids our tokenizer gives (llm_tool --tokenize).
TEXT = os.path.join(WORK, "text.txt")
with open("/usr/share/common-licenses/GPL-3", "rb") as f:
    open(TEXT, "wb").write(f.read(6000))
g = os.path.join(WORK, "llama-1.gguf")
qg = os.path.join(WORK, "llama-1-q8_0.gguf")
kv, W = read_gguf(g)
_, Wq = read_gguf(qg)
cfg = cfg_of(kv)
ids = [int(x) for x in subprocess.run([TOOL, "--tokenize", g, open(TEXT).read()],
                                      capture_output=True, text=True, check=True).stdout.split(",")]
CTX, CH = 32, 3
quantized = {k for k in Wq if k.startswith("blk.") and Wq[k].shape[0] > 1}
nll, nll2, cnt = 0.0, 0.0, 0
kl, dlt, dp, same = [], [], [], 0
for c in range(CH):
    t = ids[c * CTX:(c + 1) * CTX]
    t[0] = kv["tokenizer.ggml.bos_token_id"]
    lb = forward(cfg, W, t)
    lq = forward(cfg, Wq, t, quantized=quantized)
    for j in range(CTX // 2, CTX - 1):
        pb = lb[j] - lb[j].max()
        pb = pb - np.log(np.exp(pb).sum())
        pq = lq[j] - lq[j].max()
        pq = pq - np.log(np.exp(pq).sum())
        v = -pb[t[j + 1]]
        nll += v
        nll2 += v * v
        cnt += 1
        kl.append(float((np.exp(pb) * (pb - pq)).sum()))
        dlt.append(float(pb[t[j + 1]] - pq[t[j + 1]]))
        dp.append(float(np.exp(pq[t[j + 1]]) - np.exp(pb[t[j + 1]])))
        same += int(np.argmax(pb) == np.argmax(pq))
mean = nll / cnt
ppl = np.exp(mean)
err = np.sqrt((nll2 / cnt - mean * mean) / (cnt - 1)) * ppl
r = subprocess.run([BNC, "eval", "ppl", g, "--text", TEXT, "--ctx", str(CTX), "--chunks",
                    str(CH), "--threads", "1"], capture_output=True, text=True, check=True)
lines = r.stdout.strip().split("\n")
js = json.loads(lines[-1])
check(abs(js["ppl"] - ppl) <= 1e-5 * ppl and abs(js["ppl_err"] - err) <= 1e-4 * err,
      "eval ppl: PPL %.6f +/- %.6f, NumPy %.6f +/- %.6f" % (js["ppl"], js["ppl_err"], ppl, err))
check(js["tokens_scored"] == cnt == CH * (CTX - CTX // 2 - 1), "eval ppl: %d tokens scored"
      % cnt)
check(lines[1].startswith("[1]") and lines[1].count("[") == CH and
      lines[2].startswith("Final estimate: PPL = %.4f +/- %.5f" % (js["ppl"], js["ppl_err"])),
      "eval ppl: [i]ppl line and 'Final estimate' line")
r = subprocess.run([BNC, "eval", "kld", g, qg, "--text", TEXT, "--ctx", str(CTX), "--chunks",
                    str(CH), "--threads", "1", "--json"], capture_output=True, text=True,
                   check=True)
js = json.loads(r.stdout.strip().split("\n")[-1])
kl = np.array(kl)
n = len(kl)
kerr = np.sqrt(((kl ** 2).mean() - kl.mean() ** 2) / (n - 1))
dlt = np.array(dlt)
lerr = np.sqrt(((dlt ** 2).mean() - dlt.mean() ** 2) / (n - 1))
rdp = np.sqrt((np.array(dp) ** 2).mean())
close = lambda a, b, tol: abs(a - b) <= tol * max(abs(b), 1e-12)
check(close(js["kld"], kl.mean(), 1e-2) and close(js["kld_err"], kerr, 2e-2),
      "eval kld: KLD %.6g +/- %.6g, NumPy %.6g +/- %.6g" % (js["kld"], js["kld_err"], kl.mean(),
                                                           kerr))
# ln ratio and delta-p are differences of nearly equal numbers: the rare int8
# code flips (see above) move them by a few % of their size, so they are held
# to a tenth of their own uncertainty (ln ratio) or 15% (RMS delta-p), and to
# exact consistency with the two perplexities printed.
check(abs(js["ln_ppl_ratio"] - np.log(js["ppl_quant"] / js["ppl_base"])) <= 1e-5 and
      abs(js["ln_ppl_ratio"] - dlt.mean()) <= 0.1 * lerr and close(js["ln_ppl_ratio_err"], lerr, 5e-2),
      "eval kld: ln(PPL(Q)/PPL(base)) %.6g +/- %.6g, NumPy %.6g +/- %.6g" %
      (js["ln_ppl_ratio"], js["ln_ppl_ratio_err"], dlt.mean(), lerr))
check(close(js["kld_median"], float(np.percentile(kl, 50)), 2e-2) and
      close(js["kld_p99"], float(np.percentile(kl, 99)), 2e-2),
      "eval kld: median %.6g and 99%% %.6g as NumPy's percentiles" % (js["kld_median"],
                                                                      js["kld_p99"]))
check(close(js["rms_dp"], rdp, 0.15) and abs(js["same_top"] - same / n) <= 1.5 / n,
      "eval kld: RMS dp %.6g (NumPy %.6g), same top %.4f (NumPy %.4f)" %
      (js["rms_dp"], rdp, js["same_top"], same / n))

print("%d failure(s)" % len(FAIL))
sys.exit(1 if FAIL else 0)
