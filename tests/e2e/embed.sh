#!/usr/bin/env bash
# sora-embed against transformers' outputs in ../shared/fixtures/text (T5 with f32 and bf16 weights, with
# and without the mask, CLIP text, CLIP vision from a PNG and from a lossless video) within the README's
# tolerance |c − ref| ≤ 1e-4 + 1e-4·|ref|; a whole CLIPModel folder serving --clip and --clip-vision;
# aes = the aesthetic predictor on the written image_embeds; -j and --batch independence; hostile rows
# (empty text, invalid UTF-8, missing and corrupt images) and how rejects keep the order.
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
TX=$FX/text
AES=$FX/aesthetic/sac+logos+ava1-l14-linearMSE.safetensors
if [ ! -r "$TX/t5_tiny_io.safetensors" ] || [ ! -r "$AES" ]; then
	skip "embed" "fixtures not found ($TX, $AES): set SORA_FIXTURES"
	exit 0
fi
TX=$(cd "$TX" && pwd)
if ! command -v sora-embed >/dev/null; then
	fail "sora-embed" "not found in $SORA_BIN"
	exit 1
fi

# st.py: safetensors with the Python standard library only (no numpy here).
cat >"$T/st.py" <<'PY'
import json, math, struct, sys, zlib
from array import array

