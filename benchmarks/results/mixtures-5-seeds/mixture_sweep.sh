#!/bin/bash
# usage: mixture_sweep.sh OUT "objs" "datasets" "seeds" [extra fit args...]
OUT=$1; OBJS=$2; DSS=$3; SEEDS=$4; shift 4
mkdir -p $OUT
cd ${TREE:-/work/sweep}
declare -A CLS=([gan]=GAN [nsgan]=NSGAN [lsgan]=LSGAN [hinge]=Hinge [rpgan]=RpGAN [wgan]=WGAN [wgangp]=WGANGP)
for ds in $DSS; do for obj in $OBJS; do for s in $SEEDS; do
  name=$obj-$ds-seed$s
  [ -f $OUT/$name.json ] && continue
  if [ -f configs/${obj}_${ds}.yaml ]; then cfg="configs/${obj}_${ds}.yaml"; else cfg="configs/nsgan_${ds}.yaml --model ${CLS[$obj]}"; fi
  flock /tmp/heavy.lock bash -c "
  .venv/bin/python -m gan_lightning fit --config $cfg --seed_everything $s \
     --model.init_args.latent.seed $s --data.init_args.seed $s --trainer.default_root_dir $OUT/runs --run_name $name \
     --trainer.enable_progress_bar false $* > $OUT/$name.fit.log 2>&1 && \
  .venv/bin/python -m gan_lightning evaluate --ckpt_path $OUT/runs/$name/checkpoints/last.ckpt --num_samples 10000 --wandb false > $OUT/$name.eval.log 2>&1 && \
  cp \$(ls $OUT/runs/$name/checkpoints/eval-*.json | tail -1) $OUT/$name.json"
  python3 -c "import json;m=json.load(open('$OUT/$name.json'))['metrics'];print('$name',m['modes'],round(m['high_quality'],3),round(m['w1'],4))" >> $OUT/summary.txt 2>/dev/null || echo "$name FAILED" >> $OUT/summary.txt
done; done; done
echo DONE >> $OUT/summary.txt
