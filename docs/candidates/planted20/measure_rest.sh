#!/usr/bin/env bash
# Every measurement behind the card of `checkpoints/rmt-minilm-babi` (this run, shipped in session 34):
# the JSONs already in this folder (copied into OUTDIR first) are not re-run, so what runs is what the
# card still lacks (`rmt.publish --update` adds it; see README.md here).
#
#   bash docs/candidates/planted20/measure_rest.sh CKPT OUTDIR [DONE]
#
# DONE is a folder of finished JSONs to start from (default: this one); "" measures everything, for
# another checkpoint (about 10 hours of the 2-core CPU).
# CKPT is checkpoints/rmt-minilm-babi (or the fp16 rebuild in README.md here: the same weights). The slow points run as
# commands of a few minutes to 41 minutes each (the 2,000,000-token ones 8 haystacks a seed, pooled by
# `rmt.publish` as the shipped card's were), ordered so the tables the app quotes come first. Each
# command writes OUTDIR/NAME.json only when it finished; a file that exists is skipped, so the script
# resumes after an interruption and loses at most the command it was in.
set -euo pipefail
ckpt=${1:?CKPT}
out=${2:?OUTDIR}
done_dir=${3-$(dirname "$0")}
mkdir -p "$out"
# The JSONs committed beside this script are finished points: start from them, never redo them.
# (A loop, not `cp -n`, whose exit status on an existing file differs between coreutils releases.)
shopt -s nullglob
for done_json in ${done_dir:+"$done_dir"/*.json}; do
    [[ -e $out/$(basename "$done_json") ]] || cp "$done_json" "$out"/
done
shopt -u nullglob
export HF_HUB_OFFLINE=1 PYTHONPATH=${PYTHONPATH:-.}

keep() {  # keep NAME COMMAND...: COMMAND's stdout becomes OUTDIR/NAME.json once it has finished
    local name=$1
    shift
    [[ -s $out/$name.json ]] && return 0
    echo "== $name: $*" >&2
    "$@" > "$out/$name.json.part"
    mv "$out/$name.json.part" "$out/$name.json"
}

run() {  # run NAME ARGS...: one rmt.evaluate call on CKPT
    local name=$1
    shift
    keep "$name" python -m rmt.evaluate --checkpoint "$ckpt" --json "$@"
}

for task in memorize detect reasoning; do
    run "$task-1-32" --task "$task" --segments 1,2,4,8,16,32 --samples 200 --batch-size 100
done
for task in memorize detect reasoning; do  # 24-41 minutes each
    run "$task-1024" --task "$task" --segments 1024 --samples 200 --batch-size 100
done
keep misses python -m rmt.misses --checkpoint "$ckpt" "$out/reasoning-1-32.json" "$out/reasoning-1024.json" \
    --summary
run needle --task detect --segments 1,4,16,64,256 --depths 0,0.25,0.5,0.75,1 --samples 40 --batch-size 40
for task in detect memorize; do
    for k in 1 3; do
        run "names-$task-$k" --task "$task" --segments 1,4,16 --samples 100 --batch-size 50 --other-people "$k"
    done
done
for task in detect memorize reasoning; do
    run "no-rooms-$task-1024" --noise valid-no-rooms --task "$task" --segments 1024 --samples 128 --batch-size 64
done
# At 2,000,000 tokens, 8 haystacks a command (about 17 minutes each on the 2-core CPU): first the whole
# book (Memorize and Detect, where DONE lacks them), Reasoning and the no-room points on 32 haystacks (seeds 0-3), then Reasoning on 24 more (seeds 4-6: 56 in all, as
# the shipped card), so a table stopped partway still pools its first seeds.
no_rooms_2m() {  # no_rooms_2m SEED: both no-room points at 2M on that seed's 8 haystacks
    for task in detect memorize; do
        run "no-rooms-$task-2000000-seed$1" --noise valid-no-rooms --task "$task" --tokens 2000000 --samples 8 \
            --batch-size 8 --seed "$1"
    done
}
reasoning_2m() {  # reasoning_2m SEED
    run "reasoning-2000000-seed$1" --task reasoning --tokens 2000000 --samples 8 --batch-size 8 --seed "$1"
}
whole_book_2m() {  # whole_book_2m K: Memorize and Detect at 2M on haystacks 8K-8K+7 of seed 0, unless DONE had them
    # (the card's: one run of 32 on seed 0, so the four pieces read its haystacks, pairing the two readings)
    for task in memorize detect; do
        [[ -s $out/$task-2000000.json ]] || run "$task-2000000-from$((8 * $1))" --task "$task" --tokens 2000000 \
            --samples 8 --batch-size 8 --seed 0 --start-index $((8 * $1))
    done
}
for seed in 0 1 2 3; do
    whole_book_2m "$seed"
    reasoning_2m "$seed"
    no_rooms_2m "$seed"
done
for seed in 4 5 6; do
    reasoning_2m "$seed"
done
echo "done: $out" >&2
