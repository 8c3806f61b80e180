#!/usr/bin/env bash
# sora-embed against transformers' outputs in ../shared/fixtures/text (T5 with f32 and bf16 weights, with
# and without the mask, CLIP text, CLIP vision from a PNG) within the README's tolerance
# |c − ref| ≤ 1e-4 + 1e-4·|ref|; a video row against the mean of its frames at 10/50/90% embedded as PNGs;
# a whole CLIPModel folder serving --clip and --clip-vision; aes = the aesthetic predictor on the written
# image_embeds (a video's: the mean of its frames' scores); -j and --batch independence; hostile rows
# (empty text, invalid UTF-8, missing and corrupt images) and how rejects keep the order.
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
TX=$FX/text
AES=$FX/aesthetic/sac+logos+ava1-l14-linearMSE.safetensors
need_fixtures "embed" "$TX/t5_tiny_io.safetensors" "$TX/clip_text_tiny_io.safetensors" "$TX/clip_vision_tiny_io.safetensors" \
	"$TX/t5_tiny.safetensors" "$TX/t5_tiny_bf16.safetensors" "$TX/clip_text_tiny.safetensors" \
	"$TX/clip_vision_tiny.safetensors" "$TX/tokenizers/t5/spiece.model" "$TX/tokenizers/clip/vocab.json" "$AES"
TX=$(cd "$TX" && pwd)
if ! command -v sora-embed >/dev/null; then
	fail "sora-embed" "not found in $SORA_BIN"
	exit 1
fi

# st.py: safetensors files for the checks; the comparisons are compare.py's (NaN, empty and shape aware).
cat >"$T/st.py" <<'PY'
import json, math, struct, sys, zlib
from array import array
import numpy as np
import compare

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

def cmd_close(got, gname, want, wname, grow=0, wrow=0, count=None):
    """got[gname][grow:grow+count] against want[wname][wrow:...] (rows of the first axis), every element
    within 1e-4 + 1e-4·|ref| (the fixture README's tolerance); exit 1 beyond it"""
    g, w = compare.load(got)[gname], compare.load(want)[wname]
    count = int(count) if count is not None else w.shape[0]
    good, msg = compare.each(g[int(grow):int(grow) + count], w[int(wrow):int(wrow) + count], 1e-4, 1e-4)
    print(msg)
    sys.exit(0 if good else 1)

def cmd_nan(path, out, name):
    """a copy of PATH with element 0 of NAME (F32) made NaN"""
    b = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", b[:8])[0]
    at = 8 + n + json.loads(b[8:8 + n])[name]["data_offsets"][0]
    b[at:at + 4] = struct.pack("<f", float("nan"))
    open(out, "wb").write(b)

def cmd_mean(out, name, path, *rows):
    """OUT holds NAME = the mean of rows ROWS of PATH's NAME, as [1, ...]"""
    a = compare.load(path)[name][[int(r) for r in rows]].mean(axis=0, keepdims=True).astype("<f4")
    save(out, {name: ("F32", list(a.shape), a.tobytes())})

def frame(io, k):
    """frame k of the test video: the preprocessing golden image rolled by 15·k pixels (uint8 HWC)"""
    return np.roll(compare.load(io)["preprocess.image_uint8_hwc"].astype(np.uint8), 15 * int(k), axis=1)

def cmd_video(io, *ids):
    """raw RGB frames on stdout, frame i = frame(ids[i])"""
    sys.stdout.buffer.write(b"".join(frame(io, k).tobytes() for k in ids))

def cmd_shape(path, name):
    print(load(path)[0][name][1])

def write_png(a, out):
    """an HWC uint8 array as an RGB PNG"""
    h, w, _ = a.shape
    raw = a.tobytes()
    lines = b"".join(b"\0" + raw[y * w * 3:(y + 1) * w * 3] for y in range(h))
    def chunk(t, d):
        c = t + d
        return struct.pack(">I", len(d)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(lines)) + chunk(b"IEND", b"")
    open(out, "wb").write(png)

def cmd_png(io, name, out):
    write_png(compare.load(io)[name].astype(np.uint8), out)

def cmd_frame(io, k, out):
    write_png(frame(io, k), out)

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

def mlp(W, x):
    """the LAION aesthetic MLP (linear layers, float64) on L2-normalised rows x [N, D]"""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    for l in ("0", "2", "4", "6", "7"):
        x = x @ W["layers.%s.weight" % l].T + W["layers.%s.bias" % l]
    return x[:, 0]

def cmd_aes(got, aes, frames=None, video_row=None):
    """aes of each row = the MLP on its image_embeds, within 2e-5; a video row's = the mean of the MLP on
    its frames' image_embeds (FRAMES: their rows, embedded as images)"""
    g, W = compare.load(got), compare.load(aes)
    want = mlp(W, g["image_embeds"])
    if frames is not None:
        want[int(video_row)] = mlp(W, compare.load(frames)["image_embeds"]).mean()
    good, msg = compare.each(g["aes"], want, 2e-5, 0.0)
    print("aes: " + msg)
    sys.exit(0 if good else 1)

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
# The check fails on another setting's output, and on one NaN (the old max() loop dropped it).
st nan "$T/t5.st" "$T/t5nan.st" last_hidden_state
must_fail "close check: one NaN fails" close x "$T/t5nan.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref
sora-embed --t5 "$T/t5bf" --out "$T/t5bf.st" -q <"$T/t5.csv" >/dev/null
close "t5 bf16 weights vs f64" "$T/t5bf.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref
sora-embed --t5 "$T/t5" --t5-mask --out "$T/t5m.st" -q <"$T/t5.csv" >/dev/null
close "t5 --t5-mask vs f64" "$T/t5m.st" last_hidden_state "$IO_T5" mask.last_hidden_state_f64ref
must_fail "close check: the --t5-mask output against the unmasked reference fails" \
	close x "$T/t5m.st" last_hidden_state "$IO_T5" nomask.last_hidden_state_f64ref
