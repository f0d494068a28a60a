"""Engine benchmarks: overhead vs a plain loop, DCGAN-64 throughput, FLOP/s, data pipeline.

Run by hand from the repository root (results go to docs/benchmarks.md):

    python benchmarks/bench_engine.py overhead      # ganzoo step / plain PyTorch step (target <= 1.03)
    python benchmarks/bench_engine.py throughput    # DCGAN-64 img/s vs the pytorch/examples loop
    python benchmarks/bench_engine.py flops         # achieved training FLOP/s vs the fp32 matmul peak
    python benchmarks/bench_engine.py data          # real loader vs preloaded tensors (target >= 0.95)
    python benchmarks/bench_engine.py ddp           # torchrun 2 processes vs 1, same global batch

Every ratio is measured side by side in one process, in alternating blocks, so
drift on a shared machine hits both sides alike.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganzoo.plugin.registry import load_registries  # noqa: E402
from ganzoo.spec.model import validate_spec  # noqa: E402
from ganzoo.engine.run import Run  # noqa: E402

REG = load_registries()


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU {cpu}"
    return (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {dev}; torch {torch.__version__}; "
            f"threads {torch.get_num_threads()}; python {platform.python_version()}")


def spec_data(size: int, width: int, batch: int, device: str, **train: Any) -> dict[str, Any]:
    return {
        "name": "bench", "task": "unconditional", "seed": 0,
        "data": {"type": "digits", "params": {"size": size}},
        "generator": {"type": "dcgan", "params": {"latent_dim": 100, "width": width}},
        "discriminator": {"type": "dcgan", "params": {"width": width}},
        "losses": {"adversarial": {"type": "non-saturating"}},
        "train": {"steps": 10**6, "batch_size": batch, "device": device, "log_every": 10, "sample_every": 0,
                  "checkpoint_every": 0, "tensorboard": False, "progress": False, **train},
    }


class GanzooStepper:
    """Runs ganzoo's real loop body (task step, counters, periodic log flush)."""

    def __init__(self, data: dict[str, Any], run_dir: Path) -> None:
        self.run = Run(validate_spec(data, REG), REG, run_dir)
        self.run.spec_digest = ""

    def __call__(self, n: int) -> None:
        run = self.run
        for _ in range(n):
            run.task.train_step(run)
            run.step += 1
            if run._due(run.spec.train.log_every):
                logs = run._flush_logs(0.0, 0)
                run.logger.scalars(run.step, logs)
                run.hook.ganzoo_on_step(run=run, step=run.step, logs=logs)


class PlainStepper:
    """A hand-written loop with the same networks, data, optimiser and loss."""

    def __init__(self, ref: Run, channels_last: bool = False, freeze: bool = False) -> None:
        self.G = copy.deepcopy(ref.nets["generator"])
        self.D = copy.deepcopy(ref.nets["discriminator"])
        o = ref.spec.optim
        self.optG = torch.optim.Adam(self.G.parameters(), lr=o.generator.lr, betas=o.generator.betas)
        self.optD = torch.optim.Adam(self.D.parameters(), lr=o.discriminator.lr, betas=o.discriminator.betas)
        self.loader = torch.utils.data.DataLoader(ref.dataset, batch_size=ref.batch_size, shuffle=True, drop_last=True)
        self.it = iter(self.loader)
        self.device, self.latent, self.channels_last = ref.device, ref.nets["generator"].latent_dim, channels_last
        self.freeze = freeze  # also skip D's weight gradients in the G step, as ganzoo does

    def batch(self) -> torch.Tensor:
        try:
            b = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            b = next(self.it)
        x = b["image"].to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __call__(self, n: int) -> None:
        G, D = self.G, self.D
        for _ in range(n):
            real = self.batch()
            if self.freeze:
                D.requires_grad_(True)
            z = torch.randn(real.shape[0], self.latent, device=self.device)
            with torch.no_grad():
                fake = G(z)
            d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            self.optD.zero_grad(set_to_none=True)
            d_loss.backward()
            self.optD.step()
            if self.freeze:
                D.requires_grad_(False)
            z = torch.randn(real.shape[0], self.latent, device=self.device)
            g_loss = F.softplus(-D(G(z))).mean()
            self.optG.zero_grad(set_to_none=True)
            g_loss.backward()
            self.optG.step()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[int], None], n: int) -> float:
    sync()
    t0 = time.perf_counter()
    fn(n)
    sync()
    return (time.perf_counter() - t0) / n


def alternate(named: dict[str, Callable[[int], None]], n: int, rounds: int, warmup: int = 3) -> dict[str, float]:
    for fn in named.values():
        fn(warmup)
    times: dict[str, list[float]] = {k: [] for k in named}
    for _ in range(rounds):
        for k, fn in named.items():
            times[k].append(timed(fn, n))
    return {k: statistics.median(v) for k, v in times.items()}