def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        code = {"F32": "f", "I64": "q", "U8": "B", "BF16": None}[v["dtype"]]
        if code is None:
            a = array("f", struct.unpack("<%df" % (len(raw) // 2), b"".join(b"\0\0" + raw[i:i + 2] for i in range(0, len(raw), 2))))
        else:
            a = array(code, raw)
        out[k] = (v["dtype"], v["shape"], a, raw)
    return out, meta

def save(path, tensors):
    """tensors: name -> (dtype, shape, raw bytes)"""
    h, off, data = {}, 0, []
    for k in sorted(tensors):
        dt, shape, raw = tensors[k]
        h[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data.append(raw)
    hb = json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(data))

def rows(t, first, count):
    shape, a = t[1], t[2]
    per = 1
    for d in shape[1:]:
        per *= d
    return a[first * per:(first + count) * per]

def cmd_close(got, gname, want, wname, grow=0, wrow=0, count=None):
    """max error of got[gname][grow:grow+count] against want[wname][wrow:...]; exit 1 beyond tolerance"""
    g, w = load(got)[0][gname], load(want)[0][wname]
    count = int(count) if count is not None else w[1][0]
    a, b = rows(g, int(grow), count), rows(w, int(wrow), count)
    if len(a) != len(b):
        print("sizes differ: %d vs %d (%s %s, %s %s)" % (len(a), len(b), gname, g[1], wname, w[1]))
        sys.exit(1)
    worst = max(abs(x - y) for x, y in zip(a, b))
    bad = sum(1 for x, y in zip(a, b) if not abs(x - y) <= 1e-4 + 1e-4 * abs(y))
    print("max abs %.3g over %d values, %d beyond tolerance" % (worst, len(a), bad))
    sys.exit(1 if bad else 0)

def cmd_shape(path, name):
    print(load(path)[0][name][1])

def cmd_png(io, name, out):
    """an HWC uint8 tensor as an RGB PNG"""
    _, shape, a, raw = load(io)[0][name]
    h, w, _ = shape
    lines = b"".join(b"\0" + raw[y * w * 3:(y + 1) * w * 3] for y in range(h))
    def chunk(t, d):
        c = t + d
        return struct.pack(">I", len(d)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(lines)) + chunk(b"IEND", b"")
    open(out, "wb").write(png)

def cmd_clipmodel(text, vision, out, proj):
    """one CLIPModel checkpoint: both towers, text_projection, logit_scale, position_ids buffers; the
    visual projection widened to `proj` rows (the extra rows a fixed pattern) when it is not 0"""
    t = {k: (v[0], v[1], v[3]) for k, v in load(text)[0].items()} if text != "-" else {}
    vis = {k: (v[0], v[1], v[3]) for k, v in load(vision)[0].items()} if vision != "-" else {}
    proj = int(proj)
    if proj:
        dt, shape, raw = vis["visual_projection.weight"]
        extra = array("f", [0.05 * math.sin(0.37 * i) for i in range((proj - shape[0]) * shape[1])])
        vis["visual_projection.weight"] = (dt, [proj, shape[1]], raw + extra.tobytes())
    t.update(vis)
    if text != "-" and vision != "-":
        t["text_projection.weight"] = ("F32", [32, 32], array("f", [0.0] * 1024).tobytes())
        t["logit_scale"] = ("F32", [], array("f", [2.6592]).tobytes())
        t["text_model.embeddings.position_ids"] = ("I64", [1, 77], array("q", range(77)).tobytes())
    save(out, t)

def cmd_aes(got, aes):
    """aes against the LAION MLP (f64) on the written image_embeds, L2-normalised"""
    g = load(got)[0]
    W = load(aes)[0]
    emb, scores = g["image_embeds"], g["aes"]
    worst = 0.0
    for r in range(emb[1][0]):
        x = list(rows(emb, r, 1))
        nrm = math.sqrt(sum(v * v for v in x))
        x = [v / nrm for v in x]
        for l in ("0", "2", "4", "6", "7"):
            w, b = W["layers.%s.weight" % l], W["layers.%s.bias" % l]
            o, i = w[1]
            x = [b[2][k] + sum(w[2][k * i + j] * x[j] for j in range(i)) for k in range(o)]
        worst = max(worst, abs(x[0] - scores[2][r]))
    print("aes max abs %.3g over %d rows" % (worst, emb[1][0]))
    sys.exit(0 if worst <= 2e-5 else 1)

globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
PY
st() { python3 "$T/st.py" "$@"; }
# close NAME GOT GOT_TENSOR WANT WANT_TENSOR [got_row want_row count]
close() {
	local name=$1 msg
	shift
	if msg=$(st close "$@" 2>&1); then ok "$name ($msg)"; else fail "$name" "$msg"; fi
}

# Model folders as published: config.json, model.safetensors and the tokenizer files side by side.
folder() { # DIR CONFIG WEIGHTS TOKENIZER_FILES...
	local d=$T/$1
	mkdir -p "$d"
	ln -s "$TX/$2" "$d/config.json"
	ln -s "$TX/$3" "$d/model.safetensors"
	shift 3
	for f in "$@"; do ln -s "$TX/tokenizers/$f" "$d/"; done
}
folder t5 t5_tiny_config.json t5_tiny.safetensors t5/spiece.model
folder t5bf t5_tiny_config.json t5_tiny_bf16.safetensors t5/spiece.model
folder clip clip_text_tiny_config.json clip_text_tiny.safetensors clip/vocab.json clip/merges.txt
folder vision clip_vision_tiny_config.json clip_vision_tiny.safetensors
IO_T5=$TX/t5_tiny_io.safetensors
IO_CLIP=$TX/clip_text_tiny_io.safetensors
IO_VIS=$TX/clip_vision_tiny_io.safetensors

P1="A cinematic drone shot of a waterfall in a lush green forest, golden hour."
P3=$(printf 'A beautiful landscape with mountains, rivers, forests and a clear blue sky. %.0s' 1 2 3 4 5 6 7 8)
P3=${P3% }
printf 'id,text\n1,"%s"\n2,a cat\n' "$P1" >"$T/t5.csv"

# ---- T5 ----
sora-embed --t5 "$T/t5" --out "$T/t5.st" -o "$T/t5_map.csv" -j 2 <"$T/t5.csv" 2>"$T/err"
expect "t5: exit 0" "$?" 0
expect "t5: last_hidden_state [N, 512, d_model]" "$(st shape "$T/t5.st" last_hidden_state)" "[2, 512, 32]"
close "t5 f32 weights, no mask (Open-Sora v2) vs f64" "$T/t5.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref
expect "t5: the row map" "$(cat "$T/t5_map.csv")" "id,text,index
1,\"$P1\",0
2,a cat,1"
sora-embed --t5 "$T/t5bf" --out "$T/t5bf.st" -q <"$T/t5.csv" >/dev/null
close "t5 bf16 weights vs f64" "$T/t5bf.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref
sora-embed --t5 "$T/t5" --t5-mask --out "$T/t5m.st" -q <"$T/t5.csv" >/dev/null
close "t5 --t5-mask vs f64" "$T/t5m.st" last_hidden_state "$IO_T5" mask.last_hidden_state_f64ref
printf 'text\nTwo kids flying a kite on a windy hill.\n' |
	sora-embed --t5 "$T/t5" --max-length 15 --out "$T/t5s.st" -q >/dev/null
close "t5 --max-length 15, unpadded vs f64" "$T/t5s.st" last_hidden_state "$IO_T5" short.last_hidden_state_f64ref

sora-embed --t5 "$T/t5" --out "$T/t5j1.st" -j 1 -q <"$T/t5.csv" >/dev/null
expect "t5: output does not depend on -j" "$(cmp -s "$T/t5.st" "$T/t5j1.st" && echo same)" same
sora-embed --t5 "$T/t5" --out "$T/t5b1.st" --batch 1 -q <"$T/t5.csv" >/dev/null
close "t5: --batch 1 gives the same rows as one batch of 2" "$T/t5b1.st" last_hidden_state "$T/t5.st" last_hidden_state

# Hostile rows: an empty prompt is valid (Open-Sora's null prompt); invalid UTF-8 is rejected and the
# other rows keep their order, each one's index saying where it is.
printf 'id,text\n1,"%s"\n2,"bad \xff byte"\n3,""\n4,a cat\n' "$P1" |
	sora-embed --t5 "$T/t5" --out "$T/t5h.st" --rejects "$T/rej.csv" >"$T/map.csv" 2>"$T/err"
expect "hostile text: exit 0" "$?" 0
expect "hostile text: 3 rows embedded" "$(st shape "$T/t5h.st" last_hidden_state)" "[3, 512, 32]"
expect "hostile text: row map" "$(python3 -c 'import csv, sys; print(*(r["id"] + ":" + r["index"] for r in csv.DictReader(open(sys.argv[1]))))' "$T/map.csv")" "1:0 3:1 4:2"
expect "hostile text: the reject and its reason" "$(csv_col "$T/rej.csv" 1 id) $(csv_col "$T/rej.csv" 1 error)" "2 invalid UTF-8 at byte 4"
expect "hostile text: summary" "$(grep -c '4 rows in, 3 out, 1 rejected' "$T/err")" 1
close "hostile text: row 0 is the first prompt's" "$T/t5h.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref 0 0 1
close "hostile text: row 2 is 'a cat''s" "$T/t5h.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref 2 1 1
printf 'text\n""\n' | sora-embed --t5 "$T/t5" --out "$T/t5e.st" -q >/dev/null
close "hostile text: the empty prompt embeds as [</s>, pad...]" "$T/t5h.st" last_hidden_state "$T/t5e.st" last_hidden_state 1 0 1

# ---- CLIP text ----
printf 'text\n"%s"\na cat\n"%s"\n' "$P1" "$P3" >"$T/clip.csv"
sora-embed --clip "$T/clip" --out "$T/clip.st" -q <"$T/clip.csv" >/dev/null
expect "clip: exit 0" "$?" 0
close "clip last_hidden_state vs f64" "$T/clip.st" last_hidden_state "$IO_CLIP" nomask.last_hidden_state_f64ref
close "clip pooler_output vs f64" "$T/clip.st" pooler_output "$IO_CLIP" nomask.pooler_output_f64ref

# ---- CLIP vision: the preprocessing golden's image as a PNG, and as a lossless video ----
st png "$IO_VIS" preprocess.image_uint8_hwc "$T/img.png"
ff -loop 1 -i "$T/img.png" -frames:v 10 -r 10 -c:v ffv1 -pix_fmt bgr0 "$T/still.mkv"
head -c 5000 /dev/urandom >"$T/corrupt.png"
printf 'path\n%s\n%s\n%s\n%s\n' "$T/img.png" "$T/missing.png" "$T/corrupt.png" "$T/still.mkv" >"$T/vis.csv"
sora-embed --clip-vision "$T/vision" --out "$T/vis.st" --rejects "$T/vrej.csv" <"$T/vis.csv" >"$T/vmap.csv" 2>"$T/err"
expect "vision: exit 0" "$?" 0
expect "vision: image_embeds [N, projection_dim]" "$(st shape "$T/vis.st" image_embeds)" "[2, 32]"
close "vision: PNG image_embeds vs f64" "$T/vis.st" image_embeds "$IO_VIS" batch.image_embeds_f64ref 0 0 1
close "vision: video (mean of its frames at 10/50/90%) vs f64" "$T/vis.st" image_embeds "$IO_VIS" batch.image_embeds_f64ref 1 0 1
expect "vision: missing and corrupt images rejected" "$(tail -n +2 "$T/vrej.csv" | wc -l)" 2
expect "vision: row map" "$(tail -n +2 "$T/vmap.csv" | sed 's|.*/||' | tr '\n' ' ')" "img.png,0 still.mkv,1 "

# ---- one whole CLIPModel folder for both towers; aes from a 768-wide projection ----
mkdir -p "$T/clipm" "$T/vis768"
st clipmodel "$TX/clip_text_tiny.safetensors" "$TX/clip_vision_tiny.safetensors" "$T/clipm/model.safetensors" 0
printf '{"model_type": "clip", "projection_dim": 32, "text_config": %s, "vision_config": %s}\n' \
	"$(cat "$TX/clip_text_tiny_config.json")" "$(cat "$TX/clip_vision_tiny_config.json")" >"$T/clipm/config.json"
ln -s "$TX/tokenizers/clip/vocab.json" "$TX/tokenizers/clip/merges.txt" "$T/clipm/"
sora-embed --clip "$T/clipm" --out "$T/clipm.st" -q <"$T/clip.csv" >/dev/null
close "CLIPModel folder: --clip pooler_output vs f64" "$T/clipm.st" pooler_output "$IO_CLIP" nomask.pooler_output_f64ref
sora-embed --clip-vision "$T/clipm" --out "$T/clipmv.st" -q <"$T/vis.csv" >/dev/null 2>&1
close "CLIPModel folder: --clip-vision image_embeds vs f64" "$T/clipmv.st" image_embeds "$IO_VIS" batch.image_embeds_f64ref 0 0 1

st clipmodel - "$TX/clip_vision_tiny.safetensors" "$T/vis768/model.safetensors" 768
sed 's/"projection_dim": 32/"projection_dim": 768/' "$TX/clip_vision_tiny_config.json" >"$T/vis768/config.json"
sora-embed --clip-vision "$T/vis768" --aes-model "$AES" --out "$T/aes.st" -q <"$T/vis.csv" >/dev/null 2>&1
expect "aes: [N]" "$(st shape "$T/aes.st" aes)" "[2]"
if msg=$(st aes "$T/aes.st" "$AES"); then ok "aes = the LAION MLP on image_embeds ($msg)"; else fail "aes" "$msg"; fi
sora-embed --clip-vision "$T/vision" --aes-model "$AES" --out "$T/x.st" -q </dev/null >/dev/null 2>"$T/err"
expect "aes: a 32-wide CLIP with the 768-wide predictor is an error" "$?" 1

# ---- usage ----
sora-embed --t5 "$T/t5" <"$T/t5.csv" >/dev/null 2>&1
expect "no --out: usage error" "$?" 2
sora-embed --t5 "$T/t5" --clip "$T/clip" --out "$T/x.st" <"$T/t5.csv" >/dev/null 2>&1
expect "two models: usage error" "$?" 2
printf 'caption\nx\n' | sora-embed --t5 "$T/t5" --out "$T/x.st" >/dev/null 2>&1
expect "no text column: usage error" "$?" 2
sora-embed --clip "$T/clip" --max-length 78 --out "$T/x.st" <"$T/clip.csv" >/dev/null 2>"$T/err"
expect "clip --max-length beyond the positions: error" "$?" 1
sora-embed --t5 "$T/nowhere" --out "$T/x.st" <"$T/t5.csv" >/dev/null 2>"$T/err"
expect "missing model folder: exit 1, named" "$?:$(grep -c nowhere "$T/err")" "1:1"

exit $((FAILS > 0))
