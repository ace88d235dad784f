"""What every app shares: run folders and their configs, files written safely, strategies, plots."""

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import seqgraph

# Set by the `seqgraph` command unless -v is given: native libraries' messages are hidden.
QUIET = False


class ConfigError(ValueError):
    """A training option with a value the app cannot use; the message names the option."""


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling of ``path`` to write; it replaces ``path`` only if the block
    succeeds, so a failed run never leaves a half-written file (or loses the old one)."""
    path = Path(path)
    tmp = path.with_name(f"tmp-{os.getpid()}-{path.name}")  # keeps the suffix: savefig/model.save read it
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_file():
            tmp.unlink()


@contextlib.contextmanager
def native_messages_hidden():
    """While the block runs, the process's stderr (file descriptor 2) goes to /dev/null when
    ``QUIET``: TensorFlow and LiteRT print start-up messages from C++ as they load (oneDNN, CUDA
    drivers, the XNNPACK delegate), before any log level they offer is read
    (tensorflow/tensorflow#100442). Python exceptions raised in the block are still shown."""
    if not QUIET:
        yield
        return
    import sys

    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def write_json(path, data):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path):
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"error: {path} not found (is --run a folder written by `train`?)")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise SystemExit(f"error: {path}: not valid JSON ({e})") from None


# ----------------------------------------------------------------------------- configs
def option(default, help, **argparse):
    """A config field that is also a ``train`` option: its default, its help text and any other
    ``argparse`` keywords (``choices``, ``nargs``, ``metavar``, ``type``). ``seqgraph.cli``
    builds the ``--option`` from it: ``--no-<name>`` for a field that is True by default."""
    return dataclasses.field(default=default, metadata={"help": help, **argparse})


def require(condition, option, message):
    """Raise ConfigError("--option message") unless ``condition``."""
    if not condition:
        raise ConfigError(f"--{option.replace('_', '-')} {message}")


def require_positive(config, *names):
    """Every option in ``names`` is None or at least 1."""
    for name in names:
        value = getattr(config, name)
        require(value is None or value >= 1, name, f"must be at least 1, got {value}")


def save_config(config, path, app, **facts):
    """``config.json``: the app, seqgraph's version, the options of ``config`` (a dataclass) and
    ``facts`` of the run that later commands need (label names, held-out indices, ...)."""
    write_json(path, {"app": app, "seqgraph_version": seqgraph.__version__, **dataclasses.asdict(config), **facts})


