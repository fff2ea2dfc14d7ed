#!/bin/bash
# alternating: before (61d593f, 5 a step) and after (working tree, 25 a step), nsgan_gaussian.yaml as shipped
set -x
for r in 1 2; do
  (cd /work/before && .venv/bin/python -m benchmarks.speed --config configs/nsgan_gaussian.yaml --iterations 500 5500 --repeats 3 --out benchmarks/results/speed-twenty-five-iterations-a-step/20261206-epyc-before-$r)
  (cd /work/main && .venv/bin/python -m benchmarks.speed --config configs/nsgan_gaussian.yaml --iterations 500 5500 --repeats 3 --out benchmarks/results/speed-twenty-five-iterations-a-step/20261206-epyc-after-$r)
done
(cd /work/main && .venv/bin/python -m benchmarks.speed --config configs/nsgan_mnist_pytorch_tutorial.yaml configs/nsgan_mnist.yaml \
    --iterations 20 220 --repeats 2 --out benchmarks/results/speed-twenty-five-iterations-a-step/20261206-epyc-mnist-after -- \
    --data.init_args.data_dir data/mnist5k --data.init_args.download false --data.init_args.val_size 500)