printf 'text\nTwo kids flying a kite on a windy hill.\n' |
	sora-embed --t5 "$T/t5" --max-length 15 --out "$T/t5s.st" -q >/dev/null
close "t5 --max-length 15, unpadded vs f64" "$T/t5s.st" last_hidden_state "$IO_T5" short.last_hidden_state_f64ref

sora-embed --t5 "$T/t5" --out "$T/t5j1.st" -j 1 -q <"$T/t5.csv" >/dev/null
expect_same "t5: output does not depend on -j" "$T/t5.st" "$T/t5j1.st"
sora-embed --t5 "$T/t5" --out "$T/t5b1.st" --batch 1 -q <"$T/t5.csv" >/dev/null
close "t5: --batch 1 vs f64 (the rows of one batch of 2, one at a time)" "$T/t5b1.st" last_hidden_state "$IO_T5" \
	nomask.last_hidden_state_f64ref

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

# ---- CLIP vision: the preprocessing golden's image as a PNG, and a lossless video of it moving ----
st png "$IO_VIS" preprocess.image_uint8_hwc "$T/img.png"
# 21 frames at 10 fps, frame k the image rolled by 15·k pixels, except that frames 3, 11 and 19 repeat
# 2, 10 and 18: the first frames at or after 10%, 50% and 90% are 2 or 3, 10 or 11, 18 or 19 whether the
# video lasts 2.1 s (its last frame's end) or 2 s (its start), and each pair is one picture, every other
# frame another.
ids="0 1 2 2 4 5 6 7 8 9 10 10 12 13 14 15 16 17 18 18 20"
# shellcheck disable=SC2086 # one argument per frame
st video "$IO_VIS" $ids | ff -f rawvideo -pix_fmt rgb24 -s 320x240 -r 10 -i - -c:v ffv1 -pix_fmt bgr0 "$T/moving.mkv"
for k in 0 2 10 18 20; do st frame "$IO_VIS" $k "$T/f$k.png"; done
head -c 5000 /dev/urandom >"$T/corrupt.png"
printf 'path\n%s\n%s\n%s\n%s\n' "$T/img.png" "$T/missing.png" "$T/corrupt.png" "$T/moving.mkv" >"$T/vis.csv"
sora-embed --clip-vision "$T/vision" --out "$T/vis.st" --rejects "$T/vrej.csv" <"$T/vis.csv" >"$T/vmap.csv" 2>"$T/err"
expect "vision: exit 0" "$?" 0
expect "vision: image_embeds [N, projection_dim]" "$(st shape "$T/vis.st" image_embeds)" "[2, 32]"
close "vision: PNG image_embeds vs f64" "$T/vis.st" image_embeds "$IO_VIS" batch.image_embeds_f64ref 0 0 1
# The video row against its frames at 10/50/90% embedded as PNGs (the path checked against f64 above),
# averaged here; the first, middle and last frames (0, 10, 20) must not pass for them.
printf 'path\n%s\n%s\n%s\n%s\n%s\n' "$T/f2.png" "$T/f10.png" "$T/f18.png" "$T/f0.png" "$T/f20.png" >"$T/frames.csv"
sora-embed --clip-vision "$T/vision" --out "$T/frames.st" -q <"$T/frames.csv" >/dev/null
st mean "$T/want.st" image_embeds "$T/frames.st" 0 1 2
st mean "$T/wrong.st" image_embeds "$T/frames.st" 3 1 4
close "vision: video = the mean of its frames at 10%, 50%, 90% (2, 10, 18 of 0..20)" "$T/vis.st" image_embeds \
	"$T/want.st" image_embeds 1 0 1
must_fail "vision: the mean of the first, middle and last frames fails as the video's" \
	close x "$T/vis.st" image_embeds "$T/wrong.st" image_embeds 1 0 1
expect "vision: missing and corrupt images rejected" "$(tail -n +2 "$T/vrej.csv" | wc -l)" 2
expect "vision: row map" "$(tail -n +2 "$T/vmap.csv" | sed 's|.*/||' | tr '\n' ' ')" "img.png,0 moving.mkv,1 "

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
# aes of the video row: the mean of its three frames' scores (the frames embedded as PNGs here).
head -4 "$T/frames.csv" >"$T/frames3.csv"
printf 'path\n%s\n%s\n%s\n' "$T/f0.png" "$T/f10.png" "$T/f20.png" >"$T/wrong3.csv"
sora-embed --clip-vision "$T/vis768" --out "$T/frames768.st" -q <"$T/frames3.csv" >/dev/null
sora-embed --clip-vision "$T/vis768" --out "$T/wrong768.st" -q <"$T/wrong3.csv" >/dev/null
aes_check() { # aes_check NAME FRAMES: st aes as a check
	local msg
	if msg=$(st aes "$T/aes.st" "$AES" "$2" 1 2>&1); then ok "$1 ($msg)"; else fail "$1" "$msg"; fi
}
aes_check "aes = the LAION MLP on image_embeds; the video's the mean over its frames'" "$T/frames768.st"
must_fail "aes: the first, middle and last frames' scores fail as the video's" aes_check x "$T/wrong768.st"
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