def load_config(cls, path, app):
    """``(config, facts)`` from a ``config.json`` written by ``save_config`` (or by seqgraph
    0.1, which wrote no "app"): the options ``cls`` has, the rest as a dict of facts. Options a
    file lacks take their defaults, so runs of earlier versions still load."""
    data = read_json(path)
    if data.get("app", app) != app:
        raise ConfigError(f"{path} is a config of the {data['app']} app, not of {app}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names}), {k: v for k, v in data.items() if k not in names}


# ----------------------------------------------------------------------------- runs
class RunError(ValueError):
    """A run folder that cannot be used as asked (finished, unfinished with other options,
    locked by another training); the message says what to do instead."""


class TrainingError(RuntimeError):
    """Training that cannot go on (a loss that is not finite); the run folder keeps its last
    good state."""


RUN_STATE = "run.json"  # {"app", "status": "training" | "finished", "resumes", ...}, written last


def run_state(folder):
    """The run.json of ``folder`` as a dict (``{}``: no run). A folder of seqgraph 0.1 or 0.2,
    which wrote no run.json, is a finished run if it holds a metrics.json."""
    folder = Path(folder)
    if (folder / RUN_STATE).exists():
        return json.loads((folder / RUN_STATE).read_text())
    return {"status": "finished"} if (folder / "metrics.json").exists() else {}


def run_status(folder):
    """``"finished"``, ``"training"`` (unfinished: stopped, crashed or running), or None (no
    run)."""
    return run_state(folder).get("status")


def require_finished(folder):
    """Raise RunError unless ``folder`` holds a finished run (what evaluate, predict and export
    read)."""
    folder = Path(folder)
    status = run_status(folder)
    if status == "training":
        raise RunError(
            f"{folder} holds an unfinished run (its training stopped or is still going): "
            f"resume it with `{resume_command(folder)}`"
        )
    if status is None:
        raise RunError(f"{folder} is not a run folder written by `train` (no {RUN_STATE} or metrics.json)")


def resume_command(folder):
    """The command that resumes the run in ``folder``."""
    app = json.loads((Path(folder) / "config.json").read_text()).get("app", "APP")
    return f"seqgraph {app} train --config {folder}/config.json --out {folder}"


def is_chief(strategy):
    """Whether this process writes the run: always, except on the workers of a multi-worker
    cluster other than the chief (worker 0 when the cluster names no chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs
    )


@dataclasses.dataclass
class Run:
    """A training run: ``folder`` (the run folder), ``path`` (where this process writes: the
    folder itself on the chief, a scratch folder removed at the end on other workers),
    ``resumes`` (how many times the run was resumed before now) and ``state`` (the folder of
    its training state, read by every worker, written by the chief)."""

    folder: Path
    path: Path
    chief: bool
    resumes: int

    @property
    def state(self):
        return self.folder / "state"

    def wrote(self, names):
        """The line that says what the run wrote (``names``), or on a worker who wrote it."""
        return (
            f"wrote {self.folder}/{names}"
            if self.chief
            else f"(this worker wrote nothing: the chief writes {self.folder})"
        )

    def finish(self, metrics):
        """Write metrics.json (with ``resumed``), drop the training state and mark the run
        finished: evaluate, predict and export read it from now on."""
        metrics = {**metrics, "resumed": self.resumes}
        if self.chief:
            write_json(self.path / "metrics.json", metrics)
            import shutil

            shutil.rmtree(self.state, ignore_errors=True)
            state = json.loads((self.path / RUN_STATE).read_text())
            write_json(
                self.path / RUN_STATE, {**state, "status": "finished", "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            )
        return metrics


def _clear(folder):
    """Remove everything in ``folder`` but its lock."""
    import shutil

    for path in folder.iterdir():
        if path.name == ".lock":
            continue
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _same_options(folder, config):
    """The options of ``config`` that differ from those ``folder``/config.json was started with,
    as ``--name old -> new`` lines (empty when they match)."""
    saved = json.loads((folder / "config.json").read_text())
    return [
        f"--{name.replace('_', '-')} {saved.get(name)!r} -> {value!r}"
        for name, value in dataclasses.asdict(config).items()
        if name in saved and saved[name] != (list(value) if isinstance(value, tuple) else value)
    ]


@contextlib.contextmanager
def training_run(app, out, config, overwrite=False, strategy=None):
    """Open the run folder ``out`` (default ``runs/<app>/<timestamp>``) for training ``config``.

    A new or empty folder starts a run; an unfinished run with the same options is resumed;
    a finished run, or a folder that holds something else, is refused unless ``overwrite``
    (then emptied first). The chief takes a lock (a second training into the same folder is
    refused while the first runs), writes ``run.json`` with status "training", and keeps it so
    until ``Run.finish``: a run that fails or is stopped stays resumable, never half new and
    half old. Other workers of a cluster check the same and write to a scratch folder.

    Yields:
        A ``Run``.

    Example:

    ```python
    with training_run("graph", "runs/graph/r", config) as run:
        ...  # train, writing into run.path
        run.finish(metrics)
    ```
    """
    folder = _folder(app, out)
    chief = is_chief(strategy)
    lock = None
    if chief:
        folder.mkdir(parents=True, exist_ok=True)
        lock = _lock(folder)
    try:
        state = run_state(folder)
        status, resumes = state.get("status"), 0
        if status == "finished" and not overwrite:
            raise RunError(f"{folder} holds a finished run: choose another --out, or add --overwrite to replace it")
        if status == "training" and not overwrite:
            changed = _same_options(folder, config) if (folder / "config.json").exists() else []
            if changed:
                raise RunError(
                    f"{folder} holds an unfinished run started with other options ({'; '.join(changed)}): "
                    f"resume it with `{resume_command(folder)}`, or add --overwrite to start again"
                )
            resumes = state.get("resumes", 0) + 1
        if status is None and not overwrite and folder.exists() and any(p.name != ".lock" for p in folder.iterdir()):
            raise RunError(f"{folder} is not empty and holds no seqgraph run: choose another --out, or add --overwrite")
        if chief:
            if overwrite:
                _clear(folder)
            started = time.strftime("%Y-%m-%d %H:%M:%S")
            write_json(folder / RUN_STATE, {"app": app, "status": "training", "resumes": resumes, "started": started})
            path = folder
        else:
            import tempfile

            path = Path(tempfile.mkdtemp(prefix=f"seqgraph-{app}-worker-"))
        if resumes and chief:  # other workers may read run.json after the chief has counted this resume
            print(f"resuming the run in {folder} (resumed {resumes} time(s))")
        elif resumes:
            print(f"resuming the run in {folder}")
        try:
            yield Run(folder, path, chief, resumes)
        finally:
            if not chief:
                import shutil

                shutil.rmtree(path, ignore_errors=True)
    finally:
        if lock is not None:
            lock.close()


def _lock(folder):
    """An exclusive lock on ``folder``/.lock (released when the returned file closes, or the
    process ends), or RunError if another process holds it."""
    import fcntl

    handle = open(folder / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunError(
            f"{folder} is being written by another training ({holder}): wait for it, or choose another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def _folder(app, out):
    """``out``, or ``runs/<app>/<timestamp>``."""
    return Path(out) if out else Path("runs") / app / time.strftime("%Y%m%d-%H%M%S")


def run_dir(app, out=None):
    """``out`` or ``runs/<app>/<timestamp>/``, created (for outputs that are not training runs)."""
    path = _folder(app, out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_keras(model, path):
    with atomic_path(path) as tmp:
        model.save(tmp)


def run_config(cls, run, app):
    """``(config, facts)`` of a finished run folder (``load_config`` of its config.json)."""
    require_finished(run)
    return load_config(cls, Path(run) / "config.json", app)


def load_model(run):
    """``model.keras`` of a run folder (checked finished by ``run_config``, which every app
    reads first), with seqgraph's layers registered."""
    import keras

    from seqgraph import layers  # noqa: F401  (registers the custom layers)

    path = Path(run) / "model.keras"
    if not path.exists():
        raise RunError(f"{path} not found (is --run a folder written by `train`?)")
    return keras.saving.load_model(path)


def start_child_process(parent, quiet, threads=None):
    """The start of a child process doing part of a run's work (a ``multiprocessing``
    initializer, with the run's process id ``parent``): on Linux the kernel kills it when
    ``parent`` dies (``PR_SET_PDEATHSIG``), so a killed run leaves nothing behind writing to its
    folder; if ``quiet`` (``QUIET`` in the parent), TensorFlow then loads without its start-up
    messages, as in the ``seqgraph`` command; with ``threads``, TensorFlow runs its ops on that
    many threads (its default: one per core). Called before the child imports TensorFlow, so this
    module must not import it at the top."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before that
        os._exit(1)
    if quiet:
        from seqgraph.cli import quiet_tensorflow

        quiet_tensorflow()
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


@contextlib.contextmanager
def child_processes(jobs, tasks_per_process, quiet=False, threads=None):
    """``jobs`` child processes for a run's work, started by ``start_child_process`` (``quiet``,
    ``threads``), each replaced by a fresh one after ``tasks_per_process`` tasks (what a task
    leaks goes back to the system). At most ``jobs`` tasks run at once, the others wait in
    order. On leaving, the tasks under way finish and those not started are dropped.

    Each of ``jobs`` threads hands its tasks, one at a time, to a pool of one process of its own,
    and shuts that pool down after ``tasks_per_process`` tasks. Not ``ProcessPoolExecutor``'s
    ``max_tasks_per_child``: with tasks queued, Python 3.11-3.13's pool can stop replacing the
    processes that reach it and hang (python/cpython#115634; it did here).

    Yields:
        ``submit(function, *args)``: a ``concurrent.futures.Future`` of ``function(*args)``,
        run in a child (a dead child fails it with ``BrokenProcessPool``).

    Example:

    >>> with child_processes(2, tasks_per_process=20) as submit:
    ...     pids = [f.result() for f in [submit(os.getpid) for _ in range(50)]]
    """
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    spawn = multiprocessing.get_context("spawn")
    pools, own = [], threading.local()

    def run(function, *args):  # in one of the ``jobs`` threads below, on its own process
        if getattr(own, "tasks", tasks_per_process) == tasks_per_process:
            if getattr(own, "pool", None):
                own.pool.shutdown()  # idle: its process exits now
            own.pool = ProcessPoolExecutor(1, spawn, initializer=start_child_process, initargs=(parent, quiet, threads))
            own.tasks = 0
            pools.append(own.pool)
        own.tasks += 1
        return own.pool.submit(function, *args).result()

    parent = os.getpid()
    waiting = ThreadPoolExecutor(jobs)
    try:
        yield lambda function, *args: waiting.submit(run, function, *args)
    finally:
        waiting.shutdown(cancel_futures=True)
        for pool in pools:
            pool.shutdown()


_STRATEGY = {}


def strategy(name="default"):
    """The tf.distribute strategy for ``--distribute``: default (one device), mirrored (the
    local GPUs, else every logical CPU device), multiworker (the workers in ``TF_CONFIG``); the
    last two with TF's deterministic kernels. Made once per process, on the first call: the
    ``seqgraph`` command calls it at start-up, before any TF op, as multi-worker collectives
    require."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name in _STRATEGY:
        return _STRATEGY[name]
    # Each replica applies the summed update to its own copy of the weights: with TF's
    # nondeterministic kernels (sparse updates with repeated rows sum in any order) the copies
    # would drift apart by rounding, so replicas run the deterministic ones.
    tf.config.experimental.enable_op_determinism()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        made = tf.distribute.MirroredStrategy([d.name for d in devices])
    elif name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("--distribute multiworker needs the TF_CONFIG environment variable (docs/training.md)")
        made = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        raise ConfigError(f"--distribute must be default, mirrored or multiworker, got {name!r}")
    _STRATEGY[name] = made
    return made


FIT_VERBOSITY = {"bar": 1, "epoch": 2, "none": 0}  # --progress -> Keras' fit(verbose=...)


# ----------------------------------------------------------------------------- plots
def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path):
    """Write ``fig`` as a PNG (atomically) and close it."""
    with atomic_path(path) as tmp:
        fig.tight_layout()
        fig.savefig(tmp, dpi=100)
    pyplot().close(fig)


def plot_history(histories, path, held_out="held-out", title=None):
    """Learning curves from Keras histories (one per fold, or one): loss on a log scale, and
    accuracy when recorded, training and held-out; with several folds the mean, and a min..max
    band."""
    import numpy as np

    plt = pyplot()
    panels = ["loss"] + (["accuracy"] if "accuracy" in histories[0] else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, metric in zip(axes[0], panels):
        for key, label in ((metric, f"training {metric}"), (f"val_{metric}", f"{held_out} {metric}")):
            if key not in histories[0]:
                continue
            curves = np.array([h[key] for h in histories])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(0), label=label)
            if len(curves) > 1:
                ax.fill_between(epochs, curves.min(0), curves.max(0), alpha=0.2)
        if metric == "loss":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if len(histories) > 1:
        axes[0, -1].set_title(f"mean over {len(histories)} folds, band = min..max")
    elif title:
        axes[0, -1].set_title(title)
    save_figure(fig, path)
