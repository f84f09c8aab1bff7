#!/bin/bash
# Submit ingest -> annotate -> embed (and, with FEATURES=1, PSS page features) as chained Slurm
# jobs: each array stage waits for the stage before it (afterok), each merge for its whole array.
# Usage:
#
#   LIBRARY=~/comics WORK=/scratch/$USER/comics MODEL=/models/closure-lite SHARDS=16 \
#     bash scripts/slurm/submit.sh
#
# EMBED_SBATCH adds sbatch options to the embed array (default: one GPU per task);
# INGEST_ARGS / ANNOTATE_ARGS / EMBED_ARGS / FEATURES_ARGS add flags to the commands (see
# comics.sbatch). FEATURES=1 adds `pss features` of the annotate output (array + merge, after
# annotate-merge; FEATURES_SBATCH: its sbatch options).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JOB="$HERE/comics.sbatch"
K=${SHARDS:-8}
LAST=$((K - 1))
EMBED_SBATCH=${EMBED_SBATCH---gres=gpu:1}

ingest=$(sbatch --parsable --array=0-$LAST "$JOB" ingest)
merged=$(sbatch --parsable --dependency=afterok:$ingest "$JOB" ingest-merge)
annotate=$(sbatch --parsable --array=0-$LAST --dependency=afterok:$merged "$JOB" annotate)
annotated=$(sbatch --parsable --dependency=afterok:$annotate "$JOB" annotate-merge)
embed=$(sbatch --parsable --array=0-$LAST --dependency=afterok:$annotated $EMBED_SBATCH "$JOB" embed)
features=""
if [[ ${FEATURES:-0} == 1 ]]; then
    array=$(sbatch --parsable --array=0-$LAST --dependency=afterok:$annotated ${FEATURES_SBATCH:-} "$JOB" features)
    merge=$(sbatch --parsable --dependency=afterok:$array "$JOB" features-merge)
    features=", features $array, features-merge $merge"
fi
echo "submitted: ingest $ingest, ingest-merge $merged, annotate $annotate, annotate-merge $annotated, embed $embed$features"
