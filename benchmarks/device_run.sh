#!/usr/bin/env bash
# The GPU checks and benchmarks, as run on a lent GPU machine (see benchmarks/README.md).
#
# That machine has torch, transformers, tokenizers, scikit-learn and pandas but no package
# index: fairbridge's other needs travel as wheels in .whl/ (fairlearn, aif360, shap, slicer,
# lime, fairret), MiniLM's config and tokenizer in .device/minilm/ (its architecture is built
# from the config with random weights: timing does not depend on them), and fairbridge itself
# is put on the path from the source tree.
set -uo pipefail
OUT=${OUT:-/tmp/fairbridge-device}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r bridge /tmp/pkg/fairbridge && cp -r adapters /tmp/pkg/fairbridge/adapters
export PYTHONPATH=/tmp/pkg:/tmp/site FAIRBRIDGE_MINILM_DIR=$PWD/.device/minilm HF_HUB_OFFLINE=1 \
  PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, sklearn, pandas, fairlearn, shap, lime; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sklearn', sklearn.__version__, 'pandas', pandas.__version__, 'shap', shap.__version__)" | tee -a "$OUT/gpu.txt"
STEPS=${STEPS:-tests inference explainers}
for step in $STEPS; do
  case $step in
    tests) timeout 100 python3 -m pytest tests/adapters/test_gpu.py -q -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/gpu-tests.log" ;;
    inference) timeout ${INF_TIMEOUT:-280} python3 benchmarks/bench_inference.py --device cuda ${INF_ARGS:---n 10000 --naive-n 300} --minilm-config .device/minilm --json "$OUT/inference.json" 2>&1 | tee "$OUT/inference.log" | grep -E '^\||^###|TFLOP|^machine|Error|error' ;;
    explainers) timeout 150 python3 benchmarks/bench_explainers.py --device cuda --n 5 --batch1-n 1 --minilm-config .device/minilm --json "$OUT/explainers.json" 2>&1 | tee "$OUT/explainers.log" | grep -E '^\||^###|^machine|Error|error' ;;
  esac
done
