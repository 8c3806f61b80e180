#!/usr/bin/env bash
# sora-encode with the tiny fixture T5 and CLIP: kill -9 at several points then re-run (every id exactly
# once, index consistent, nothing stray), two --shard i/n jobs into one folder, a full disk (a file size
# limit), hostile rows, derived ids, --t5-trim, --no-prompt-suffix, settings that differ from the
# dataset's, and --vae: latents of generated clips and an image with the tiny fixture VAE (shape, bucket,
# rejects, and bit for bit against sora-vae). The dataset is read back with tests/tools/read_shard.py
# (python3-lmdb + numpy).
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
need_fixtures "encode" "$FX/text/t5_tiny.safetensors" "$FX/text/t5_tiny_config.json" "$FX/text/tokenizers/t5/spiece.model" \
	"$FX/text/clip_text_tiny.safetensors" "$FX/text/clip_text_tiny_config.json" "$FX/text/tokenizers/clip/vocab.json" \
	"$FX/text/tokenizers/clip/merges.txt" "$FX/video/vae_tiny.safetensors" "$FX/video/vae_tiny_config.json"
FX=$(cd "$FX" && pwd)
READ="$(cd "$(dirname "$0")/.." && pwd)/tools/read_shard.py"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
# The reader needs python3-lmdb and numpy: a visible skip without them, a failure under CI=true (whose
# set-up installs them), as need_fixtures does for a fixture.
if ! $PY -c 'import lmdb, numpy' 2>/dev/null; then
	if [ "${CI:-}" = true ]; then
		fail "encode" "python3-lmdb or numpy missing under CI=true (scripts/install-deps.sh installs them)"
		exit 1
	fi
	skip "encode" "python3-lmdb or numpy missing (scripts/install-deps.sh installs them)"
	exit 0
fi

# Published-layout model folders made of links to the fixture files.
fixture_text_models "$T" "$FX"
enc() { sora-encode --t5 "$T/t5" --clip "$T/clip" -j 1 "$@"; }

N=120
$PY - "$N" >"$T/in.csv" <<'PY'
import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["id", "path", "text", "fps", "score_vmafmotion", "height", "width", "num_frames"])
for i in range(int(sys.argv[1])):
    w.writerow([f"clip-{i:04d}", f"/v/{i}.mp4", f"a fox number {i} runs across the snow", [30, 24, 15][i % 3],
                i / 7, 240, [320, 426][i % 2], 49])
PY
cut -d, -f1 "$T/in.csv" | tail -n +2 | sort >"$T/want_ids"

# ---- kill -9 at several points, then a re-run ----
D=$T/ds
# kill_when NAME CONDITION: starts an encode, kills it -9 once CONDITION holds (or it ends by itself).
kill_when() {
	# Not through enc(): $! must be sora-encode itself, not a subshell running it.
	sora-encode --t5 "$T/t5" --clip "$T/clip" -j 1 --out "$D" --shard-mb 1 --batch 4 -q <"$T/in.csv" >/dev/null 2>&1 &
	local pid=$! waited=0
	until eval "$2" || ! kill -0 $pid 2>/dev/null || [ $waited -gt 30000 ]; do waited=$((waited + 1)); done
	if kill -9 $pid 2>/dev/null; then
		wait $pid 2>/dev/null
		echo "# killed $1; left: $(ls -A "$D" | tr '\n' ' ')"
	else
		echo "# not killed (it finished first): $1"
	fi
}
sealed_rows() { sed -n 's/^\t"rows":\t\([0-9]*\),*$/\1/p' "$D/index.json" 2>/dev/null || echo 0; }
kill_when "the first rows being written" 'ls -A "$D" 2>/dev/null | grep -q "\.open$"'
kill_when "after the first seal" '[ "$(sealed_rows)" -gt 0 ] 2>/dev/null && ls -A "$D" | grep -q "\.open$"'
kill_when "after 0.5 s" 'sleep 0.5; true'
kill_when "while sealing" 'ls -A "$D" 2>/dev/null | grep -q "\.seal$"'
kill_when "after 1.0 s" 'sleep 1.0; true'
enc --out "$D" --shard-mb 1 --batch 4 <"$T/in.csv" >"$T/rerun.csv" 2>"$T/rerun.err"
expect "after the kills: the re-run exits 0" "$?" 0
$PY "$READ" "$D" --ids | sort >"$T/got_ids"
expect_same "after the kills: every id exactly once" "$T/got_ids" "$T/want_ids"
$PY "$READ" "$D" --check >"$T/check" 2>&1
expect "after the kills: index.json matches the shards, no stray files" "$?" 0
tail -1 "$T/check" | sed 's/^/# /'
read -r rin rout rfilt <<<"$(sed -n 's/.*: \([0-9]*\) rows in, \([0-9]*\) out, 0 rejected, \([0-9]*\) filtered.*/\1 \2 \3/p' "$T/rerun.err")"
# no summary line: "none" instead of N, and no unbound variable under set -u
expect "after the kills: the re-run adds only what was missing" "${rin:-none} $((${rout:-0} + ${rfilt:-0}))" "$N $N"
expect "the re-run's CSV lists the rows it added" "$(($(wc -l <"$T/rerun.csv") - 1))" "${rout:-none}"
enc --out "$D" -q <"$T/in.csv" >"$T/again.csv"
expect "a third run adds nothing" "$(wc -l <"$T/again.csv")" 1

