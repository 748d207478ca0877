"""Time the mask read-back (key-colour threshold + 3x3 opening) of one 1024x1024 prediction on CPU.

The issue's target is under 20 ms. Also prints the same opening done with float `max_pool2d`, measured in the
same run, to show why `open_mask` works on bool shifts, and `ensemble_masks` (10 members) next to the same
statistics with `torch.std`, to show why it computes the population std explicitly. Usage: `python benchmarks/bench_readback.py [--threads N]`."""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cocogold.postprocess import ensemble_masks, read_mask
from cocogold.targets import key_colour_mask


def median_ms(fn, repeats: int) -> float:
    "Median wall time of `fn()` over `repeats` runs after one warm-up, in milliseconds."
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def opening_by_max_pool(mask: torch.Tensor, k: int = 3) -> torch.Tensor:
    "The same opening as float max-pooling, for comparison."
    x = mask.float().unsqueeze(1)
    eroded = 1 - F.max_pool2d(1 - x, k, stride=1, padding=k // 2)
    return F.max_pool2d(eroded, k, stride=1, padding=k // 2).squeeze(1) > 0.5


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prediction = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    prediction[..., args.size // 4: args.size // 2, args.size // 4: args.size // 2] = 1.0
    assert torch.equal(read_mask(prediction), opening_by_max_pool(key_colour_mask(prediction)))
    fast = median_ms(lambda: read_mask(prediction), args.repeats)
    pooled = median_ms(lambda: opening_by_max_pool(key_colour_mask(prediction)), args.repeats)
    print(f"read_mask {args.size}x{args.size}, 3x3 opening, {args.threads} thread(s): median {fast:.2f} ms "
          f"(target < 20 ms: {'PASS' if fast < 20 else 'FAIL'})")
    print(f"same read-back with float max_pool2d opening: median {pooled:.2f} ms ({pooled / fast:.1f}x slower)")
    members = (torch.rand(10, args.size, args.size, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    torch.testing.assert_close(ensemble_masks(members)[1], members.std(dim=0, correction=0))
    ensemble = median_ms(lambda: ensemble_masks(members), args.repeats)
    with_std = median_ms(lambda: (members.mean(dim=0) > 0.5, members.std(dim=0, correction=0)), args.repeats)
    print(f"ensemble_masks, 10 members {args.size}x{args.size}: median {ensemble:.2f} ms; "
          f"with torch.std: median {with_std:.2f} ms ({with_std / ensemble:.1f}x slower)")


if __name__ == "__main__":
    main()
