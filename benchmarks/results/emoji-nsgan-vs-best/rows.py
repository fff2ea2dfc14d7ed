"""RESULTS rows for issue 40's comparison: nsgan_emoji (grid A) against best_emoji at 3/4 width in bf16 (the recipe grid's w48)."""
import json, glob, sys
sys.path.insert(0, '.')
from gan_lightning.compare import interval
nsgan = {r['seed']: r for r in map(lambda f: json.load(open(f)), glob.glob('benchmarks/results/emoji-nsgan-vs-best/emoji-nsgan-vs-best/cells/nsgan_emoji-*.json'))}
best = {r['seed']: r for r in map(lambda f: json.load(open(f)), glob.glob('benchmarks/results/emoji-nsgan-vs-best/emoji-recipes/cells/best_emoji-w48-seed*.json'))}
screen = {r['name']: r for r in map(lambda f: json.load(open(f)), glob.glob('benchmarks/results/emoji-nsgan-vs-best/emoji-recipes/cells/*seed0.json') + glob.glob('benchmarks/results/emoji-nsgan-vs-best/emoji-bf16/cells/*seed0.json'))}
cols = "| seed | config | FID | / NS-GAN's (target <= 0.5) | precision | recall (>= 0.75) | smallest category share | memorization (reals') | iterations in 20 min | training s |"
print(cols); print("|---|---|---|---|---|---|---|---|---|---|")
for seed in sorted(set(nsgan) | set(best)):
    for name, r in (("nsgan_emoji.yaml", nsgan.get(seed)), ("best_emoji.yaml", best.get(seed))):
        if r is None: continue
        f = r['final']; ratio = f"{f['fid'] / nsgan[seed]['final']['fid']:.2f}" if seed in nsgan else '-'
        print(f"| {seed} | `{name}` | {f['fid']:.2f} | {ratio} | {f['precision']:.2f} | {f['recall']:.2f} | {f['min_class_share']:.3f} | {f['memorization']:.2f} ({f['memorization_reals']:.2f}) | {r['iterations']:,} | {r['train_s']:,.0f} |")
both = sorted(set(nsgan) & set(best))
print()
print("| config | seeds | FID | / NS-GAN's | precision | recall | smallest category share | memorization | iterations |")
print("|---|---|---|---|---|---|---|---|---|")
for name, rs in (("nsgan_emoji.yaml", nsgan), ("best_emoji.yaml", best)):
    runs = [rs[s] for s in both]
    g = lambda k: [r['final'][k] for r in runs]
    ratios = [best[s]['final']['fid'] / nsgan[s]['final']['fid'] if name.startswith('best') else 1.0 for s in both]
    print(f"| `{name}` | {', '.join(map(str, both))} | {interval(g('fid'))} | {interval(ratios)} | {interval(g('precision'))} | {interval(g('recall'))} | {interval(g('min_class_share'))} | {interval(g('memorization'))} | {interval([r['iterations'] for r in runs], '.0f')} |")
print()
for n, r in sorted(screen.items()):
    f = r['final']; print(n, r['iterations'], round(f['fid'], 2), round(f['precision'], 2), round(f['recall'], 2), round(f['min_class_share'], 3), round(f['memorization'], 2), round(f['memorization_reals'], 2), round(r['best_val'], 2))
