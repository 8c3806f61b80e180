#!/usr/bin/env bash
# sora-train --replay: the official training step of the tiny MMDiT (mmdit_tiny_io `train.*`, config A)
# from its stored inputs: the prediction and loss within 1e-5·max|ref|, every parameter and input gradient
# within 1e-4 of its own tensor's largest value (the fixture README's bounds); the same bytes with gradient
# checkpointing; bad input. Each comparison is also run at a bound it must break, so it cannot pass on
# nothing. Then training on a dataset sora-encode makes here (tiny fixture VAE, T5 and CLIP; a tiny
# MMDiT from sora-mkmodel): the loss falls over 200 steps, sora-sample loads the checkpoint, a run stopped
# and resumed (and one killed with -9 while it writes checkpoints) ends with the uninterrupted run's
# losses and weights bit for bit; a corrupt shard, an unknown config key, a model the data does not fit
# and a checkpoint of another size each give one clear error.
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
V=$FX/video
need_fixtures "train" "$V/mmdit_tiny_io.safetensors" "$V/mmdit_tiny.safetensors" "$V/mmdit_tiny_flux.safetensors"
echo '{"axes_dim": [8, 12, 12]}' >"$T/mmdit.json"
DIT=(--model "$V/mmdit_tiny.safetensors" --model-config "$T/mmdit.json")

# step_check NAME GOT TOL WANT: every tensor of GOT against train.<name> of the fixture
step_check() {
	expect "$1" "$(python3 "$COMPARE" --all "$2" "$V/mmdit_tiny_io.safetensors" train. --tol "$3" 2>/dev/null)" "$4"
}

sora-train -q --replay "$V/mmdit_tiny_io.safetensors" --prefix train. "${DIT[@]}" --out "$T/step.safetensors"
expect "replay: exit 0" "$?" 0
step_check "replay: pred, loss, dloss_dpred, 106 parameter and 4 input gradients within 1e-4·max|ref|" \
	"$T/step.safetensors" 1e-4 "ok 113"
for t in pred loss; do
	expect "replay: $t within 1e-5·max|ref|" \
		"$(python3 "$COMPARE" "$T/step.safetensors" $t "$V/mmdit_tiny_io.safetensors" train.$t --tol 1e-5 2>/dev/null)" ok
done
must_fail "the gradient check breaks at a bound below float32 rounding" step_check x "$T/step.safetensors" 1e-9 "ok 113"

sora-train -q --replay "$V/mmdit_tiny_io.safetensors" --prefix train. "${DIT[@]}" --grad-ckpt 2,2 \
	--out "$T/ckpt.safetensors"
expect "--grad-ckpt 2,2: exit 0" "$?" 0
expect_same "--grad-ckpt 2,2: the same bytes as without" "$T/ckpt.safetensors" "$T/step.safetensors"

# Bad input: one clear line, exit 1 (or 2 for a usage error), no output.
sora-train -q --replay "$V/mmdit_tiny_io.safetensors" --prefix train. "${DIT[@]}" --grad-ckpt x \
	--out "$T/bad.safetensors" 2>"$T/err"
expect "--grad-ckpt x: usage error" "$?" 2
sora-train -q --replay "$V/mmdit_tiny_io.safetensors" --prefix nope. "${DIT[@]}" --out "$T/bad.safetensors" 2>"$T/err"
expect "a missing input: exit 1" "$?" 1
expect_contains "a missing input is named" "$(cat "$T/err")" "nope.x_t missing"
sora-train -q --replay "$V/mmdit_tiny_io.safetensors" --prefix train. --model "$V/mmdit_tiny_flux.safetensors" \
	--model-config "$T/mmdit.json" --out "$T/bad.safetensors" 2>"$T/err"
expect "another model's layout: exit 1" "$?" 1
expect_contains "another model's layout: the guidance input it needs is named" "$(cat "$T/err")" "train.guidance missing"
[ -e "$T/bad.safetensors" ] && fail "a failed replay wrote no output" || ok "a failed replay wrote no output"

