"""``--kind task``: a noise-to-image GAN recipe on ``ganzoo.AdversarialRecipe`` and the documented protocols only."""

from __future__ import annotations

from ganzoo.cli.scaffold.kind import Kind

TASKS = '''\
"""The task's parameter model and builder. torch and the task are imported only when it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import Params, TaskEntry
from pydantic import Field

if TYPE_CHECKING:
    from $package.recipe import LatentGAN


class TaskParams(Params):
    """Parameters of the $component task."""

    truncation: float = Field(1.0, gt=0, le=1, description="Latent scale when sampling (< 1: less varied, cleaner).")


def build_task(params: TaskParams) -> LatentGAN:
    """The task; ganzoo calls configure, setup and train_step on it."""
    from $package.recipe import LatentGAN

    return LatentGAN(params)


TASKS = [
    TaskEntry(
        name="$component",
        build=build_task,
        params=TaskParams,
        # The spec paths the task cannot do without; `ganzoo validate` names the missing ones.
        requires=("discriminator", "losses.adversarial"),
        description="Noise -> image GAN; the D and G phases from ganzoo.AdversarialRecipe.",
    ),
]
'''

RECIPE = '''\
"""The training recipe: what D compares and what G minimises; ganzoo.AdversarialRecipe runs the phases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from ganzoo import AdversarialRecipe, ConfigError, CriticInputs, Latents, Task
from torch import Tensor, nn

if TYPE_CHECKING:
    from ganzoo import DataInfo, RunContext, RunSpec, StepContext

    from $package.tasks import TaskParams


NAME = "$component"  # the registered name, for messages


class LatentGAN(Task):
    """z ~ N(0, I) -> image; batches need the key ``image``; any generator with an int param ``latent_dim``."""

    slots = ("generator", "discriminator")

    def __init__(self, params: TaskParams) -> None:
        super().__init__(params)
        self.truncation = params.truncation
        self.latent_dim = 0  # set by configure

    def configure(self, spec: RunSpec, info: DataInfo) -> None:
        """Called first, in a run and when ganzoo.load_generator rebuilds the generator: read the spec's params."""
        super().configure(spec, info)
        latent_dim = getattr(spec.component_params("generator"), "latent_dim", None)
        if not isinstance(latent_dim, int):
            raise ConfigError(f"task {NAME!r} draws latents, so its generator needs an int param latent_dim; "
                              f"{spec.generator.type!r} has none")
        self.latent_dim = latent_dim

    def setup(self, run: RunContext) -> None:
        """Training only: the phases, built from the run's losses (regularisers included)."""
        self.recipe = AdversarialRecipe(run.losses, latents=True, weight_d_loss=True, task=f"task {NAME!r}")

    def train_step(self, ctx: StepContext) -> None:
        """d_steps D updates (each on a fresh batch), then one G update; all noise from ctx.randn (DDP-safe)."""
        G, D = ctx.nets["generator"], ctx.nets["discriminator"]

        def critic_inputs(real: Tensor) -> CriticInputs:
            z = ctx.randn(real.shape[0], self.latent_dim)  # (B, Z): this rank's share of one global draw
            return CriticInputs(real=real, fake=lambda: G(z), critic=D)

        real = self.recipe.discriminator_phase(ctx, lambda: ctx.next_batch()["image"], critic_inputs)  # (B, C, H, W)
        latents = Latents(z=ctx.randn(real.shape[0], self.latent_dim), generate=G)

        def objective(fake: Tensor, terms: dict[str, Tensor]) -> Tensor:
            # The weighted adversarial G loss; D scores the real batch only for losses that need_real_logits.
            return self.recipe.adversarial_term(terms, D(fake), lambda: D(real))

        self.recipe.latent_generator_phase(ctx, latents, objective)

    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, **kwargs: Any) -> Tensor:
        """``n`` images (n, C, H, W) in [-1, 1]; the same seed gives the same images on any device."""
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed)) * self.truncation
        with torch.no_grad():
            return generator(z.to(device)).float().cpu()

    def eval_protocol(self) -> dict[str, Any]:
        """A truncation changes what a metric scores: stored with every score (left out at 1, the default)."""
        return {"truncation": self.truncation} if self.truncation != 1.0 else {}
'''

KIND = Kind(
    name="task",
    hook="ganzoo_tasks",
    entry="TaskEntry",
    module=("tasks", "TASKS"),
    files={"src/$package/tasks.py": TASKS, "src/$package/recipe.py": RECIPE},
    summary="a training task",
    spec={"task": "$component"},
    tiny={"task": '"$component"'},
    readme="- `src/$package/tasks.py`: the task's params and builder; `recipe.py`: the task (`configure`, `setup`,\n"
           "  `train_step` on `ganzoo.AdversarialRecipe`, `sample`, `eval_protocol`).",
    checks=(
        "# the generator reloads outside the run, through the task, and samples reproducibly",
        "generator = load_generator(run_dir, registries=ganzoo_registries)",
        "assert torch.equal(generator.sample(4, seed=1), generator.sample(4, seed=1))",
    ),
    imports=("import torch", "from ganzoo import load_generator"),
)