def bench_overhead(args: argparse.Namespace, tmp: Path) -> None:
    data = spec_data(args.size, args.width, args.batch, args.device)
    ganzoo = GanzooStepper(data, tmp / "overhead")
    steppers = {"plain": PlainStepper(ganzoo.run), "plain, D frozen in G step": PlainStepper(ganzoo.run, freeze=True), "ganzoo": ganzoo}
    t = alternate(steppers, args.steps, args.rounds)
    print(f"DCGAN-{args.size} width {args.width} batch {args.batch}, {args.rounds} alternating blocks of {args.steps} steps, medians")
    print("| loop | ms/step | ganzoo / loop |\n| --- | --- | --- |")
    for name, sec in t.items():
        print(f"| {name} | {sec*1e3:.1f} | {t['ganzoo']/sec:.3f} |")


def classic_dcgan_step(ref: Run) -> Callable[[int], None]:
    """pytorch/examples' dcgan loop: Sigmoid + BCELoss, one G forward shared by the D and G updates."""
    G, D = copy.deepcopy(ref.nets["generator"]), copy.deepcopy(ref.nets["discriminator"])
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = torch.utils.data.DataLoader(ref.dataset, batch_size=ref.batch_size, shuffle=True, drop_last=True)
    state = {"it": iter(loader)}
    bce = torch.nn.BCELoss()
    latent = ref.nets["generator"].latent_dim

    def step(n: int) -> None:
        for _ in range(n):
            try:
                real = next(state["it"])["image"].to(ref.device)
            except StopIteration:
                state["it"] = iter(loader)
                real = next(state["it"])["image"].to(ref.device)
            b = real.shape[0]
            ones, zeros = torch.ones(b, device=ref.device), torch.zeros(b, device=ref.device)
            D.zero_grad()
            err_real = bce(torch.sigmoid(D(real)), ones)
            err_real.backward()
            fake = G(torch.randn(b, latent, 1, 1, device=ref.device))
            err_fake = bce(torch.sigmoid(D(fake.detach())), zeros)
            err_fake.backward()
            optD.step()
            G.zero_grad()
            bce(torch.sigmoid(D(fake)), ones).backward()
            optG.step()

    return step


def bench_throughput(args: argparse.Namespace, tmp: Path) -> None:
    variants: dict[str, dict[str, Any]] = {
        "eager fp32": {},
        "channels_last": {"channels_last": True},
        "compile": {"compile": True},
        "channels_last + compile": {"channels_last": True, "compile": True},
        "bf16": {"precision": "bf16"},
        "bf16 + channels_last": {"precision": "bf16", "channels_last": True},
    }
    if torch.cuda.is_available():
        variants.update({"bf16 + channels_last + compile": {"precision": "bf16", "channels_last": True, "compile": True}, "fp16": {"precision": "fp16"}})
    base = GanzooStepper(spec_data(64, args.width, args.batch, args.device), tmp / "tp-ref")
    steppers: dict[str, Callable[[int], None]] = {"classic (pytorch/examples)": classic_dcgan_step(base.run)}
    for name, extra in variants.items():
        try:
            steppers[f"ganzoo {name}"] = GanzooStepper(spec_data(64, args.width, args.batch, args.device, **extra), tmp / f"tp-{len(steppers)}")
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"skipped {name}: {exc}")
    t = alternate(steppers, args.steps, args.rounds)
    classic = t["classic (pytorch/examples)"]
    print("| variant | ms/step | img/s (real) | vs classic |\n| --- | --- | --- | --- |")
    for name, sec in t.items():
        print(f"| {name} | {sec*1e3:.1f} | {args.batch/sec:.0f} | {classic/sec:.2f}x |")


