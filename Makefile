# Everything runs in a project-local virtual environment (.venv), created on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: test demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The peers of the benchmarks (spektral, PyTorch Geometric) are only needed there.
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

# Benchmark data (TU format), outside the repository.
TU_DIR ?= ../shared/data/tu
BROWN ?= ../shared/data/text/brown.zip

test: $(VENV)/.installed
	$(PY) -m pytest tests
	KERAS_BACKEND=jax $(PY) -m pytest tests

GRAPH_RUN := runs/graph/demo
SKIPGRAM_RUN := runs/skipgram/demo
IMAGE_RUN := runs/image/demo
SPEECH_RUN := runs/speech/demo
SPEECH_EXAMPLES := $(SPEECH_RUN)/examples/three_one_four.wav $(SPEECH_RUN)/examples/nine.wav $(SPEECH_RUN)/examples/two_zero_two_six.wav

demo: $(VENV)/.installed
	$(PY) -m apps.layer_demo
	$(PY) -m apps.graph train --dataset synthetic --model gin --folds 1 --epochs 30 --out $(GRAPH_RUN)
	$(PY) -m apps.graph evaluate --run $(GRAPH_RUN)
	$(PY) -m apps.graph export --run $(GRAPH_RUN)
	$(PY) -m apps.graph predict --run $(GRAPH_RUN) apps/examples/graphs.json
	$(PY) -m apps.skipgram train --epochs 40 --out $(SKIPGRAM_RUN)
	$(PY) -m apps.skipgram neighbors --run $(SKIPGRAM_RUN) -k 5 government police fire president
	$(PY) -m apps.skipgram export --run $(SKIPGRAM_RUN)
	$(PY) -m apps.image train --model hybrid --patch-size 2 --epochs 30 --verbose 2 --out $(IMAGE_RUN)
	$(PY) -m apps.image evaluate --run $(IMAGE_RUN)
	$(PY) -m apps.image attention-maps --run $(IMAGE_RUN)
	$(PY) -m apps.image export --run $(IMAGE_RUN)
	$(PY) -m apps.image predict --run $(IMAGE_RUN) apps/examples/digit_2.png apps/examples/digit_5.png apps/examples/digit_7.png
	$(PY) -m apps.speech train --utterances 1600 --epochs 12 --verbose 2 --out $(SPEECH_RUN)
	$(PY) -m apps.speech evaluate --run $(SPEECH_RUN)
	$(PY) -m apps.speech say --out-dir $(SPEECH_RUN)/examples "three one four" "nine" "two zero two six"
	$(PY) -m apps.speech transcribe --run $(SPEECH_RUN) $(SPEECH_EXAMPLES)
	$(PY) -m apps.speech export --run $(SPEECH_RUN)

bench: $(VENV)/.installed-bench
	$(PY) -m bench.attention
	$(PY) -m bench.recurrent
	$(PY) -m bench.graph_layers
	$(PY) -m bench.graph_training --data-dir $(TU_DIR)
	$(PY) -m bench.skipgram_vs_gensim --corpus $(BROWN)
	$(PY) -m bench.skipgram_update_order --corpus $(BROWN)
	$(PY) -m bench.image_attention

clean:
	rm -rf $(VENV) .pytest_cache runs/*/ saved_models/*/
