#!/bin/sh
# The whole recipe (MODEL_CARD.md), niced so it only takes idle CPU: prepare, train both, export.
set -e
cd "$(dirname "$0")/../.."
NODE=node_modules/node/bin/node
# Debian's torch links the reference BLAS (about 3 GFLOP/s here); OpenBLAS (libopenblas0-pthread)
# is 30x faster. Loaded by path so the system's libblas.so.3 alternative stays as it is.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=2
RUN="nice -n 19 ionice -c3"
$RUN $NODE tools/train/prepare.ts
$RUN /usr/bin/python3 tools/train/train.py --shape draft --out .cache/train/draft --steps 200 --lr 3e-3
$RUN /usr/bin/python3 tools/train/train.py --shape target --out .cache/train/target-stage1 --steps 220 --lr 2e-3
# A second cosine from the first stage's weights: the budget ran out of the first schedule before the
# loss stopped falling, and this took what was left of the hour.
$RUN /usr/bin/python3 tools/train/train.py --shape target --init .cache/train/target-stage1 --out .cache/train/target --steps 150 --lr 1e-3
$RUN $NODE tools/train/export.ts
# Distillation: the draft learns the served (Q8_0) target's next-token distribution, which is what
# speculative decoding accepts against. Both start from the exported files, as they are served.
$RUN $NODE tools/train/from-gguf.ts kjv-llama-16m-q8_0 .cache/train/target-q8
$RUN $NODE tools/train/from-gguf.ts kjv-llama-3m-q8_0 .cache/train/draft-q8
$RUN /usr/bin/python3 tools/train/train.py --shape draft --init .cache/train/draft-q8 --teacher .cache/train/target-q8 --out .cache/train/draft --steps 120 --lr 1e-3
$RUN $NODE tools/train/export.ts kjv-llama-3m-q8_0
