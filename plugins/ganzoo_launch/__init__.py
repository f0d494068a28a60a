"""Built-in launchers for ``ganzoo compare``: ``local`` (processes on this machine) and ``slurm`` (submitit).

Only hook implementations live here; submitit is imported when the slurm
launcher is built (it is the optional extra ``ganzoo[slurm]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ganzoo import LauncherEntry, hookimpl
from ganzoo_launch.params import LocalParams, SlurmParams

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.compare.launcher import Launcher

__all__ = ["ganzoo_launchers"]


def _local(params: LocalParams) -> Launcher:
    from ganzoo_launch.local import LocalLauncher

    return LocalLauncher(params)


def _slurm(params: SlurmParams) -> Launcher:
    from ganzoo_launch.slurm import SlurmLauncher

    return SlurmLauncher(params)


@hookimpl
def ganzoo_launchers() -> Iterable[LauncherEntry]:
    return [
        LauncherEntry(name="local", build=_local, params=LocalParams,
                      description="`ganzoo train` processes on this machine, `jobs` at once; waits for them (the default)."),
        LauncherEntry(name="slurm", build=_slurm, params=SlurmParams,
                      description="One SLURM job array through submitit (ganzoo[slurm]); requeued on preemption, resumed exactly."),
    ]
