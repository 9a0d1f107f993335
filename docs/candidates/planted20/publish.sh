#!/usr/bin/env bash
# How checkpoints/rmt-minilm-babi was shipped from this run (session 34): the weights from SOURCE (the
# training checkpoint, `runs/planted20/stage-32/best` after the rebuild in README.md here), the card's
# recipe and notes from recipe.txt and card_notes.md, every table from the JSONs in this folder.
#
#   bash docs/candidates/planted20/publish.sh SOURCE
#
# Run from the repository root. The sha256 it prints must be cb96b09e...6a26 (see README.md).
set -euo pipefail
source_dir=${1:?SOURCE}
c=$(dirname "$0")
shopt -s nullglob
reasoning_2m=("$c"/reasoning-2000000-seed*.json)
python -m rmt.publish --source "$source_dir" --name rmt-minilm-babi \
    --recipe "$(cat "$c/recipe.txt")" --notes "$(cat "$c/card_notes.md")" \
    --eval "$c"/{memorize,detect,reasoning}-1-32.json "$c"/{memorize,detect,reasoning}-1024.json \
    "$c"/{memorize,detect}-2000000.json "${reasoning_2m[@]}" \
    --needle "$c/needle.json" --names "$c"/names-*.json --no-rooms "$c"/no-rooms-*.json \
    --misses "$c/misses.json" --cuts "$c/cuts.json"
cp "$c/distractors.json" checkpoints/rmt-minilm-babi/distractors.json
sha256sum checkpoints/rmt-minilm-babi/model.safetensors