# ---- training on a dataset made by the pipeline ----
need_fixtures "train: data" "$FX/text/t5_tiny.safetensors" "$FX/text/clip_text_tiny.safetensors" \
	"$V/vae_tiny.safetensors" "$V/vae_tiny_config.json"
CFG=$(cd "$(dirname "$0")/../.." && pwd)/configs/tiny
fixture_text_models "$T" "$FX"
echo '{"bucket_config": {"64px": {"1": [1.0, 2], "5": [1.0, 2], "9": [1.0, 2]}}}' >"$T/b64.json"
echo 'id,path,text' >"$T/clips.csv"
for i in 0 1 2 3 4 5; do
	ff -f lavfi -i testsrc2=size=80x48:rate=24 -vf "hue=h=$((i * 60))" -frames:v 12 -pix_fmt yuv420p "$T/c$i.mp4"
	echo "c$i,$T/c$i.mp4,a test card in hue $i" >>"$T/clips.csv"
done
sora-encode --t5 "$T/t5" --clip "$T/clip" --vae "$V/vae_tiny.safetensors" --vae-config "$V/vae_tiny_config.json" \
	--buckets "$T/b64.json" --t5-trim --out "$T/ds" -q <"$T/clips.csv" >/dev/null
expect "dataset: sora-encode --vae exit 0" "$?" 0
printf 'text\n""\n' >"$T/empty.csv"
sora-embed --t5 "$T/t5" --out "$T/null_t5.safetensors" -q <"$T/empty.csv" >/dev/null &&
	sora-embed --clip "$T/clip" --out "$T/null_clip.safetensors" -q <"$T/empty.csv" >/dev/null
expect "the empty prompt's embeddings: exit 0" "$?" 0
sora-mkmodel -q --kind mmdit --config "$CFG/mmdit.json" --out "$T/dit" --seed 1
expect "a tiny MMDiT from sora-mkmodel: exit 0" "$?" 0
TRAIN=(--data "$T/ds" --model "$T/dit/model.safetensors" --model-config "$T/dit/config.json" --lr 1e-3
	--null-t5 "$T/null_t5.safetensors" --null-clip "$T/null_clip.safetensors"
	--condition t2v=1,i2v_head=5,i2v_tail=1,i2v_loop=1 -q)

sora-train "${TRAIN[@]}" --run "$T/long" --max-steps 200 --model-dtype f32
expect "200 steps: exit 0" "$?" 0
expect_file "200 steps: metrics.jsonl has a line per step" "$T/long/metrics.jsonl" 200
falls=$(python3 - "$T/long/metrics.jsonl" <<'PY'
import json, sys
loss = [json.loads(l)["loss"] for l in open(sys.argv[1])]
first, last = sum(loss[:20]) / 20, sum(loss[-20:]) / 20
print("ok" if len(loss) == 200 and last < 0.8 * first else "bad", "mean loss of steps 1-20 %.4f, 181-200 %.4f" % (first, last))
PY
)
case "$falls" in "ok "*) ok "the loss falls over 200 steps (${falls#ok })" ;; *) fail "the loss falls over 200 steps" "$falls" ;; esac
CK=$(ls -d "$T"/long/epoch*-global_step200 | head -1)
expect_file "the last checkpoint holds state.json" "$CK/state.json"
sora-sample --model "$CK/model.safetensors" --model-config "$T/dit/config.json" --vae "$V/vae_tiny.safetensors" \
	--vae-config "$V/vae_tiny_config.json" --t5 "$T/t5" --clip "$T/clip" --height 48 --width 80 --num-frames 9 \
	--num-steps 2 --prompt "a test card" --save-dir "$T/samples" -q
