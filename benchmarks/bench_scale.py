"""Cost at real scale: seconds and peak memory of a training step per objective and setting, and of inference,
with Stable Diffusion 2-size components built from configs (random weights, no download) or a real base (`--base`).

The training step is cocogold's own (`cocogold.heads.PaintedHead`: `prepare_training`, the objective's `loss`, backward,
gradient clipping, an Adam step), at batch 1, per objective (diffusion, e2e) and setting:
- `fp32`: everything in float32;
- `bf16`: bf16 autocast of the forward passes (what Accelerate's `mixed_precision="bf16"` does), frozen parts in bf16;
- `ckpt`: fp32 with gradient checkpointing of the UNet (and, for e2e, of the VAE decoder, as `PaintedHead` does);
- `bf16+ckpt`: both (the `sd2` preset's setting).
Inference is `cocogold.pipeline.CocogoldPipeline` at batch 1: the e2e single step, 4 DDIM steps and the original's 50,
ensemble 1 and 5, plus the shares of one mask's time spent in the VAE encoder, the UNet and the VAE decoder.
The read-back (`readback`) times, at each size, what turns a predicted latent into a mask: the full VAE decoder, diffusers'
`AutoencoderTiny` decoder (the TAESD architecture) and cocogold's `LatentReadout`, for SD2's 4 and SD3's 16 latent channels
(random weights do not change the time; the read-out's IoU cost is measured on the distillation page, TAESD's cannot be
offline: no pretrained TAESD weights here).
`sd3` probes Stable Diffusion 3.5 medium at inference: one call of the 2.5B-parameter transformer at the token count
`StableDiffusion3Pipeline` builds (image patches + 77 CLIP + 256 T5 tokens), the CLIP-L and CLIP-G text encoders, the
16-channel VAE; T5-XXL is built on the meta device only (its size, no memory: cocogold runs SD3 without it by default),
and the training memory of the transformer is stated by arithmetic, not measured.

Each measurement runs in its own process, so its peak resident memory is its own: `rss_model` is after the parts
(and, for training, the optimizer) are built, `rss_peak` the peak during the steps; on CUDA also
`torch.cuda.max_memory_allocated`; `activations` the growth of live memory (RSS, or allocated CUDA memory) over the
forward pass, the memory each sample of a micro-batch adds. One line is printed per measurement, one JSON row appended to `--out`
(default benchmarks/results/scale.jsonl), and a closing line gives the memory gradient checkpointing saves per objective.

Usage: `python benchmarks/bench_scale.py [--quick] [--sizes 256 512] [--steps 2] [--base FOLDER] [--measure train inference readback sd3] [--out FILE]`
(`--quick`: 256 px, one step each with no warm-up, settings fp32 and ckpt, two inference settings)."""
import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import time
from pathlib import Path

SD2_UNET = dict(sample_size=96, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
                attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024, use_linear_projection=True,
                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD2_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=768,
               scaling_factor=0.18215)
SD2_TEXT = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16, projection_dim=512,
                hidden_act="gelu", vocab_size=49408, max_position_embeddings=77)
SD35_MEDIUM = dict(sample_size=128, patch_size=2, in_channels=32, out_channels=16, num_layers=24, attention_head_dim=64,
                   num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048,
                   pos_embed_max_size=384, dual_attention_layers=tuple(range(13)), qk_norm="rms_norm")
SD3_VAE = dict(SD2_VAE, latent_channels=16, scaling_factor=1.5305, shift_factor=0.0609, use_quant_conv=False, use_post_quant_conv=False)
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, projection_dim=768,
              hidden_act="quick_gelu", vocab_size=49408, max_position_embeddings=77)
CLIP_G = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20, projection_dim=1280,
              hidden_act="gelu", vocab_size=49408, max_position_embeddings=77)
