#!/usr/bin/env bash
# sora-train --replay: the official training step of the tiny MMDiT (mmdit_tiny_io `train.*`, config A)
# from its stored inputs: the prediction and loss within 1e-5·max|ref|, every parameter and input gradient
# within 1e-4 of its own tensor's largest value (the fixture README's bounds); the same bytes with gradient
# checkpointing; bad input. Each comparison is also run at a bound it must break, so it cannot pass on
# nothing.
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
[ "$FAILS" -eq 0 ]
