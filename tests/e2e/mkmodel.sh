#!/usr/bin/env bash
# sora-mkmodel: the tiny model folders of configs/tiny/ tokenize through sora-tokenize, hold the published
# tensor names and shapes (the official state_dict of the fixture configs), and the same seed gives the
# same bytes. (Loading and forward passes through our loaders: tests/unit/test_mkmodel.c.)
. "$(dirname "$0")/lib.sh"
CFG=$(cd "$(dirname "$0")/../.." && pwd)/configs/tiny
FIX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}

for k in t5:t5 clip-text:clip_text clip-vision:clip_vision clip:clip hunyuan-vae:hunyuan_vae mmdit:mmdit; do
	sora-mkmodel -q --kind "${k%%:*}" --config "$CFG/${k##*:}.json" --out "$T/a/${k##*:}" --seed 3 || fail "make ${k%%:*}"
	sora-mkmodel -q --kind "${k%%:*}" --config "$CFG/${k##*:}.json" --out "$T/b/${k##*:}" --seed 3
done
# same_tree NAME A B: the six folders written (each with its weights) and identical, file for file (two
# runs that wrote nothing are not the same)
same_tree() {
	expect "$1" "$(find "$2" -name model.safetensors -size +0 | wc -l) $(diff -r "$2" "$3" >/dev/null && echo same)" "6 same"
}
same_tree "same seed: every file identical" "$T/a" "$T/b"
mkdir -p "$T/none1" "$T/none2"
must_fail "same_tree: two empty folders are not the same" same_tree x "$T/none1" "$T/none2"
sora-mkmodel -q --kind t5 --config "$CFG/t5.json" --out "$T/c" --seed 4
expect_differ "another seed: other weights" "$T/a/t5/model.safetensors" "$T/c/model.safetensors"
expect "files of a T5 folder" "$(ls "$T/a/t5" | tr '\n' ' ')" "config.json model.safetensors spiece.model "
expect "files of a CLIP text folder" "$(ls "$T/a/clip_text" | tr '\n' ' ')" "config.json merges.txt model.safetensors vocab.json "
expect_same "config.json is the given config" "$CFG/t5.json" "$T/a/t5/config.json"

printf 'text\n"A playful fox runs across a snowy forest, cinematic."\n' >"$T/p.csv"
got=$(sora-tokenize -q --t5 "$T/a/t5" --max-length 16 <"$T/p.csv")
expect "T5: sora-tokenize loads spiece.model (no <unk>, ends with </s>)" \
	"$(python3 -c "import json,sys; i=json.loads(sys.argv[1]); n=i.index(1); print(2 not in i, 5 < n < 16, set(i[n+1:]) <= {0})" "$got")" \
	"True True True"
got=$(sora-tokenize -q --clip "$T/a/clip_text" --max-length 20 <"$T/p.csv")
expect "CLIP: sora-tokenize loads vocab.json and merges.txt (merged words)" \
	"$(python3 -c "import json,sys; i=json.loads(sys.argv[1]); n=i.index(49407); print(i[0] == 49406, 3 < n < 15)" "$got")" \
	"True True"

sora-mkmodel --kind vae --config "$CFG/t5.json" --out "$T/x" 2>/dev/null
expect "unknown kind: usage error" $? 2
sora-mkmodel --kind t5 --out "$T/x" 2>/dev/null
expect "no --config: usage error" $? 2
err=$(sora-mkmodel --kind t5 --config "$T/none.json" --out "$T/x" 2>&1)
expect "missing config: exit 1, named" "$? $(grep -c none.json <<<"$err")" "1 1"
err=$(sora-mkmodel --kind clip-text --config "$CFG/t5.json" --out "$T/y" 2>&1)
expect "wrong config for the kind: the missing key named, nothing written" \
	"$(grep -c 'hidden_size is missing\|vocab_size' <<<"$err") $(ls "$T/y" 2>/dev/null | wc -l)" "1 0"

# Published names and shapes: our kinds on the fixture configs = the state_dicts transformers saved (last:
# the only part that needs the fixtures).
need_fixtures "mkmodel: published names" "$FIX/text/t5_tiny_config.json" "$FIX/text/t5_tiny.safetensors" \
	"$FIX/text/clip_text_tiny_config.json" "$FIX/text/clip_text_tiny.safetensors" \
	"$FIX/text/clip_vision_tiny_config.json" "$FIX/text/clip_vision_tiny.safetensors"
for k in t5:t5_tiny clip-text:clip_text_tiny clip-vision:clip_vision_tiny; do
	sora-mkmodel -q --kind "${k%%:*}" --config "$FIX/text/${k##*:}_config.json" --out "$T/f/${k##*:}"
	got=$(python3 - "$T/f/${k##*:}/model.safetensors" "$FIX/text/${k##*:}.safetensors" <<'PY'
import json, struct, sys
def shapes(p):
    with open(p, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop('__metadata__', None)
    return {k: tuple(v['shape']) for k, v in h.items()}
a, b = shapes(sys.argv[1]), shapes(sys.argv[2])
print('same' if a and a == b else 'differ: %s' % sorted(set(a.items()) ^ set(b.items()))[:4])
PY
)
	expect "${k%%:*}: tensor names and shapes of transformers' state_dict" "$got" same
done

exit $((FAILS > 0))