T5_XXL = dict(d_model=4096, d_ff=10240, d_kv=64, num_layers=24, num_heads=64, vocab_size=32128, feed_forward_proj="gated-gelu")
SD3_TEXT_TOKENS = 77 + 256  # CLIP's tokens + T5's (max_sequence_length 256), as StableDiffusion3Pipeline concatenates them
MEASURES = ("train", "inference", "readback", "sd3")
SETTINGS = {"fp32": dict(bf16=False, ckpt=False), "bf16": dict(bf16=True, ckpt=False), "ckpt": dict(bf16=False, ckpt=True),
            "bf16+ckpt": dict(bf16=True, ckpt=True)}
QUICK_SETTINGS = ("fp32", "ckpt")


def peak_rss_gb() -> float:
    "Peak resident memory of this process so far, in GB (Linux reports KB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def live_gb(device: str) -> float:
    "Memory in use now, in GB: allocated CUDA memory on a GPU, else this process's resident memory (/proc/self/statm)."
    import torch
    if device == "cuda": return torch.cuda.memory_allocated() / 2**30
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def sd2_components(base: str | None, device: str) -> dict:
    "SD2-size components from configs (random weights; the UNet widened to 8 channels), or the base folder's."
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    from cocogold.backbones.sd2 import load_components, widen_conv_in
    from cocogold.backbones.tiny import tiny_tokenizer
    from cocogold.noise import training_scheduler
    if base: return {k: v.to(device) if isinstance(v, torch.nn.Module) else v for k, v in load_components(base).items()}
    torch.manual_seed(0)
    return dict(unet=widen_conv_in(UNet2DConditionModel(**SD2_UNET)).to(device), vae=AutoencoderKL(**SD2_VAE).to(device),
                text_encoder=CLIPTextModel(CLIPTextConfig(**SD2_TEXT)).eval().to(device), tokenizer=tiny_tokenizer(),
                scheduler=training_scheduler("trailing"))