expect "sora-sample loads the trained checkpoint: exit 0" "$?" 0
mp4=$(ls "$T"/samples/video_None/*.mp4 2>/dev/null | head -1)
[ -s "$mp4" ] && ok "sora-sample wrote a video ($(basename "$mp4"))" || fail "sora-sample wrote a video" "none in $T/samples"

# A FLUX.1-dev-layout start (fused qkv, guidance_in, interleaved RoPE) trains as Open-Sora 2.0's layout.
sed 's/"fused_qkv": false/"fused_qkv": true/; s/"guidance_embed": false/"guidance_embed": true/;
	s/"cond_embed": true/"cond_embed": false/; s/"use_liger_rope": true/"use_liger_rope": false/' \
	"$CFG/mmdit.json" >"$T/flux.json"
sora-mkmodel -q --kind mmdit --config "$T/flux.json" --out "$T/flux" --seed 2
sora-train "${TRAIN[@]:0:${#TRAIN[@]}-1}" --model "$T/flux/model.safetensors" --model-config "$T/flux/config.json" \
	--run "$T/fromflux" --max-steps 3 2>"$T/err" # without -q: the conversion is an info line
expect "from the FLUX layout: exit 0" "$?" 0
expect_contains "from the FLUX layout: the conversion is said" "$(cat "$T/err")" "converted to Open-Sora 2.0's"
names=$(python3 -c 'import json, struct, sys; f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n)); print(" ".join(k for k in ("double_blocks.0.img_attn.q_proj.weight", "cond_in.weight",
    "single_blocks.0.v_mlp.weight", "guidance_in.in_layer.weight", "double_blocks.0.img_attn.qkv.weight") if k in h))' \
	"$(ls -d "$T"/fromflux/epoch*-global_step3)/model.safetensors")
expect "from the FLUX layout: the checkpoint has Open-Sora 2.0's names (q_proj, cond_in, v_mlp; no guidance_in, no qkv)" \
	"$names" "double_blocks.0.img_attn.q_proj.weight cond_in.weight single_blocks.0.v_mlp.weight"

# Resume: 30 steps straight, against 12 then a resume to 30, and against runs killed with -9 while they
# write a checkpoint after every step.
sora-train "${TRAIN[@]}" --run "$T/straight" --max-steps 30 --ckpt-every 10
sora-train "${TRAIN[@]}" --run "$T/resumed" --max-steps 12 &&
	sora-train "${TRAIN[@]}" --run "$T/resumed" --max-steps 30 --resume
expect "stopped at 12 and resumed: exit 0" "$?" 0
last() { ls -d "$1"/epoch*-global_step30 2>/dev/null | head -1; }
expect_same "resumed: the final master weights are the straight run's, bit for bit" \
	"$(last "$T/resumed")/master.safetensors" "$(last "$T/straight")/master.safetensors"
expect_same "resumed: the optimizer's moments too" \
	"$(last "$T/resumed")/optimizer.safetensors" "$(last "$T/straight")/optimizer.safetensors"
losses() { python3 -c 'import json, sys; [print(json.loads(l)["step"], json.loads(l)["loss"]) for l in open(sys.argv[1])]' "$1"; }
losses "$T/straight/metrics.jsonl" >"$T/straight.loss"
losses "$T/resumed/metrics.jsonl" >"$T/resumed.loss"
expect_same "resumed: the same loss at every step" "$T/resumed.loss" "$T/straight.loss"
for wait_ckpts in 3 9 17; do
	R=$T/killed$wait_ckpts
	sora-train "${TRAIN[@]}" --run "$R" --max-steps 30 --ckpt-every 1 &
	pid=$!
	until [ "$(ls -d "$R"/epoch* 2>/dev/null | wc -l)" -ge $wait_ckpts ] || ! kill -0 $pid 2>/dev/null; do sleep 0.01; done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	sora-train "${TRAIN[@]}" --run "$R" --max-steps 30 --resume
	expect "kill -9 after $wait_ckpts checkpoints, resumed: exit 0" "$?" 0
	expect_same "kill -9 after $wait_ckpts checkpoints, resumed: the straight run's weights" \
		"$(last "$R")/master.safetensors" "$(last "$T/straight")/master.safetensors"
	losses "$R/metrics.jsonl" >"$R.loss"
	expect_same "kill -9 after $wait_ckpts checkpoints, resumed: one line per step, the straight run's losses" \
		"$R.loss" "$T/straight.loss"
done

# SIGTERM (Slurm's preemption): the step in flight ends, a checkpoint is saved, exit 0; a resume goes on.
R=$T/term
sora-train "${TRAIN[@]}" --run "$R" --max-steps 100000 &
pid=$!
until [ "$(wc -l <"$R/metrics.jsonl" 2>/dev/null || echo 0)" -ge 5 ] || ! kill -0 $pid 2>/dev/null; do sleep 0.01; done
kill -TERM $pid
wait $pid
expect "SIGTERM: exit 0" "$?" 0
steps=$(wc -l <"$R/metrics.jsonl")
expect "SIGTERM: a checkpoint of the last step logged" "$(ls -d "$R"/epoch*-global_step"$steps" 2>/dev/null | wc -l)" 1
sora-train "${TRAIN[@]}" --run "$R" --max-steps $((steps + 2)) --resume
expect "SIGTERM then --resume: two more steps" "$(wc -l <"$R/metrics.jsonl")" $((steps + 2))

# Bad input: one clear line, a non-zero exit, no crash.
mkdir -p "$T/corrupt" && cp "$T/ds"/* "$T/corrupt/"
shard=$(ls "$T/corrupt"/shard-*.mdb | head -1)
size=$(stat -c %s "$shard")
dd if=/dev/urandom of="$shard" bs=1 seek=$((size / 3)) count=$((size / 3)) conv=notrunc 2>/dev/null
sora-train "${TRAIN[@]}" --data "$T/corrupt" --run "$T/bad1" --max-steps 2 2>"$T/err"
rc=$?
case $rc in 0 | 1) ok "a corrupt shard: a clean exit ($rc)" ;; *) fail "a corrupt shard: a clean exit" "exit $rc: $(cat "$T/err")" ;; esac
[ $rc -eq 0 ] && expect_contains "a corrupt shard: its rows counted as skipped" "$(cat "$T/err")" "rows skipped"
[ $rc -eq 1 ] && expect_contains "a corrupt shard: named" "$(cat "$T/err")" "$(basename "$shard")"
echo '{"lr": 1e-4, "warmup_step": 10}' >"$T/typo.json"
sora-train "${TRAIN[@]}" --config "$T/typo.json" --run "$T/bad2" 2>"$T/err"
expect "a config with an unknown key: usage error" "$?" 2
expect_contains "a config with an unknown key: the key is named" "$(cat "$T/err")" "unknown key 'warmup_step'"
sora-train "${TRAIN[@]}" --model "$V/mmdit_tiny.safetensors" --model-config "$T/mmdit.json" --dropout-t5 0 \
	--dropout-clip 0 --run "$T/bad3" --max-steps 2 2>"$T/err"
expect "a model the data does not fit (48-wide text input, 32-wide T5): exit 1" "$?" 1
expect_contains "a model the data does not fit: said" "$(cat "$T/err")" "32-wide T5"
sed 's/"hidden_size": 64/"hidden_size": 32/; s/"num_heads": 4/"num_heads": 2/' "$CFG/mmdit.json" >"$T/small.json"
sora-mkmodel -q --kind mmdit --config "$T/small.json" --out "$T/small" --seed 1
sora-train "${TRAIN[@]}" --model "$T/small/model.safetensors" --model-config "$T/small/config.json" \
	--run "$T/straight" --max-steps 40 --resume 2>"$T/err"
expect "resuming with a model of another size: exit 1" "$?" 1
expect_contains "resuming with a model of another size: a tensor is named" "$(cat "$T/err")" "img_in"
[ "$FAILS" -eq 0 ]
