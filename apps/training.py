"""The one training loop of the apps: ``fit`` trains a compiled Keras model in a run folder,
resumable after a crash or Ctrl-C, with TensorBoard logs, on one device or under
``tf.distribute`` (several local devices or several workers)."""

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import keras
import numpy as np

from seqgraph.apps.common import FIT_VERBOSITY, TrainingError, resume_command


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped training at the end of a step; the message says what the run kept and how
    to continue."""


class TrainingState(keras.callbacks.Callback):
    """Keeps a model's training state in ``directory`` after every epoch and restores it when
    training starts again: every variable of the model and its optimizer (weights, optimizer
    slots and step, the layers' random-number states), the epoch and the logs of the epochs
    done.

    Each epoch's state is written to a temporary folder, then renamed to ``epoch-NNNNN``; the
    older one is removed only after that, so a kill at any moment leaves a whole state behind,
    and a half-written one is never read. It also stops training on a loss that is not finite
    (``TrainingError`` after ``fit``), and at the end of the step in which Ctrl-C was pressed.

    Args:
        directory: the state folder (read by every worker; written when ``write``), or None
            for none.
        steps_per_epoch: steps in an epoch (an epoch stopped early is not kept).
        write: whether this process writes the state (the chief).

    Example:

    ```python
    state = TrainingState("runs/x/state", steps_per_epoch=50)
    model.fit(data, epochs=10, initial_epoch=state.epoch, callbacks=[state], ...)
    history = state.history  # every epoch's logs, those before a resume included
    ```
    """

    def __init__(self, directory, steps_per_epoch, write=True):
        super().__init__()
        self.directory = Path(directory) if directory else None
        self.steps_per_epoch, self.write = steps_per_epoch, write and directory is not None
        self.epoch, self.history, self.saved = 0, {}, self.latest()
        self.failure, self.interrupted, self.steps_done = None, False, 0
        if self.saved:
            progress = json.loads((self.saved / "progress.json").read_text())
            self.epoch, self.history = progress["epoch"], progress["history"]

    def latest(self):
        """The newest whole state folder, or None."""
        if self.directory is None or not self.directory.exists():
            return None
        saved = sorted(self.directory.glob("epoch-[0-9][0-9][0-9][0-9][0-9]"))
        return saved[-1] if saved else None

    def variables(self):
        return list(self.model.variables) + list(self.model.optimizer.variables)

    def restore(self):
        """Load the saved variables into the (built) model and its optimizer."""
        if not self.saved:
            return
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        with np.load(self.saved / "variables.npz") as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        variables = self.variables()
        if len(values) != len(variables) or any(v.shape != tuple(x.shape) for v, x in zip(variables, values)):
            raise TrainingError(f"{self.saved} does not fit this model: it was saved by another model or version")
        for variable, value in zip(variables, values):
            variable.assign(value)

    def on_train_begin(self, logs=None):
        self.restore()

    def on_epoch_begin(self, epoch, logs=None):
        self.steps_done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done = batch + 1
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            self.failure = f"the training loss became {float(loss)} in epoch {self.epoch + 1}, step {batch + 1}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.failure or self.steps_done < self.steps_per_epoch:
            return  # an epoch stopped early (Ctrl-C, a non-finite loss) is not kept
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.epoch = epoch + 1
        if self.write:
            self.save()

    def save(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"epoch-{self.epoch:05d}"
        tmp = self.directory / f"tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            np.savez(tmp / "variables.npz", *[keras.ops.convert_to_numpy(v.value) for v in self.variables()])
            (tmp / "progress.json").write_text(json.dumps({"epoch": self.epoch, "history": self.history}))
        except BaseException:  # a full disk, say: the last whole state stays, and no half one
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self.directory.iterdir():  # older states, and temporary folders of killed runs
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
        self.saved = final


def tensorboard(directory):
    """``[keras.callbacks.TensorBoard]`` writing scalars per epoch and the model graph to
    ``directory``, or ``[]`` (said once) when the tensorboard package, which writes them, is not
    installed."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        if not _SAID["tensorboard"]:
            print("no TensorBoard logs: pip install 'seqgraph[tensorboard]' to have them", file=sys.stderr)
            _SAID["tensorboard"] = True
        return []
    return [keras.callbacks.TensorBoard(directory, write_graph=True, profile_batch=0)]


_SAID = {"tensorboard": False}


@contextlib.contextmanager
def stop_on_interrupt(state):
    """While the block runs, Ctrl-C (SIGINT) asks training to stop at the end of the current step
    (a second one stops at once)."""
    if not hasattr(signal, "SIGINT") or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # not the main thread, or someone else handles Ctrl-C
        return

    def stop(signum, frame):
        if state.interrupted:
            raise KeyboardInterrupt
        state.interrupted = True
        state.model.stop_training = True
        print("\nstopping at the end of this step (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def fit(
    model,
    train_data,
    steps_per_epoch,
    epochs,
    run,
    strategy,
    progress="bar",
    validation_data=None,
    validation_steps=None,
    state="state",
    logs="logs",
    callbacks=(),
):
    """Train ``model`` (compiled under ``strategy``'s scope) for ``epochs`` epochs of
    ``steps_per_epoch`` steps, resumably, and return the logs of every epoch.

    The training state is kept in ``run.folder / state`` after each epoch (``TrainingState``):
    if it holds one, training resumes after its epoch, on the batches an uninterrupted run
    would have seen next. TensorBoard logs go to ``run.path / logs`` (scalars per epoch and
    the model graph). A loss that is not finite stops training with ``TrainingError``; Ctrl-C
    stops it at the end of the step with ``Interrupted``; either way the run keeps the state
    of its last whole epoch.

    Under the default strategy this is Keras' ``model.fit``. Under a ``tf.distribute`` strategy
    with several replicas or workers, where ``fit`` fails (keras-team/keras#20585: it reduces
    per-replica batches and metrics in ways ``MultiWorkerMirroredStrategy`` and disjoint graph
    batches do not allow), ``distributed_fit`` runs the same ``train_step`` and callbacks.

    Args:
        model: a compiled Keras model.
        train_data: ``input_context -> tf.data.Dataset``: one pass over the training data in
            the batches of this input pipeline's replicas, one per replica and step
            (``replica_batches``; the global batches themselves on one device). ``fit``
            repeats it.
        steps_per_epoch, epochs: as in ``model.fit``.
        run: the ``common.Run`` being trained, or None: no state kept, no logs.
        strategy: the ``tf.distribute`` strategy.
        progress: ``bar``, ``epoch`` or ``none``.
        validation_data: a ``tf.data.Dataset`` scored after each epoch (whole on every
            replica), or None; ``validation_steps`` of its batches.
        state, logs: the state and TensorBoard folders, relative to the run folder (a k-fold
            run keeps one per fold).
        callbacks: more Keras callbacks.

    Returns:
        ``{metric: [value per epoch]}``, the epochs before a resume included.

    Example:

    ```python
    history = fit(model, lambda context: one_pass(context), 50, 10, run, strategy())
    ```
    """
    import tensorflow as tf

    keeper = TrainingState(run and run.folder / state, steps_per_epoch, write=run is not None and run.chief)
    if keeper.epoch >= epochs:  # trained, but stopped before the run was finished
        keeper.set_model(model)
        with strategy.scope():
            keeper.restore()
        return keeper.history
    callbacks = [keeper, *(tensorboard(run.path / logs) if run else []), *callbacks]

    def resumed_data(context):
        local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
        return train_data(context).repeat().skip(keeper.epoch * steps_per_epoch * local_replicas)

    with stop_on_interrupt(keeper):
        if distributed(strategy):
            workers = strategy.extended._num_workers if hasattr(strategy.extended, "_num_workers") else 1
            print(f"training on {strategy.num_replicas_in_sync} replica(s), {workers} worker(s)", flush=True)
            data = strategy.distribute_datasets_from_function(resumed_data)
            try:
                distributed_fit(
                    model,
                    strategy,
                    data,
                    steps_per_epoch,
                    epochs,
                    keeper.epoch,
                    callbacks,
                    progress,
                    validation_data,
                    validation_steps,
                )
            except (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError) as e:
                kept = f"{run.folder} keeps the state after epoch {keeper.epoch}; " if run else ""
                raise TrainingError(
                    f"the cluster lost a worker ({type(e).__name__}: {e.message.splitlines()[0][:160]}); "
                    f"{kept}start the same command on every worker to resume"
                ) from None
        else:
            model.fit(
                resumed_data(tf.distribute.InputContext()),
                steps_per_epoch=steps_per_epoch,
                epochs=epochs,
                initial_epoch=keeper.epoch,
                validation_data=validation_data,
                validation_steps=validation_steps,
                callbacks=callbacks,
                verbose=FIT_VERBOSITY[progress],
                shuffle=False,
            )
    kept = f"; {run.folder} keeps the state after epoch {keeper.epoch}" if run else ""
    if keeper.failure:
        raise TrainingError(f"{keeper.failure} (non-finite input values, or a learning rate too high?){kept}")
    if keeper.interrupted:
        again = f". To continue: {resume_command(run.folder)}" if run else ""
        raise Interrupted(f"stopped in epoch {keeper.epoch + 1}{kept}{again}")
    return keeper.history


def distributed_fit(
    model,
    strategy,
    data,
    steps_per_epoch,
    epochs,
    initial_epoch,
    callbacks,
    progress,
    validation_data,
    validation_steps,
):
    """``model.fit`` for a distributed dataset ``data`` under ``strategy``: each step runs
    ``model.train_step`` on every replica's batch (``strategy.run`` in a ``tf.function``; Keras
    scales each replica's loss by the number of replicas, and the optimizer sums their
    gradients: the step of the global batch), and reads the metrics across all replicas. After
    each epoch every replica scores the whole of ``validation_data``, so the metrics summed
    over replicas are exact. The callbacks are called as ``fit`` calls them."""
    import tensorflow as tf

    iterator = iter(data)
    # Build the optimizer and compiled metrics, as fit does before its first step, from the specs
    # of a replica's batch (a batch drawn from another iterator would advance the reshuffling).
    spec = tf.nest.map_structure(lambda s: getattr(s, "_value_specs", (s,))[0], data.element_spec)
    with strategy.scope():
        model._symbolic_build(data_batch=spec)

    @tf.function
    def train_function(iterator):
        strategy.run(model.train_step, args=(next(iterator),))
        return model.get_metrics_result()

    @tf.function
    def test_function(batch):
        strategy.run(model.test_step, args=(batch,))
        return model.get_metrics_result()

    model.train_function = train_function  # TensorBoard draws its graph
    callbacks = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=progress != "none",
        verbose=FIT_VERBOSITY[progress],
        epochs=epochs,
        steps=steps_per_epoch,
        model=model,
    )
    model.stop_training = False
    callbacks.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callbacks.on_train_batch_begin(step)
            logs = {k: float(v) for k, v in train_function(iterator).items()}
            callbacks.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if validation_data is not None and not model.stop_training:
            model.reset_metrics()
            for batch in validation_data.take(validation_steps or -1):
                val_logs = test_function(batch)
            epoch_logs.update({f"val_{k}": float(v) for k, v in val_logs.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    return model.history


def distributed(strategy):
    """Whether ``strategy`` is a ``tf.distribute`` strategy of ours (mirrored, multi-worker), not
    TF's default one (one device, no replicas)."""
    return type(strategy).__name__ != "_DefaultDistributionStrategy"


def replica_batches(global_batches, context):
    """This input pipeline's replicas' parts of each batch of ``global_batches``: a batch (any
    structure of tensors with the examples on axis 0) is cut into one strided part per replica
    of the whole cluster (``context.num_replicas_in_sync``; parts differ in size by one at
    most), and the parts of this pipeline's replicas follow each other, as
    ``distribute_datasets_from_function`` hands them out. A step of all replicas thus trains on
    the global batch a single device would (with the batch norm synchronized: the same step).

    Args:
        global_batches: a ``tf.data.Dataset`` of batches, the same on every input pipeline.
        context: the ``tf.distribute.InputContext`` of this pipeline.

    Returns:
        A ``tf.data.Dataset`` of per-replica batches (``global_batches`` itself on one replica).

    Example:

    ```python
    strategy.distribute_datasets_from_function(lambda context: replica_batches(batches, context))
    ```
    """
    import tensorflow as tf

    total = context.num_replicas_in_sync
    if total == 1:
        return global_batches
    local = total // context.num_input_pipelines
    first = context.input_pipeline_id * local

    def parts(*batch):
        batch = batch[0] if len(batch) == 1 else batch
        return tf.data.Dataset.range(first, first + local).map(
            lambda replica: tf.nest.map_structure(lambda x: x[replica::total], batch)
        )

    return global_batches.flat_map(parts)


def per_replica_batch(context, global_batch):
    """The batch of each replica when ``global_batch`` is split over ``context``'s replicas."""
    from seqgraph.apps.common import ConfigError

    if global_batch % context.num_replicas_in_sync:
        raise ConfigError(
            f"--batch-size {global_batch} must be a multiple of the {context.num_replicas_in_sync} replicas"
        )
    return global_batch // context.num_replicas_in_sync