# The 10-line reader of docs/formats.md reads the same rows and values.
DOC="$(cd "$(dirname "$0")/../.." && pwd)/docs/formats.md"
awk '/^## Shards/ { s = 1 } s && /^```$/ { p = 0 } p { print } s && /^```python$/ { p = 1 }' "$DOC" >"$T/reader.py"
cat >>"$T/reader.py" <<'PY'
import sys
for rid, arrays, meta in read_dataset(sys.argv[1]):
    print(rid, meta["prompt"], " ".join("%s:%r" % (k, float(v.astype("float64").sum())) for k, v in sorted(arrays.items())))
PY
$PY "$T/reader.py" "$D" | sort >"$T/doc_rows"
$PY - "$READ" "$D" <<'PY' | sort >"$T/tool_rows"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("read_shard", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
for rid, arrays, meta in m.rows(sys.argv[2]):
    print(rid, meta["prompt"], " ".join("%s:%r" % (k, float(v.astype("float64").sum())) for k, v in sorted(arrays.items())))
PY
expect "the reader in docs/formats.md: one line a row" "$(wc -l <"$T/doc_rows")" "$N"
expect_same "the reader in docs/formats.md reads every row alike" "$T/doc_rows" "$T/tool_rows"

# ---- two --shard i/n jobs into one folder at once ----
enc --out "$T/par" --shard-mb 1 --shard 0/2 -q <"$T/in.csv" >/dev/null &
p0=$!
enc --out "$T/par" --shard-mb 1 --shard 1/2 -q <"$T/in.csv" >/dev/null
wait $p0
$PY "$READ" "$T/par" --ids | sort >"$T/par_ids"
expect_same "--shard 0/2 and 1/2 at once: every id exactly once" "$T/par_ids" "$T/want_ids"
$PY "$READ" "$T/par" --check >/dev/null
expect "--shard 0/2 and 1/2 at once: index consistent" "$?" 0

# ---- a full disk: a file size limit makes the open shard's writes fail ----
head -31 "$T/in.csv" >"$T/in30.csv"
enc --out "$T/full" -q <"$T/in30.csv" >/dev/null
cp "$T/full/shard-00000.mdb" "$T/sealed.copy"
(
	ulimit -f 300
	enc --out "$T/full" <"$T/in.csv" >"$T/full.csv" 2>"$T/full.err"
)
expect "full disk: exit 1" "$?" 1
expect "full disk: says so" "$(grep -c 'is the disk full' "$T/full.err")" 1
expect_same "full disk: the sealed shard is intact" "$T/full/shard-00000.mdb" "$T/sealed.copy"
$PY "$READ" "$T/full" --check >"$T/full.check" 2>&1
expect "full disk: index consistent, no unfinished shard left" "$?" 0
expect "full disk: no row claimed" "$(wc -l <"$T/full.csv")" 1

# A real full disk where one can be made (root: a 3 MiB tmpfs): the write or the seal fails with ENOSPC.
mkdir -p "$T/tmpfs"
trap 'umount "$T/tmpfs" 2>/dev/null; rm -rf "$T"' EXIT
if mount -t tmpfs -o size=3m tmpfs "$T/tmpfs" 2>/dev/null; then
	enc --out "$T/tmpfs/ds" --shard-mb 1 <"$T/in.csv" >/dev/null 2>"$T/enospc.err"
	rc=$?
	$PY "$READ" "$T/tmpfs/ds" --check >"$T/enospc.check" 2>&1
	crc=$?
	umount "$T/tmpfs"
	expect "tmpfs full: exit 1" "$rc" 1
	expect "tmpfs full: says the disk is full" "$(grep -c 'No space left on device' "$T/enospc.err")" 1
	expect "tmpfs full: sealed shards and index consistent, nothing stray" "$crc" 0
	sed 's/^/# /' "$T/enospc.check" | tail -1
else
	skip "tmpfs full" "cannot mount a tmpfs here (not root); the file size limit above stands in"
fi

# ---- hostile rows ----
long=$(printf 'a very long caption %.0s' $(seq 1 200))
$PY - "$long" >"$T/bad.csv" <<'PY'
import sys
long = sys.argv[1]
rows = [
    'id,path,text,fps,score_vmafmotion',
    'ok-1,/v/a.mp4,a cat,30,4',
    'empty,/v/b.mp4,,30,4',
    'blank,/v/c.mp4,"   ",30,4',
    'badutf,/v/d.mp4,"bad <FF> byte",30,4',
    'badpath,/v/<FE>.mp4,a cat,30,4',
    ('x' * 600) + ',/v/e.mp4,a cat,30,4',
    'ok-1,/v/f.mp4,a dog,30,4',
    'badfps,/v/g.mp4,a cat,thirty,4',
    ',,a cat,30,4',
    'extra,/v/h.mp4,a cat,30,4,surplus',
    'long,/v/i.mp4,' + long + ',24,1',
]
data = ("\n".join(rows) + "\n").encode()
sys.stdout.buffer.write(data.replace(b"<FF>", b"\xff").replace(b"<FE>", b"\xfe"))
PY
enc --out "$T/hostile" --rejects "$T/rej.csv" <"$T/bad.csv" >"$T/hostile.csv" 2>"$T/hostile.err"
expect "hostile rows: exit 0" "$?" 0
expect "hostile rows: summary" "$(tail -1 "$T/hostile.err" | sed 's/, [0-9.]* s$//; s/^sora-encode: //')" \
	"11 rows in, 2 out, 9 rejected, 0 filtered (0 already in $T/hostile)"
errs=$($PY -c 'import csv,sys; print("|".join(r["error"] for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", errors="replace"))))' "$T/rej.csv")
expect "hostile rows: each reason" "$errs" "empty text|empty text|column text: invalid UTF-8 at byte 4|column path: invalid UTF-8 at byte 3|id of 600 bytes (at most 511)|id 'ok-1' appears twice in the input|fps 'thirty' is not a number|no id and no path to make one from|malformed CSV row: 6 fields, the header has 5"
expect "hostile rows: over-long prompt kept and counted" "$(grep -c 'prompts cut to the tokenizer.s length: 1 by T5 (512), 1 by CLIP (77)' "$T/hostile.err")" 1
expect "hostile rows: the good ones stored" "$($PY "$READ" "$T/hostile" --ids | tr '\n' ' ')" "long ok-1 "

enc --out "$T/maxrej" --max-rejects 2 -q <"$T/bad.csv" >/dev/null 2>&1
expect "--max-rejects 2: exit 3" "$?" 3
expect "--max-rejects 2: the rows before the stop are stored" "$($PY "$READ" "$T/maxrej" --ids | tr '\n' ' ')" "ok-1 "

# ---- several input files; ids made from path and range; --t5-trim; --no-prompt-suffix ----
head -3 "$T/in.csv" >"$T/part1.csv"
(head -1 "$T/in.csv" && sed -n 4,5p "$T/in.csv") >"$T/part2.csv"
enc --out "$T/two" -q "$T/part1.csv" "$T/part2.csv" >/dev/null
expect "two input files: every row" "$($PY "$READ" "$T/two" --ids | tr '\n' ' ')" "clip-0000 clip-0001 clip-0002 clip-0003 "
printf 'path,start_sec,end_sec,text,fps\n/v/a.mp4,0,2.5,a cat,30\n/v/a.mp4,2.5,5,a dog,30\n' >"$T/noid.csv"
enc --out "$T/trim" --t5-trim -q <"$T/noid.csv" >/dev/null
expect "no id column: path#start-end" "$($PY "$READ" "$T/trim" --ids | tr '\n' ' ')" "/v/a.mp4#0-2.5 /v/a.mp4#2.5-5 "
expect "--t5-trim: t5 is [tokens, width]" \
	"$($PY "$READ" "$T/trim" | $PY -c 'import json,sys; print(" ".join("%s/%s" % (r["tensors"]["t5"][0], r["metadata"]["t5_tokens"]) for r in map(json.loads, sys.stdin)))')" \
	"8/8 8/8"
enc --out "$T/trim" -q <"$T/noid.csv" >/dev/null 2>"$T/trim.err"
expect "other settings than the dataset's: exit 1" "$?" 1
expect "other settings than the dataset's: names the key" "$(grep -c 't5.trim differs' "$T/trim.err")" 1
enc --out "$T/plain" --no-prompt-suffix -q <"$T/noid.csv" >"$T/plain.csv"
expect "--no-prompt-suffix: the caption alone" "$(csv_col "$T/plain.csv" 1 prompt)" "a cat"
enc --out "$T/suffix" -q <"$T/noid.csv" >"$T/suffix.csv"
expect "prompt suffix" "$(csv_col "$T/suffix.csv" 1 prompt)" "a cat 15 FPS."

# ---- usage and set-up errors ----
printf 'id,caption\nx,y\n' | enc --out "$T/u" -q >/dev/null 2>&1
expect "no text column: usage error" "$?" 2
printf 'id,text,text\nx,y,z\n' | enc --out "$T/u4" -q >/dev/null 2>&1
expect "a column twice: usage error" "$?" 2
printf 'text\nx\n' | enc --out "$T/u2" -q >/dev/null 2>&1
expect "no id or path column: usage error" "$?" 2
sora-encode --t5 "$T/t5" </dev/null >/dev/null 2>&1
expect "no --out: usage error" "$?" 2
sora-encode --out "$T/u3" --t5 "$T/nowhere" --clip "$T/clip" <"$T/noid.csv" >/dev/null 2>"$T/nowhere.err"
expect "missing model: exit 1" "$?" 1
expect "missing model: names the file" "$(grep -c 'nowhere/spiece.model' "$T/nowhere.err")" 1

# ---- --vae: latents of generated clips with the tiny fixture VAE, in a small bucket table ----
VAE="--vae $FX/video/vae_tiny.safetensors --vae-config $FX/video/vae_tiny_config.json"
# 64px: 16:9 is 48x80, 1:1 64x64; frame counts 1, 5, 9.
echo '{"bucket_config": {"64px": {"1": [1.0, 1], "5": [1.0, 1], "9": [1.0, 1]}}}' >"$T/b64.json"
ff -f lavfi -i testsrc2=size=80x48:rate=24 -frames:v 12 -pix_fmt yuv420p "$T/exact.mp4"
ff -f lavfi -i mandelbrot=size=150x100:rate=30 -frames:v 30 -pix_fmt yuv420p "$T/wide.mp4"
ff -f lavfi -i testsrc2=size=32x32:rate=24 -frames:v 12 -pix_fmt yuv420p "$T/tiny.mp4"
ff -f lavfi -i testsrc2=size=100x60 -frames:v 1 "$T/still.png"
{
	echo 'id,path,text,start_sec,end_sec'
	echo "exact,$T/exact.mp4,a test card,,"
	echo "wide,$T/wide.mp4,a fractal,,"
	echo "ranged,$T/exact.mp4,a test card,0.125,0.5"
	echo "short,$T/exact.mp4,too short,0,0.1"
	echo "tiny,$T/tiny.mp4,too small,,"
	echo "gone,$T/nowhere.mp4,no file,,"
	echo "still,$T/still.png,an image,,"
} >"$T/clips.csv"
venc() { enc $VAE --buckets "$T/b64.json" "$@"; }
venc --out "$T/lat" --rejects "$T/lat_rej.csv" <"$T/clips.csv" >"$T/lat.csv" 2>"$T/lat.err"
expect "--vae: exit 0" "$?" 0
expect "--vae: stored rows" "$($PY "$READ" "$T/lat" --ids | tr '\n' ' ')" "exact ranged still wide "
got=$($PY "$READ" "$T/lat" | $PY -c '
import json, sys
for r in map(json.loads, sys.stdin):
    m = r["metadata"]
    print(r["id"], r["tensors"]["latent"], m["bucket"], m["bucket_height"], m["bucket_width"], m["bucket_frames"], m["frame_stride"])')
expect "--vae: latent shape and bucket of each row" "$got" "exact [16, 3, 6, 10] 64px/16:9/9 48 80 9 1
ranged [16, 3, 6, 10] 64px/16:9/9 48 80 9 1
still [16, 1, 6, 10] 64px/16:9/1 48 80 1 1
wide [16, 3, 8, 8] 64px/3:2/9 64 64 9 2"
expect "--vae: index.json's bucket histogram" \
	"$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["buckets"])' "$T/lat/index.json")" \
	"{'48x80x9': 2, '64x64x9': 1, '48x80x1': 1}"
errs=$($PY -c 'import csv,sys; print("|".join(r["id"] + ": " + r["error"].split(": ", 1)[1] for r in csv.DictReader(open(sys.argv[1]))))' "$T/lat_rej.csv")
expect "--vae: rejects with their reason" "$errs" "short: too short for any bucket: 3 frames (3 at stride 1)|tiny: too small for any bucket: 32x32 is under 0.8 x 4096 pixels|gone: cannot open: No such file or directory"
# A clip already at its bucket's size and rate: the prepared frames are its first 9, exactly, so the
# stored latent is sora-vae's z of them rounded to bf16 (nearest even), bit for bit (both on one
# thread, -j 1: OpenBLAS's sgemm, which runs the 1x1x1 convs and the attention, sums in an order that
# depends on its thread count).
sora-vae encode -j 1 $VAE --frames 9 -o "$T/exact_ref.safetensors" "$T/exact.mp4" 2>/dev/null
# latent_check NAME ID: row ID's latent is exact_ref's z in bf16, bit for bit (nothing stored, another
# shape or a NaN fails; compare.py names the worst element when they differ)
latent_check() {
	expect "$1" "$($PY - "$READ" "$T/lat" "$T/exact_ref.safetensors" "$2" <<'PY'
import importlib.util, sys
import numpy as np
import compare
spec = importlib.util.spec_from_file_location("read_shard", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
got = {rid: a["latent"] for rid, a, _ in m.rows(sys.argv[2])}.get(sys.argv[4], np.zeros(0, "<f4"))
z = m.parse_blob(open(sys.argv[3], "rb").read())[0]["z"][0].astype("<f4")
u = z.view("<u4").astype(np.uint64)
bf = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u4") << 16
want = bf.astype("<u4").view("<f4")
same = got.size > 0 and got.shape == want.shape and np.array_equal(got.view("<u4"), want.view("<u4"))
print("equal" if same else "differ: " + compare.rel(got, want, 0.0)[1])
PY
)" equal
}
latent_check "--vae: the stored latent is sora-vae encode's z of the same frames, bit for bit" exact
must_fail "latent check: another range of the clip (row ranged) fails" latent_check x ranged
# --vae-sample: another latent, the same on a re-run; a re-run of the same dataset adds nothing.
head -2 "$T/clips.csv" >"$T/one.csv"
venc --out "$T/s1" --vae-sample --seed 7 -q <"$T/one.csv" >/dev/null
venc --out "$T/s2" --vae-sample --seed 7 -q <"$T/one.csv" >/dev/null
# sample_check NAME MEAN S1 S2: S1 differs from MEAN and S2 is S1, bit for bit (a NaN or nothing stored
# is neither: NaN != NaN held as "differs" in the old check)
sample_check() {
	expect "$1" "$($PY - "$READ" "$2" "$3" "$4" <<'PY'
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("read_shard", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
lat = [{rid: a["latent"] for rid, a, _ in m.rows(d)}.get("exact", np.zeros(0, "<f4")) for d in sys.argv[2:]]
bad = [d for d, a in zip(sys.argv[2:], lat) if a.size == 0 or not np.isfinite(a).all()]
if bad:
    print("no finite latent in " + " ".join(bad))
else:
    bits = [a.view("<u4") for a in lat]
    print("sample differs from mean" if not np.array_equal(bits[0], bits[1]) else "sample equals mean",
          "same seed same eps" if np.array_equal(bits[1], bits[2]) else "same seed other eps")
PY
)" "sample differs from mean same seed same eps"
}
sample_check "--vae-sample: seeded" "$T/lat" "$T/s1" "$T/s2"
must_fail "sample check: the mean as the second run fails" sample_check x "$T/lat" "$T/s1" "$T/lat"
venc --out "$T/s1" -q <"$T/one.csv" >/dev/null 2>"$T/s1.err"
expect "--vae-sample dataset re-run with the mean: refused" "$?" 1
# A model folder as sora-mkmodel writes it: its config.json comes with it.
sora-mkmodel --kind hunyuan-vae --config "$(dirname "$0")/../../configs/tiny/hunyuan_vae.json" \
	--out "$T/vae_dir" -q >/dev/null
enc --vae "$T/vae_dir" --buckets "$T/b64.json" --out "$T/vdir" -q <"$T/one.csv" >/dev/null
expect "--vae DIR: a sora-mkmodel folder" \
	"$($PY "$READ" "$T/vdir" | $PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["tensors"]["latent"])')" \
	"[16, 3, 6, 10]"
enc --vae-config "$FX/video/vae_tiny_config.json" --out "$T/u5" -q <"$T/one.csv" >/dev/null 2>&1
expect "--vae-config without --vae: usage error" "$?" 2
printf 'id,text\nx,y\n' | venc --out "$T/u6" -q >/dev/null 2>&1
expect "--vae without a path column: usage error" "$?" 2

exit $((FAILS > 0))