def _batch(size: int, device: str) -> dict:
    import torch
    image = torch.rand(1, 3, size, size, device=device) * 2 - 1
    mask = torch.zeros(1, size, size, dtype=torch.bool, device=device); mask[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = True
    target = torch.where(mask[:, None], torch.ones_like(image), image)
    return dict(image=image, target=target, mask=mask, prompt=["a cat"])


def _cuda_peak_gb(device: str):
    import torch
    return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None


def train_step(objective: str, setting: str, size: int, steps: int, warmup: int, base: str | None, device: str) -> dict:
    """Median seconds per optimizer step and peak memory of `steps` timed steps (after `warmup` untimed ones) at batch 1;
    `activations`: the largest growth of live memory over a forward pass (what it keeps for the backward, per sample)."""
    import torch
    from cocogold.backbones.sd2 import SD2Backbone
    from cocogold.heads import PaintedHead
    from cocogold.noise import DDPMNoise
    from cocogold.objectives import OBJECTIVES
    from cocogold.targets import TargetCodec
    bf16, ckpt = SETTINGS[setting]["bf16"], SETTINGS[setting]["ckpt"]
    parts = sd2_components(base, device)
    head = PaintedHead(SD2Backbone.from_components(parts), DDPMNoise(parts["scheduler"]), OBJECTIVES[objective](), TargetCodec())
    head.prepare_training(device, torch.bfloat16 if bf16 else torch.float32, gradient_checkpointing=ckpt)
    trainable = [p for p in head.trainable.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-5)
    for p in trainable: optimizer.state[p].update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
    rss_model, batch, times, activations = peak_rss_gb(), _batch(size, device), [], 0.0
    for i in range(warmup + steps):
        tick, before = time.perf_counter(), live_gb(device)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = head.loss(batch, [torch.Generator().manual_seed(i)])
        activations = max(activations, live_gb(device) - before)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step(); optimizer.zero_grad(set_to_none=True)
        if device == "cuda": torch.cuda.synchronize()
        if i >= warmup: times.append(time.perf_counter() - tick)
        if not torch.isfinite(loss): raise FloatingPointError(f"{objective} {setting}: loss {loss.item()}")
    return dict(kind="train", objective=objective, setting=setting, size=size, seconds=sorted(times)[len(times) // 2],
                rss_model=rss_model, rss_peak=peak_rss_gb(), cuda_peak=_cuda_peak_gb(device), activations=activations, loss=loss.item(),
                trainable_params=sum(p.numel() for p in trainable))


def inference(size: int, settings: list, base: str | None, device: str) -> list:
    "Seconds per mask and peak memory of the pipeline at each `(mode, steps, ensemble)` of `settings`, and the parts' shares."
    import torch
    from cocogold.pipeline import CocogoldPipeline
    parts = sd2_components(base, device)
    rows, image = [], torch.rand(3, size, size)
    backbone = CocogoldPipeline.from_components(parts).backbone
    with torch.no_grad():
        latent = backbone.encode_images(image[None].to(device) * 2 - 1)
        conditioning, t = backbone.encode_prompts(["a cat"]), torch.tensor([999], device=device)
        shares = {}
        for name, run in (("encoder", lambda: backbone.encode_images(image[None].to(device) * 2 - 1)),
                          ("unet", lambda: backbone.denoise(latent, torch.zeros_like(latent), t, conditioning)),
                          ("decoder", lambda: backbone.decode_latents(latent))):
            run(); tick = time.perf_counter(); run(); shares[name] = time.perf_counter() - tick
    rows.append(dict(kind="parts", size=size, **{f"{k}_seconds": v for k, v in shares.items()}, rss_peak=peak_rss_gb()))
    for mode, steps, ensemble in settings:
        pipe = CocogoldPipeline.from_components(parts, prediction_mode=mode, default_processing_resolution=size)
        pipe.set_progress_bar_config(disable=True)
        tick = time.perf_counter()
        pipe(image, "a cat", num_inference_steps=steps, ensemble_size=ensemble, generator=torch.Generator().manual_seed(0))
        rows.append(dict(kind="inference", mode=mode, steps=steps, ensemble=ensemble, size=size,
                         seconds=time.perf_counter() - tick, rss_peak=peak_rss_gb(), cuda_peak=_cuda_peak_gb(device)))
    return rows


def _timed(run) -> float:
    "Seconds of one call of `run` after a warm-up call."
    run(); tick = time.perf_counter(); run()
    return time.perf_counter() - tick


def readback_parts(size: int, channels: int, device: str) -> list:
    "Seconds of one call at `size` px, batch 1, of the full VAE decoder, the AutoencoderTiny decoder and a LatentReadout, for `channels`-channel latents."
    import torch
    from diffusers import AutoencoderKL, AutoencoderTiny
    from cocogold.latent_readout import LatentReadout
    torch.manual_seed(0)
    vae = AutoencoderKL(**(SD2_VAE if channels == 4 else SD3_VAE)).to(device).eval()
    tiny, readout = AutoencoderTiny(latent_channels=channels).to(device).eval(), LatentReadout(latent_channels=channels).to(device).eval()
    latent = torch.randn(1, channels, size // 8, size // 8, device=device)
    with torch.no_grad():
        seconds = dict(decoder=_timed(lambda: vae.decode(latent).sample), tiny_decoder=_timed(lambda: tiny.decode(latent).sample),
                       readout=_timed(lambda: readout(latent, latent)))
    return [dict(kind="readback", size=size, channels=channels, **{f"{k}_seconds": v for k, v in seconds.items()},
                 params={"decoder": sum(p.numel() for p in vae.decoder.parameters()), "tiny_decoder": sum(p.numel() for p in tiny.decoder.parameters()),
                         "readout": sum(p.numel() for p in readout.parameters())}, rss_peak=peak_rss_gb(), cuda_peak=_cuda_peak_gb(device))]


def sd3_inference(size: int, device: str) -> list:
    """Seconds of one call of each SD3.5-medium-size part at `size` (the transformer at the pipeline's token count, CLIP-L and
    CLIP-G on one prompt, the VAE), peak memory, parameter counts; T5-XXL's size from the meta device."""
    import torch
    from diffusers import AutoencoderKL, SD3Transformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel
    torch.manual_seed(0)
    transformer, vae = SD3Transformer2DModel(**SD35_MEDIUM).to(device).eval(), AutoencoderKL(**SD3_VAE).to(device).eval()
    clip_l, clip_g = (CLIPTextModelWithProjection(CLIPTextConfig(**c)).to(device).eval() for c in (CLIP_L, CLIP_G))
    with torch.device("meta"): t5_params = sum(p.numel() for p in T5EncoderModel(T5Config(**T5_XXL)).parameters())
    rss_model, n = peak_rss_gb(), size // 8
    with torch.no_grad():
        x, context = torch.randn(1, 32, n, n, device=device), torch.randn(1, SD3_TEXT_TOKENS, 4096, device=device)
        pooled, t, tokens = torch.randn(1, 2048, device=device), torch.tensor([1000.0], device=device), torch.randint(0, 49408, (1, 77), device=device)
        times = {}
        for name, run in (("clip_l", lambda: clip_l(tokens)), ("clip_g", lambda: clip_g(tokens)),
                          ("encoder", lambda: vae.encode(torch.rand(1, 3, size, size, device=device)).latent_dist.mean),
                          ("transformer", lambda: transformer(x, context, pooled, t).sample),
                          ("decoder", lambda: vae.decode(x[:, :16]).sample)):
            tick = time.perf_counter(); run(); times[name] = time.perf_counter() - tick
    params = dict(transformer=sum(p.numel() for p in transformer.parameters()), clip_l=sum(p.numel() for p in clip_l.parameters()),
                  clip_g=sum(p.numel() for p in clip_g.parameters()), vae=sum(p.numel() for p in vae.parameters()), t5=t5_params)
    return [dict(kind="sd3-parts", size=size, tokens=(n // 2) ** 2 + SD3_TEXT_TOKENS, params=params,
                 **{f"{k}_seconds": v for k, v in times.items()}, rss_model=rss_model, rss_peak=peak_rss_gb(),
                 cuda_peak=_cuda_peak_gb(device), memory_by_arithmetic=sd3_memory_by_arithmetic(params))]


def sd3_memory_by_arithmetic(params: dict) -> dict:
    """GB that SD3.5 medium's parts need by parameter count alone (not measured; activations excluded): T5-XXL's weights
    in fp32 / bf16, and training the transformer with AdamW: fp32 or bf16 autocast (fp32 weights, gradients and two
    moments: 16 bytes/param), or bf16 weights and gradients with fp32 moments (2 + 2 + 8 = 12 bytes/param)."""
    gb = lambda n, bytes_per: n * bytes_per / 2**30
    return dict(t5_fp32=gb(params["t5"], 4), t5_bf16=gb(params["t5"], 2), train_fp32_adamw=gb(params["transformer"], 16),
                train_bf16_weights_adamw=gb(params["transformer"], 12))


def _in_process(queue, function, args):
    try: result = function(*args)
    except Exception as e: result = dict(kind="error", args=repr(args), error=f"{type(e).__name__}: {e}"[:300], rss_peak=peak_rss_gb())
    queue.put(result if isinstance(result, list) else [result])


def measure(function, *args) -> list:
    "Rows of `function(*args)` run in a fresh process (its own peak memory); an error or a killed process is a row too."
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_in_process, args=(queue, function, args))
    process.start()
    process.join()
    if process.exitcode != 0: return [dict(kind="error", args=repr(args), error=f"process exited with {process.exitcode} (out of memory?)")]
    return queue.get()


def line(row: dict) -> str:
    "One readable line of a result row."
    gb = lambda k: f"{row[k]:.1f} GB" if row.get(k) is not None else "-"
    if row["kind"] == "train":
        return (f"train {row['objective']:9} {row['setting']:9} {row['size']:4d}px: {row['seconds']:7.1f} s/step, "
                f"RSS model {gb('rss_model')}, peak {gb('rss_peak')}, CUDA peak {gb('cuda_peak')}, activations {gb('activations')}")
    if row["kind"] == "inference":
        return (f"infer {row['mode']:11} {row['steps']:2d} steps x{row['ensemble']} {row['size']:4d}px: {row['seconds']:7.1f} s/mask, "
                f"peak {gb('rss_peak')}")
    if row["kind"] == "readback":
        d = row["decoder_seconds"]
        return (f"readback  {row['size']:4d}px {row['channels']:2d} ch: decoder {d:.2f} s, AutoencoderTiny {row['tiny_decoder_seconds']:.3f} s "
                f"({d / row['tiny_decoder_seconds']:.0f}x), LatentReadout {row['readout_seconds']:.4f} s ({d / row['readout_seconds']:.0f}x)")
    if row["kind"] in ("parts", "sd3-parts"):
        seconds = {k[:-8]: v for k, v in row.items() if k.endswith("_seconds")}
        total = sum(seconds.values())
        shares = ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f}%)" for k, v in seconds.items())
        extra = "" if row["kind"] == "parts" else (f"; T5-XXL (not loaded) {row['memory_by_arithmetic']['t5_bf16']:.1f} GB bf16, training the "
                                                   f"transformer with AdamW needs {row['memory_by_arithmetic']['train_fp32_adamw']:.1f} GB before activations")
        return f"{row['kind']:9} {row['size']:4d}px: {shares}; peak {gb('rss_peak')}{extra}"
    return f"error {row['args']}: {row['error']}"


def checkpointing_savings(rows: list) -> str:
    "Closing line: activation and peak memory saved by gradient checkpointing per objective and size (fp32 - ckpt)."
    train = {(r["objective"], r["setting"], r["size"]): r for r in rows if r["kind"] == "train"}
    saved = [f"{o} {s}px activations {r['activations'] - train[(o, 'ckpt', s)]['activations']:+.2f} GB, "
             f"peak RSS {r['rss_peak'] - train[(o, 'ckpt', s)]['rss_peak']:+.1f} GB"
             for (o, setting, s), r in train.items() if setting == "fp32" and (o, "ckpt", s) in train]
    return "gradient checkpointing saves (fp32 - ckpt): " + ("; ".join(saved) or "not measured")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 px, one timed step, settings fp32 and ckpt, a few inference settings")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="image sides in pixels")
    parser.add_argument("--steps", type=int, default=2, help="timed optimizer steps per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed optimizer steps before them")
    parser.add_argument("--objectives", nargs="+", default=["diffusion", "e2e"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--base", default=None, help="a real SD2 / Marigold folder instead of random SD2-size parts")
    parser.add_argument("--measure", nargs="+", default=["train", "inference", "readback"], choices=MEASURES,
                        help="what to measure: training steps, SD2 inference, mask read-backs, the SD3.5-medium probe")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default="benchmarks/results/scale.jsonl")
    args = parser.parse_args()
    import torch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.quick: args.sizes, args.steps, args.warmup, args.settings = [256], 1, 0, list(QUICK_SETTINGS)
    inference_settings = [("single_step", 1, 1), ("diffusion", 4, 1)] if args.quick else \
        [("single_step", 1, 1), ("diffusion", 4, 1), ("diffusion", 4, 5), ("diffusion", 50, 1), ("diffusion", 50, 5)]
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, device {device}, "
          f"load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}")
    rows = []
    jobs = [(train_step, o, s, size, args.steps, args.warmup, args.base, device) for size in args.sizes for o in args.objectives for s in args.settings
            if "train" in args.measure]
    jobs += [(inference, size, inference_settings, args.base, device) for size in args.sizes if "inference" in args.measure]
    jobs += [(readback_parts, size, c, device) for size in args.sizes for c in (4, 16) if "readback" in args.measure]
    jobs += [(sd3_inference, size, device) for size in args.sizes if "sd3" in args.measure]
    with open(out, "a", buffering=1) as log:
        for function, *job in jobs:
            for row in measure(function, *job):
                row.update(device=device, threads=args.threads, load=os.getloadavg()[0], base=args.base or "random SD2-size",
                           cpus=os.cpu_count(), date=time.strftime("%Y-%m-%d %H:%M"))
                rows.append(row)
                print(line(row), flush=True)
                log.write(json.dumps(row) + "\n")
    if "train" in args.measure: print(checkpointing_savings(rows))


if __name__ == "__main__":
    main()