def conv_flops(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(*inputs).sum().backward()
    return float(counter.get_total_flops())


def bench_flops(args: argparse.Namespace, tmp: Path) -> None:
    ganzoo = GanzooStepper(spec_data(64, args.width, args.batch, args.device), tmp / "flops")
    run = ganzoo.run
    G, D = copy.deepcopy(run.nets["generator"]), copy.deepcopy(run.nets["discriminator"])
    z = torch.randn(args.batch, G.latent_dim, device=run.device)
    x = torch.randn(args.batch, run.info.channels, 64, 64, device=run.device)
    D.requires_grad_(False)  # as in ganzoo's G step: D passes gradients to G but gets none itself
    g_fwd_bwd = conv_flops(torch.nn.Sequential(G, D), (z,))  # G step: G forward + backward, D forward + input backward
    D.requires_grad_(True)
    d_fwd_bwd = conv_flops(D, (x,))  # one D forward + backward
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as c, torch.no_grad():
        G(z)
    g_fwd = float(c.get_total_flops())
    per_step = g_fwd + 2 * d_fwd_bwd + g_fwd_bwd  # no-grad G, D(real) and D(fake), then the G step
    sec = alternate({"ganzoo": ganzoo}, args.steps, args.rounds)["ganzoo"]
    n = 4096 if run.device.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=run.device), torch.randn(n, n, device=run.device)
    mm = alternate({"mm": lambda k: [a @ b for _ in range(k)] and None}, 3, 3, warmup=1)["mm"]
    peak = 2 * n**3 / mm
    print(f"| DCGAN-64 width {args.width} batch {args.batch} | {per_step/1e9:.1f} GFLOP/step | {per_step/sec/1e9:.1f} GFLOP/s | "
          f"fp32 matmul peak {peak/1e9:.1f} GFLOP/s ({n}x{n}) | {100*per_step/sec/peak:.0f} % |")


def bench_data(args: argparse.Namespace, tmp: Path) -> None:
    loader = GanzooStepper(spec_data(args.size, args.width, args.batch, args.device), tmp / "data-loader")
    pre = GanzooStepper(spec_data(args.size, args.width, args.batch, args.device), tmp / "data-pre")
    images = torch.stack([pre.run.dataset[i]["image"] for i in range(len(pre.run.dataset))]).to(pre.run.device)
    order = {"i": 0}

    def preloaded() -> dict[str, torch.Tensor]:
        i = order["i"] % (len(images) - args.batch)
        order["i"] += args.batch
        return {"image": images[i : i + args.batch]}

    pre.run.next_batch = preloaded  # type: ignore[method-assign]
    t = alternate({"preloaded": pre, "loader": loader}, args.steps, args.rounds)
    print(f"| DCGAN-{args.size} batch {args.batch} | preloaded {t['preloaded']*1e3:.1f} ms/step | loader {t['loader']*1e3:.1f} ms/step | "
          f"loader throughput / preloaded {t['preloaded']/t['loader']:.3f} |")


def bench_ddp(args: argparse.Namespace, tmp: Path) -> None:
    """2 processes vs 1 on the same global batch: throughput and loss curves (no batch norm, so they can match)."""
    import json
    import os
    import subprocess

    import yaml

    if torch.cuda.is_available() and torch.cuda.device_count() < 2:
        print(f"skipped: 2 processes need 2 CUDA devices, this machine has {torch.cuda.device_count()}")
        return
    data = spec_data(args.size, args.width, args.batch, "auto", steps=args.steps * args.rounds, log_every=1)
    data["generator"]["params"]["batch_norm"] = False
    data["discriminator"]["params"]["batch_norm"] = False
    spec = tmp / "ddp.yaml"
    spec.write_text(yaml.safe_dump(data))
    results = {}
    for nproc in (1, 2):
        threads = max(1, (os.cpu_count() or 2) // nproc) if not torch.cuda.is_available() else 1
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        out = tmp / f"ddp{nproc}"
        cmd = ["torchrun", "--nproc_per_node", str(nproc), "-m", "ganzoo", "train", str(spec), "--out", str(out)]
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        results[nproc] = (recs, threads)
    one, two = results[1][0], results[2][0]
    rate = {n: statistics.median(r["steps_per_s"] for r in recs[len(recs) // 4 :]) for n, (recs, _) in results.items()}
    dev = max(abs(a["G/loss"] - b["G/loss"]) for a, b in zip(one, two))
    print(f"| DCGAN-{args.size} width {args.width}, global batch {args.batch}, {len(one)} steps | 1 process x {results[1][1]} threads: "
          f"{rate[1]:.2f} steps/s | 2 processes x {results[2][1]} threads: {rate[2]:.2f} steps/s | ratio {rate[2] / rate[1]:.2f} | "
          f"max |G loss difference| {dev:.2e} |")
    print("step: G/loss (1 process) / G/loss (2 processes): " + ", ".join(f"{a['step']}: {a['G/loss']:.4f}/{b['G/loss']:.4f}" for a, b in list(zip(one, two))[:: max(1, len(one) // 6)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["overhead", "throughput", "flops", "data", "ddp", "all"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=5, help="alternating blocks per side")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine())
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        benches = {"overhead": bench_overhead, "throughput": bench_throughput, "flops": bench_flops, "data": bench_data, "ddp": bench_ddp}
        for name in (list(benches) if args.which == "all" else [args.which]):
            print(f"\n## {name}")
            benches[name](args, Path(tmp))


if __name__ == "__main__":
    main()
