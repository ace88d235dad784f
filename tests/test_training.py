"""Training that survives and scales: run folders (finished, unfinished, locked), resume after
SIGKILL and Ctrl-C, a non-finite loss, TensorBoard logs, and every app on two replicas
(``--distribute mirrored``) and on two workers over loopback (``--distribute multiworker``),
compared with one device."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import tf_only

pytestmark = tf_only

WORKER = Path(__file__).parent / "train_worker.py"
EPOCHS = 4
# Tiny runs with the global batch split evenly over two replicas and no dropout, so one device and
# two replicas take the same steps up to float rounding (the order of sums differs).
APPS = {
    "graph": ["--folds", "1", "--hidden", "16", "--layers", "3", "--dropout", "0", "--lr", "0.002"],
    "skipgram": ["--dim", "16", "--batch-size", "256", "--window", "2", "--sample", "1e-4"],
    "image": ["--model", "hybrid", "--dim", "16", "--depth", "1", "--heads", "2", "--mlp-dim", "16",
              "--patch-size", "2", "--dropout", "0", "--no-augment"],
    "speech": ["--synthetic-takes", "6", "--utterances", "32", "--valid-utterances", "8", "--batch-size", "16",
               "--dim", "16", "--blocks", "1", "--heads", "2", "--window", "4", "--ffn-dim", "16",
               "--lstm-units", "8", "--dropout", "0", "--no-spec-augment"],
}  # fmt: skip
# |w - w_one_device| / |w_one_device| over all the weights after EPOCHS epochs on two replicas or
# two workers. Measured on 2 replicas: graph 7e-6, skip-gram 1.7e-3 (one device runs 32 batches a
# call in an XLA loop, whole calls a pass; replicas a batch a step, a pass being a count of steps),
# image 1.7e-3 (a pass's last batch of 29 splits 15/14, and replicas weight their means equally),
# speech 3.3e-3 (its loss curves agree within 0.1%). Adam and AdamW amplify rounding in weights
# whose gradients are near zero.
TOLERANCE = {"graph": 1e-4, "skipgram": 5e-3, "image": 1e-2, "speech": 1e-2}


# One cache for every run of this module: eSpeak NG's synthesis of a few voices differs from one
# process to the next (noise in the library), so only cached digits are the same for every run.
CACHE = {}


def _env(tmp, **extra):
    env = {**os.environ, "SEQGRAPH_CACHE": str(CACHE.get("dir", tmp / "cache")), "TMPDIR": str(tmp / "scratch")}
    (tmp / "scratch").mkdir(parents=True, exist_ok=True)
    env.pop("TF_CONFIG", None)
    return {**env, **extra}


def _train_args(app, out, *more, epochs=EPOCHS):
    return [app, "train", *APPS[app], "--epochs", str(epochs), "--progress", "epoch", "--out", str(out), *more]


def _start(args, env, cwd):
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def _run(args, env, cwd, timeout=300):
    process = _start(args, env, cwd)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _weights(folder, task=0):
    with np.load(Path(folder) / f"{task}.npz") as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _relative_difference(a, b):
    a, b = (np.concatenate([x.ravel() for x in w]) for w in (a, b))
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _cluster(workers):
    ports = _free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(workers)]


def _wait_for(pattern, folder, process, timeout=240):
    """Wait until a file matching ``pattern`` appears in ``folder`` (or fail if ``process`` ends)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list(Path(folder).glob(pattern)):
            return
        if process.poll() is not None:
            pytest.fail(f"training ended before {pattern} appeared: {process.stderr.read()[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"{pattern} did not appear in {timeout} s")


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """Each app trained on one device (default strategy), uninterrupted: {app: (run, weights)}."""
    tmp = tmp_path_factory.mktemp("one_device")
    CACHE["dir"] = tmp / "cache"
    runs = {}
    for app in APPS:
        weights = tmp / f"{app}-weights"
        weights.mkdir()
        code, out, err = _run(_train_args(app, tmp / app), _env(tmp, SEQGRAPH_TEST_WEIGHTS=str(weights)), tmp)
        assert code == 0, err[-3000:]
        runs[app] = (tmp / app, _weights(weights))
    return runs


# ----------------------------------------------------------------------------- several replicas
@pytest.mark.parametrize("app", list(APPS))
def test_two_replicas_train_as_one_device(app, one_device, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    env = _env(tmp_path, SEQGRAPH_TEST_CPUS="2", SEQGRAPH_TEST_WEIGHTS=str(weights))
    code, out, err = _run(_train_args(app, tmp_path / "run", "--distribute", "mirrored"), env, tmp_path)
    assert code == 0, err[-3000:]
    assert "training on 2 replica(s), 1 worker(s)" in out
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "finished"
    difference = _relative_difference(one_device[app][1], _weights(weights))
    print(f"{app}: two replicas against one device, largest relative weight difference {difference:.2e}")
    assert difference < TOLERANCE[app]


@pytest.mark.parametrize("app", list(APPS))
def test_two_workers_train_as_one_device_and_only_the_chief_writes(app, one_device, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    workers = [
        _start(
            _train_args(app, tmp_path / "run", "--distribute", "multiworker"),
            _env(tmp_path, TF_CONFIG=config, SEQGRAPH_TEST_WEIGHTS=str(weights)),
            tmp_path,
        )
        for config in _cluster(2)
    ]
    results = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err[-3000:]
        assert "training on 2 replica(s), 2 worker(s)" in out
    assert "this worker wrote nothing: the chief writes" in results[1][0]
    chief, other = _weights(weights, 0), _weights(weights, 1)
    differ = [w for w, (a, b) in enumerate(zip(chief, other)) if not np.array_equal(a, b)]
    assert not differ, f"the workers' weights {differ} differ"
    difference = _relative_difference(one_device[app][1], chief)
    print(f"{app}: two workers against one device, largest relative weight difference {difference:.2e}")
    assert difference < TOLERANCE[app]
    # Only the chief wrote: the run folder, and nothing else in the working or scratch folders.
    assert {p.name for p in tmp_path.iterdir()} <= {"cache", "run", "scratch", "weights"}
    assert list((tmp_path / "scratch").iterdir()) == []
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "finished"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["resumed"] == 0


def test_a_killed_worker_is_restarted_and_the_cluster_resumes(tmp_path):
    """SIGKILL one of two workers mid-training: the other stops (its collective fails); the
    same commands started again resume from the chief's state and finish."""
    run = tmp_path / "run"
    args = _train_args("graph", run, "--distribute", "multiworker", epochs=40)
    configs = _cluster(2)
    workers = [_start(args, _env(tmp_path, TF_CONFIG=c), tmp_path) for c in configs]
    _wait_for("state/fold-1/epoch-00002", run, workers[0])
    workers[1].send_signal(signal.SIGKILL)
    workers[1].wait(timeout=30)
    _, err = workers[0].communicate(timeout=240)
    assert workers[0].returncode == 2 and "the cluster lost a worker" in err and "start the same command" in err
    assert "Traceback" not in err
    assert json.loads((run / "run.json").read_text())["status"] == "training"
    kept = int(sorted((run / "state" / "fold-1").glob("epoch-*"))[-1].name.split("-")[1])
    assert 2 <= kept < 40
    configs = _cluster(2)  # new ports: the old ones may linger
    workers = [_start(args, _env(tmp_path, TF_CONFIG=c), tmp_path) for c in configs]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed"] == 1 and json.loads((run / "run.json").read_text())["status"] == "finished"


# ----------------------------------------------------------------------------- resume
@pytest.mark.parametrize("app", list(APPS))
def test_a_run_killed_mid_training_resumes_where_it_stopped(app, one_device, tmp_path):
    """SIGKILL in epoch 3, after its first step (the state of epoch 2 is written); the same
    command continues from there (its epoch and optimizer step) and ends with the weights of an
    uninterrupted run."""
    weights = tmp_path / "weights"
    weights.mkdir()
    run = tmp_path / "run"
    code, _, err = _run(_train_args(app, run), _env(tmp_path, SEQGRAPH_TEST_SIGNAL="SIGKILL@3:1"), tmp_path)
    assert code == -signal.SIGKILL, err[-3000:]
    assert json.loads((run / "run.json").read_text())["status"] == "training"
    assert [p.name for p in run.glob("state/**/epoch-*")] == ["epoch-00002"]
    code, out, err = _run(_train_args(app, run), _env(tmp_path, SEQGRAPH_TEST_WEIGHTS=str(weights)), tmp_path)
    assert code == 0, err[-3000:]
    assert f"resuming the run in {run}" in out
    assert "Epoch 3/" in out and "Epoch 2/" not in out  # it went on from epoch 3
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed"] == 1
    if "loss" in metrics:  # the epochs before the kill are in the metrics
        assert len(metrics["loss"]) == EPOCHS
    uninterrupted = one_device[app][1]
    resumed = _weights(weights)
    # Data order, weights, optimizer slots and step, and the layers' random states are all
    # restored: the same weights bit for bit on this machine.
    assert all(np.array_equal(a, b) for a, b in zip(uninterrupted, resumed)), _relative_difference(
        uninterrupted, resumed
    )
    assert not (run / "state").exists()


def test_a_run_killed_from_outside_resumes(tmp_path):
    """The same with a kill from another process, at whatever moment it lands."""
    run = tmp_path / "run"
    process = _start(_train_args("graph", run, epochs=40), _env(tmp_path), tmp_path)
    _wait_for("state/fold-1/epoch-*", run, process)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert json.loads((run / "run.json").read_text())["status"] == "training"
    code, out, err = _run(_train_args("graph", run, epochs=40), _env(tmp_path), tmp_path)
    assert code == 0, err[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed"] == 1 and "Epoch 1/" not in out


def test_ctrl_c_stops_at_the_end_of_a_step_and_says_how_to_continue(tmp_path):
    """Ctrl-C while a finished run is being replaced (--overwrite): the run stops, keeps the
    state of its last whole epoch, and evaluate refuses the folder instead of scoring a mix of
    the old run and the new one."""
    env = _env(tmp_path)
    run = tmp_path / "run"
    code, _, err = _run(_train_args("graph", run, epochs=1), env, tmp_path)
    assert code == 0, err
    code, out, err = _run(
        _train_args("graph", run, "--overwrite"), _env(tmp_path, SEQGRAPH_TEST_SIGNAL="SIGINT@2:3"), tmp_path
    )
    assert code == 130, err[-3000:]
    assert "stopping at the end of this step" in err
    # A graph epoch this small is one call into TF (steps_per_execution): it ends with its epoch.
    assert f"stopped in epoch 3; {run} keeps the state after epoch 2" in err
    assert [p.name for p in run.glob("state/**/epoch-*")] == ["epoch-00002"]
    assert f"To continue: seqgraph graph train --config {run}/config.json --out {run}" in err
    assert "Traceback" not in err
    assert json.loads((run / "run.json").read_text())["status"] == "training"
    assert not (run / "metrics.json").exists() and not (run / "model.keras").exists()
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", "graph", "evaluate", "--run", str(run)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2 and "holds an unfinished run" in result.stderr
    code, out, err = _run(["graph", "train", "--config", run / "config.json", "--out", run], env, tmp_path)
    assert code == 0, err[-3000:]
    assert json.loads((run / "metrics.json").read_text())["resumed"] == 1


def test_ctrl_c_in_the_middle_of_an_epoch_keeps_the_epoch_before(tmp_path):
    run = tmp_path / "run"
    code, out, err = _run(_train_args("image", run), _env(tmp_path, SEQGRAPH_TEST_SIGNAL="SIGINT@2:3"), tmp_path)
    assert code == 130, err[-3000:]
    assert f"stopped in epoch 2; {run} keeps the state after epoch 1" in err
    assert [p.name for p in run.glob("state/epoch-*")] == ["epoch-00001"]


def test_a_finished_run_is_kept_unless_overwrite_is_given(one_device, tmp_path):
    run, _ = one_device["graph"]
    before = (run / "metrics.json").read_text()
    env = _env(tmp_path)
    code, out, err = _run(_train_args("graph", run), env, tmp_path)
    assert code == 2 and f"error: {run} holds a finished run" in err and "--overwrite" in err
    assert (run / "metrics.json").read_text() == before
    code, out, err = _run(_train_args("graph", tmp_path, epochs=1), env, tmp_path)  # a folder with other files
    assert code == 2 and "holds no seqgraph run" in err


# ----------------------------------------------------------------------------- in process
def test_an_unfinished_run_is_resumed_only_with_the_same_options(tmp_path):
    from seqgraph.apps.common import RunError, save_config, training_run
    from seqgraph.apps.graph.config import GraphConfig

    config = GraphConfig(epochs=5)
    with pytest.raises(RuntimeError):
        with training_run("graph", tmp_path / "r", config) as run:
            save_config(config, run.path / "config.json", "graph")
            raise RuntimeError("crash")
    with pytest.raises(RunError, match=r"started with other options \(--epochs 5 -> 6\)"):
        with training_run("graph", tmp_path / "r", GraphConfig(epochs=6)):
            pass
    with training_run("graph", tmp_path / "r", config) as run:
        assert run.resumes == 1


def test_a_second_training_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    from seqgraph.apps.common import RunError, training_run
    from seqgraph.apps.graph.config import GraphConfig

    with training_run("graph", tmp_path / "r", GraphConfig()):
        with pytest.raises(RunError, match=f"pid {os.getpid()}"):
            with training_run("graph", tmp_path / "r", GraphConfig()):
                pass
    with training_run("graph", tmp_path / "r", GraphConfig()):  # released when the first ended
        pass


def _tiny_model():
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def _data(x):
    import tensorflow as tf

    return lambda context: tf.data.Dataset.from_tensor_slices((x, np.ones((len(x), 1), "float32"))).batch(4)


def test_a_loss_that_is_not_finite_stops_training_with_an_error(tmp_path):
    from seqgraph.apps.common import TrainingError, strategy, training_run
    from seqgraph.apps.graph.config import GraphConfig
    from seqgraph.apps.training import fit

    x = np.ones((8, 3), "float32")
    x[5, 1] = np.nan
    with training_run("graph", tmp_path / "r", GraphConfig()) as run:
        with pytest.raises(TrainingError, match=r"the training loss became nan in epoch 1, step 2"):
            fit(_tiny_model(), _data(x), 2, 3, run, strategy(), "none")
    assert not list((tmp_path / "r" / "state").glob("epoch-*"))  # nothing kept of the failed epoch


def test_a_half_written_state_is_never_read_and_the_last_whole_one_is(tmp_path):
    from seqgraph.apps.common import Run, strategy
    from seqgraph.apps.training import TrainingState, fit

    run = Run(tmp_path, tmp_path, True, 0)
    model = _tiny_model()
    fit(model, _data(np.ones((8, 3), "float32")), 2, 2, run, strategy(), "none", state="s")
    saved = [np.array(v) for v in model.variables + model.optimizer.variables]
    broken = tmp_path / "s" / "tmp-epoch-00003-12345"  # what a kill during the next save leaves
    broken.mkdir()
    (broken / "variables.npz").write_bytes(b"PK\x03\x04 truncated")
    state = TrainingState(tmp_path / "s", 2)
    assert state.epoch == 2 and state.saved.name == "epoch-00002" and len(state.history["loss"]) == 2
    fresh = _tiny_model()
    state.set_model(fresh)
    fresh.optimizer.build(fresh.trainable_variables)
    state.restore()
    restored = [np.array(v) for v in fresh.variables + fresh.optimizer.variables]
    assert all(np.array_equal(a, b) for a, b in zip(saved, restored))  # seed states and step included
    assert int(fresh.optimizer.iterations) == 4


def test_tensorboard_logs_and_the_projector(one_device):
    graph_run, _ = one_device["graph"]
    assert list((graph_run / "logs" / "train").glob("events.out.tfevents.*"))
    assert list((graph_run / "logs" / "validation").glob("events.out.tfevents.*"))
    skipgram_run, _ = one_device["skipgram"]
    projector = skipgram_run / "logs" / "projector"
    words = (projector / "metadata.tsv").read_text().splitlines()
    vectors = np.loadtxt(projector / "vectors.tsv", delimiter="\t")
    assert (
        vectors.shape == (len(words), 16)
        and 'tensor_path: "vectors.tsv"' in (projector / "projector_config.pbtxt").read_text()
    )


def test_child_processes_replace_each_after_its_tasks():
    """More tasks than processes, the processes replaced after 2 tasks each: every task runs
    (Python 3.11's pool with max_tasks_per_child hangs, python/cpython#115634; a hang fails here)."""
    code = (
        "import os\n"
        "from seqgraph.apps.common import child_processes\n"
        "with child_processes(2, tasks_per_process=2) as submit:\n"
        "    pids = [f.result() for f in [submit(os.getpid) for _ in range(12)]]\n"
        "print(len(set(pids)), os.getpid() in pids)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    processes, in_parent = out.stdout.split()
    assert int(processes) >= 6 and in_parent == "False"  # at most 2 tasks in each process
