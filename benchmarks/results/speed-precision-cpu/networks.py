"""Forward and backward of the emoji DCGANs (half and full width) and the SNGAN ResNet at width 64, batch 64 at 32x32,
in float32 and under bfloat16 autocast, in the ordinary and the channels-last layout: where bf16-mixed pays on a CPU."""
import time, torch
from gan_lightning.networks import DCGANGenerator, DCGANDiscriminator, ResNetGenerator, ResNetDiscriminator
torch.manual_seed(0)
def bench(G, D, prec, n=30, fmt=None):
    x = torch.randn(64, 3, 32, 32)
    if fmt: G=G.to(memory_format=fmt); D=D.to(memory_format=fmt); x=x.to(memory_format=fmt)
    for i in range(n+5):
        if i == 5: t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec):
            z = torch.randn(64, 100)
            fake = G(z)
            loss = D(fake).mean() + D(x).mean()
        loss.backward()
    return (time.perf_counter() - t) / n * 1000
for name, G, D in [("dcgan32", DCGANGenerator(latent_dim=100, image_size=32, channels=3, base_width=32, norm="batch"), DCGANDiscriminator(image_size=32, channels=3, base_width=32, norm="batch")),
                   ("dcgan64w", DCGANGenerator(latent_dim=100, image_size=32, channels=3, base_width=64, norm="batch"), DCGANDiscriminator(image_size=32, channels=3, base_width=64, norm="batch")),
                   ("resnet64", ResNetGenerator(latent_dim=100, image_size=32, base_width=64), ResNetDiscriminator(image_size=32, base_width=64, spectral_norm=False))]:
    print(name, "fp32 %.1f ms" % bench(G, D, False), "bf16 %.1f ms" % bench(G, D, True), "fp32 CL %.1f" % bench(G,D,False,fmt=torch.channels_last), "bf16 CL %.1f" % bench(G,D,True,fmt=torch.channels_last), flush=True)
