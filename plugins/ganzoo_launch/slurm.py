"""The ``slurm`` launcher: one submitit job per (variant, seed), submitted as one SLURM job array.

Each job runs :class:`TrainJob`: ``ganzoo train`` as a child process (one per
task; a job with several GPUs or nodes has one task per GPU, and the tasks form
a DDP job through the torchrun variables that submitit's
``TorchDistributedEnvironment`` exports from the SLURM environment). On
preemption or near the time limit SLURM sends USR2; submitit calls
:meth:`TrainJob.checkpoint`, which stops the trainer with SIGTERM (it saves a
checkpoint and exits), and requeues the job as ``ganzoo train --resume``, which
continues the run exactly. submitit's ``LocalExecutor`` runs the same jobs on
this machine (``executor: local``), which is how the code path is tested
without a cluster.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo import ConfigError
from ganzoo.compare.launcher import JobRecord, JobState, Launcher, LaunchOutcome, LaunchRun, SweepDir, this_host
from ganzoo_launch.params import SlurmParams

if TYPE_CHECKING:  # pragma: no cover
    import submitit

__all__ = ["SlurmLauncher", "TrainJob", "sbatch_params"]

_POLL_S = 0.2
_STOP_WAIT_S = 600.0  # a checkpoint of a large model on a slow file system; SLURM kills at the limit anyway
# sacct states: queued (or about to be again), running, ended well; everything else ended badly
_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "CONFIGURING", "RESIZING", "SUSPENDED"}
_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError("the slurm launcher needs submitit: pip install 'ganzoo[slurm]' (or pip install submitit)") from None
    return submitit


class TrainJob:
    """The callable a submitit job runs: ``ganzoo train`` for one run, stopped and requeued on USR2 (``checkpoint``).

    Args:
        run: The run to train or resume.
        python: The python command on the nodes (None: this interpreter).
        threads: ``OMP_NUM_THREADS`` of the trainer.
    """

    def __init__(self, run: LaunchRun, python: str | None, threads: int) -> None:
        self.run = run
        self.python = python
        self.threads = threads
        self._proc: subprocess.Popen[bytes] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_proc": None}  # a requeued job pickles itself; a process does not travel

    def __call__(self) -> int:
        """Train the run; returns 0, or raises (submitit records the failure) when ``ganzoo train`` fails."""
        submitit = _submitit()
        env_info = submitit.JobEnvironment()
        if env_info.num_tasks > 1:  # RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT: ganzoo's torchrun-style detection
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        rank0 = env_info.global_rank == 0
        cmd = self.run.command(self.python)
        log = self.run.log_file
        if rank0:
            log.parent.mkdir(parents=True, exist_ok=True)
        with (log.open("a") if rank0 else open(os.devnull, "w")) as fh:
            if rank0:
                fh.write(f"$ ganzoo {' '.join(self.run.train_args())}   # job {env_info.job_id}\n")
                fh.flush()
            # The trainer ignores USR1/USR2: the preemption notice is submitit's (it stops the trainer with SIGTERM,
            # which saves a checkpoint); SLURM may signal every process of the job, and USR2 would kill it outright.
            ignored = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGUSR1, signal.SIGUSR2)}
            try:
                self._proc = subprocess.Popen(cmd, stdout=fh if rank0 else None, stderr=subprocess.STDOUT if rank0 else None, env=env)
            finally:
                for s, h in ignored.items():
                    signal.signal(s, h)
            while (code := self._proc.poll()) is None:  # poll, not wait(): checkpoint() may run in a signal handler meanwhile
                time.sleep(_POLL_S)
        if code != 0:
            raise RuntimeError(f"`ganzoo {' '.join(self.run.train_args())}` exited with status {code}; see {log}")
        return 0

    def checkpoint(self) -> Any:
        """On USR2: stop the trainer (it saves a checkpoint) and return the job to requeue, which resumes the run."""
        submitit = _submitit()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                deadline = time.monotonic() + _STOP_WAIT_S
                # os.waitpid, not proc.wait(): the interrupted frame may hold Popen's wait lock
                while time.monotonic() < deadline and os.waitpid(proc.pid, os.WNOHANG) == (0, 0):
                    time.sleep(_POLL_S)
            except (ProcessLookupError, ChildProcessError):
                pass  # it had already exited
        return submitit.helpers.DelayedSubmission(TrainJob(self.run.resumable(), self.python, self.threads))


def sbatch_params(params: SlurmParams) -> dict[str, Any]:
    """The submitit ``SlurmExecutor`` parameters (sbatch options) that ``params`` ask for."""
    out: dict[str, Any] = {
        "job_name": params.job_name,
        "time": params.time_min,
        "nodes": params.nodes,
        "ntasks_per_node": max(1, params.gpus_per_node),
        "cpus_per_task": params.cpus_per_task,
        "array_parallelism": params.array_parallelism,
        "signal_delay_s": params.signal_delay_s,
        "stderr_to_stdout": False,
    }
    if params.gpus_per_node:
        out["gpus_per_node"] = params.gpus_per_node
    for key in ("partition", "account", "qos"):
        if getattr(params, key) is not None:
            out[key] = getattr(params, key)
    if params.mem_gb is not None:
        out["mem"] = f"{int(params.mem_gb)}GB" if params.mem_gb == int(params.mem_gb) else f"{int(params.mem_gb * 1024)}MB"
    if params.setup:
        out["setup"] = list(params.setup)
    if params.sbatch:
        out["additional_parameters"] = dict(params.sbatch)
    return out


class SlurmLauncher(Launcher):
    """Submits the runs as one job array (or, with ``executor: local``, as submitit local jobs)."""

    def __init__(self, params: SlurmParams) -> None:
        self.params = params

    @property
    def threads(self) -> int:
        return self.params.threads or self.params.cpus_per_task

    def _python(self) -> str:
        return self.params.python or shlex.quote(sys.executable)

    def _executor(self, sweep: SweepDir) -> submitit.Executor:
        submitit = _submitit()
        p = self.params
        folder = sweep.submitit
        if p.executor == "local":  # one node: the params refuse more
            ex = submitit.LocalExecutor(folder, max_num_timeout=p.max_requeues, python=p.python)
            ex.update_parameters(timeout_min=p.time_min, tasks_per_node=max(1, p.gpus_per_node), gpus_per_node=p.gpus_per_node,
                                 signal_delay_s=p.signal_delay_s, setup=list(p.setup))
            return ex
        try:
            ex = submitit.SlurmExecutor(folder, max_num_timeout=p.max_requeues, python=p.python)
        except RuntimeError as exc:  # no srun on this machine
            what = "run compare on a login node, or pass --dry-run to see the job script"
            raise ConfigError(f"cannot submit to SLURM: {exc}; {what}") from None
        ex.update_parameters(**sbatch_params(p))
        return ex

    def launch(self, runs: Sequence[LaunchRun], sweep: SweepDir, *, wait: bool, echo: Callable[[str], None]) -> LaunchOutcome:
        submitit = _submitit()
        executor = self._executor(sweep)
        # One array on SLURM (the %N of --array limits how many run at once); the local executor starts each job at once.
        jobs = executor.submit_array([TrainJob(_absolute(r), self.params.python, self.threads) for r in runs])
        return self._submitted(runs, jobs, sweep, wait, echo, submitit)

    def _submitted(
        self, runs: Sequence[LaunchRun], jobs: Sequence[Any], sweep: SweepDir, wait: bool, echo: Callable[[str], None], submitit: Any
    ) -> LaunchOutcome:
        outcome = LaunchOutcome()
        for r, job in zip(runs, jobs, strict=True):
            outcome.jobs[r.key] = JobRecord(r.key, self.name, str(job.job_id), str(sweep.submitit.absolute()), str(job.paths.stdout),
                                            str(job.paths.stderr), executor=self.params.executor)
            echo(f"{r.key}: submitted as {self.params.executor} job {job.job_id} ({r.action})")
        if not wait:
            return outcome
        for r, job in zip(runs, jobs, strict=True):
            try:
                job.results()  # every task's (a DDP job has one per GPU); one that failed raises
                outcome.codes[r.key] = 0
                echo(f"{r.key}: done")
            except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as exc:
                outcome.codes[r.key] = 1
                last = str(exc).strip().splitlines()[-1:] or ["?"]
                echo(f"{r.key}: job {job.job_id} failed ({last[0]}); see {outcome.jobs[r.key].logs()} and {r.log_file}")
        return outcome

    def job_state(self, job: JobRecord) -> JobState:
        submitit = _submitit()
        if job.executor == "local":
            return _local_state(job, submitit)
        try:
            state = str(submitit.SlurmJob(job.folder, job.job_id).state).upper().split()[0]
        except Exception:  # noqa: BLE001 - no sacct, a job the database forgot: the plan decides
            return "unknown"
        if state in _QUEUED:
            return "pending"
        if state in _RUNNING:
            return "running"
        if state == "COMPLETED":
            return "done"
        return "unknown" if state == "UNKNOWN" else "failed"

    def dry_run(self, runs: Sequence[LaunchRun], sweep: SweepDir) -> str:
        _submitit()  # the message to install it, rather than an ImportError
        from submitit.slurm.slurm import _make_sbatch_string  # the text SlurmExecutor writes, without needing srun

        p = self.params
        if not runs:
            return "# nothing to submit: every run of the sweep is finished or being trained"
        folder = sweep.submitit.absolute()
        command = " ".join([self._python(), "-u -m submitit.core._submit", shlex.quote(str(folder))])
        params = sbatch_params(p)
        script = _make_sbatch_string(command=command, folder=folder, map_count=len(runs), **params)
        per_job = max(1, p.gpus_per_node) * p.nodes
        head = [
            f"# ganzoo compare --dry-run: one {p.executor} job array of {len(runs)} job(s), at most {min(len(runs), p.array_parallelism)} "
            f"at once; each {p.nodes} node(s) x {max(1, p.gpus_per_node)} task(s) ({per_job} DDP rank(s) in all), "
            f"{p.gpus_per_node} GPU(s) and {p.cpus_per_task} CPU(s) per task, {p.time_min} min; "
            f"requeued on preemption, and at the time limit up to {p.max_requeues} time(s)",
            f"# the job script ({folder}/JOBID_submission.sh):",
        ]
        tasks = ["", "# array tasks: SLURM_ARRAY_TASK_ID -> the command each task runs (threads per process: "
                 f"{self.threads})"]
        tasks += [f"#   {i}: {r.key}: {shlex.join(_absolute(r).command(p.python))}" for i, r in enumerate(runs)]
        return "\n".join([*head, script.rstrip("\n"), *tasks])


def _absolute(r: LaunchRun) -> LaunchRun:
    """``r`` with absolute paths: a job's setup lines may change directory, and nodes need not share the submitter's."""
    return replace(r, run_dir=r.run_dir.absolute(), spec_file=r.spec_file.absolute(), log_file=r.log_file.absolute())


def _local_state(job: JobRecord, submitit: Any) -> JobState:
    """A submitit local job's state: its controller process alive, or its result file's verdict."""
    if job.host != this_host():
        return "unknown"
    if _alive(int(job.job_id)) if job.job_id.isdigit() else False:
        return "running"
    result = submitit.core.utils.JobPaths(job.folder, job_id=job.job_id, task_id=0).result_pickle
    if not Path(result).is_file():
        return "failed"  # the controller is gone without a verdict: killed
    try:
        tag = submitit.core.utils.pickle_load(result)[0]
    except Exception:  # noqa: BLE001 - a truncated result file is no success
        return "failed"
    return "done" if tag == "success" else "failed"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, which a parent has not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
