#!/usr/bin/env bash
# Measures tunedfs-server's trainer (server/nn*.c, server/train.c) on this machine:
# the tutorial's 15 examples at the epoch count the tutorial walkthrough uses and at the
# allowed maximum (300), then how steps per second and total time scale with the number
# of examples (10, 100, 1,000) and with the input length. Prints figures, asserts nothing.
#
#   tests/bench/trainer.sh [BUILD_DIR]      (default: build-nn; configured if missing)
#   EPOCHS=45 SEEDS="1 2 3" SCALE_EPOCHS=10 tests/bench/trainer.sh
set -eu
cd "$(dirname "$0")/../.."
build=${1:-build-nn}
data=${DATA:-examples/number-generator/examples.jsonl}
epochs=${EPOCHS:-45}
seeds=${SEEDS:-1 2 3 4 5}
scale_epochs=${SCALE_EPOCHS:-10}

[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" tests/nn/trainer_bench >/dev/null
bench=$build/tests/nn/trainer_bench

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
row() { printf '%-9s %-10s %-7s %-8s %-8s %-9s %-9s %-8s %s\n' "$@"; }
# the driver's key=value line after two leading columns
result() {
	row "$1" "$2" "$(field steps <<<"$3")" "$(field time <<<"$3")" "$(field cpu <<<"$3")" \
		"$(field steps_per_s <<<"$3")" "$(field cpu_steps_per_s <<<"$3")" \
		"$(field correct <<<"$3")" "$(field gen_cpu_ms <<<"$3")"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "time = wall clock, cpu = the training thread's CPU time; steps/s for each;"
echo "correct = greedy answers equal to the training outputs (at most 200 checked);"
echo "gen_ms = CPU milliseconds per greedy answer"
echo
echo "== tutorial data ($(wc -l <"$data") examples), batch 4, learning rate 0.001"
row epochs seed steps time cpu steps/s cpu_st/s correct gen_ms
for e in "$epochs" 300; do
	for s in $seeds; do
		result "$e" "$s" "$("$bench" "$data" "$e" 4 "$s" 0.001)"
		[ "$e" = 300 ] && break # one run at the maximum is enough for its time
	done
done

echo
echo "== scaling: synthetic 'next number' examples, $scale_epochs epochs, batch 4"
echo "   (input = the number, left-padded with filler text to the given length;"
echo "    the context is 128 bytes, longer inputs are cut from the left)"
row examples input_len steps time cpu steps/s cpu_st/s correct gen_ms
run_synth() {
	len=$2
	[ "$len" = 0 ] && len="1-7"
	result "$1" "$len" "$("$bench" "synth:$1:$2" "$scale_epochs" 4 1 0.001)"
}
for n in 10 100 1000; do run_synth "$n" 0; done
for len in 32 64 120 2000; do run_synth 100 "$len"; done
