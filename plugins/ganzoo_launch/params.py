"""Params of the built-in launchers (a sweep file's ``launcher.params``, ``compare --launcher-set``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ganzoo import Params

__all__ = ["LocalParams", "SlurmParams"]


class LocalParams(Params):
    """The local pool: ``ganzoo train`` processes on this machine."""

    jobs: int = Field(1, ge=1, le=64, description="Training processes at once (compare --jobs).")
    threads: int | None = Field(None, ge=1, le=1024, description="Intra-op threads per process (default: CPU count // jobs).")


class SlurmParams(Params):
    """One job per (variant, seed), submitted as one SLURM job array through submitit."""

    executor: Literal["slurm", "local"] = Field(
        "slurm", description="slurm: sbatch on a cluster; local: submitit's LocalExecutor on this machine (a trial, or CI without SLURM).")
    partition: str | None = Field(None, min_length=1, description="--partition.")
    account: str | None = Field(None, min_length=1, description="--account.")
    qos: str | None = Field(None, min_length=1, description="--qos.")
    time_min: int = Field(60, ge=1, le=525600, description="Time limit per job in minutes (--time); a job that reaches it is requeued.")
    nodes: int = Field(1, ge=1, le=1024, description="Nodes per job; more than one trains with DDP across them.")
    gpus_per_node: int = Field(0, ge=0, le=64, description="GPUs per node (--gpus-per-node); one training process (DDP rank) per GPU.")
    cpus_per_task: int = Field(4, ge=1, le=1024, description="CPUs per training process (--cpus-per-task).")
    mem_gb: float | None = Field(None, gt=0, le=65536, description="Memory per node in GB (--mem).")
    array_parallelism: int = Field(16, ge=1, le=10000, description="Jobs of the array running at once (the %N of --array).")
    max_requeues: int = Field(
        3, ge=0, le=100, description="Requeues after reaching the time limit before a job gives up (preemptions always requeue).")
    signal_delay_s: int = Field(120, ge=10, le=3600,
                                description="Seconds before the time limit that the job is told to save a checkpoint (USR2).")
    job_name: str = Field("ganzoo", pattern=r"^[A-Za-z0-9._-]+$", description="--job-name.")
    sbatch: dict[str, str | int | bool] = Field(
        default_factory=dict, description="Extra sbatch options without the dashes, e.g. {constraint: a100, mail-type: END}.")
    setup: list[str] = Field(default_factory=list, description="Shell lines the job script runs first (module load, source venv).")
    python: str | None = Field(None, min_length=1, description="The python command on the nodes (default: this interpreter).")
    threads: int | None = Field(None, ge=1, le=1024, description="Intra-op threads per training process (default: cpus_per_task).")

    @model_validator(mode="after")
    def _one_node_locally(self) -> SlurmParams:
        if self.executor == "local" and self.nodes > 1:
            raise ValueError("submitit's local executor runs on this one machine: nodes must be 1 with executor: local")
        return self
