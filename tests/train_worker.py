"""Runs ``seqgraph ARGS...`` in a test's subprocess, with test-only settings from the
environment: ``SEQGRAPH_TEST_CPUS=N`` splits the CPU into N logical devices first (for
``--distribute mirrored``); ``SEQGRAPH_TEST_WEIGHTS=DIR`` saves the weights of every model
``apps.training.fit`` trained to ``DIR/<task>.npz`` (``task`` is the worker's index in
``TF_CONFIG``, or 0), so a test can compare the workers' weights; ``SEQGRAPH_TEST_SIGNAL=
NAME@EPOCH:STEP`` (``SIGKILL@3:2``) sends the process that signal once the step has ended (both
counted from 1), mid-training wherever a test wants it, however fast the epochs are."""

import json
import os
import signal
import sys

import numpy as np
import tensorflow as tf

if os.environ.get("SEQGRAPH_TEST_CPUS"):
    cpu = tf.config.list_physical_devices("CPU")[0]
    count = int(os.environ["SEQGRAPH_TEST_CPUS"])
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)

import keras  # noqa: E402

from seqgraph.apps import training  # noqa: E402

fit = training.fit


class SendSignal(keras.callbacks.Callback):
    def __init__(self, setting):
        super().__init__()
        name, when = setting.split("@")
        self.signal, (self.at_epoch, self.at_step) = getattr(signal, name), map(int, when.split(":"))
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch + 1) >= (self.at_epoch, self.at_step) and self.signal is not None:
            os.kill(os.getpid(), self.signal)
            self.signal = None


if os.environ.get("SEQGRAPH_TEST_SIGNAL", "").startswith("SIGINT"):
    # A shell without job control starts background jobs with Ctrl-C ignored, and this process
    # would inherit that (the suite run as `make test &`): take Ctrl-C back, as at a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def fit_for_tests(model, *args, **kwargs):
    if os.environ.get("SEQGRAPH_TEST_SIGNAL"):
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), SendSignal(os.environ["SEQGRAPH_TEST_SIGNAL"])]
    history = fit(model, *args, **kwargs)
    if os.environ.get("SEQGRAPH_TEST_WEIGHTS"):
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
        path = os.path.join(os.environ["SEQGRAPH_TEST_WEIGHTS"], f"{task}.npz")
        np.savez(path, *[np.asarray(w) for w in model.weights])
    return history


training.fit = fit_for_tests

from seqgraph.cli import main  # noqa: E402

main(sys.argv[1:])
