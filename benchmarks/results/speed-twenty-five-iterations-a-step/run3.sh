#!/bin/bash
set -x
for r in 6 7; do
  (cd /work/main && .venv/bin/python -m benchmarks.speed --config configs/nsgan_gaussian.yaml --iterations 500 5500 --repeats 3 --out benchmarks/results/speed-twenty-five-iterations-a-step/20261206-epyc-after-$r)
  (cd /work/before && .venv/bin/python -m benchmarks.speed --config configs/nsgan_gaussian.yaml --iterations 500 5500 --repeats 3 --out benchmarks/results/speed-twenty-five-iterations-a-step/20261206-epyc-before-$r)
done
