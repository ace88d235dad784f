# Everything runs in a project-local virtual environment (.venv), created on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SEQGRAPH := $(VENV)/bin/seqgraph

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

# The layers' tests run under all three Keras backends; the apps' under TensorFlow (and their
# backend-independent parts under JAX).
LAYER_TESTS := tests/test_attention.py tests/test_graph.py tests/test_recurrent.py tests/test_embedding_ctc.py \
	tests/test_preprocessing.py tests/test_serialization.py tests/test_fresh_weights.py

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest tests
	KERAS_BACKEND=jax $(PY) -m pytest tests
	KERAS_BACKEND=torch $(PY) -m pytest $(LAYER_TESTS)
	tests/check_wheel.sh $(PYTHON)

EXAMPLES := runs/examples
GRAPH_RUN := runs/graph/demo
SKIPGRAM_RUN := runs/skipgram/demo
IMAGE_RUN := runs/image/demo
SPEECH_RUN := runs/speech/demo
SPEECH_EXAMPLES := $(EXAMPLES)/three_one_four.wav $(EXAMPLES)/nine.wav $(EXAMPLES)/two_zero_two_six.wav

demo: $(VENV)/.installed
	$(SEQGRAPH) layer-demo
	$(SEQGRAPH) examples $(EXAMPLES)
	$(SEQGRAPH) graph train --dataset synthetic --model gin --folds 1 --epochs 30 --progress epoch --out $(GRAPH_RUN) --overwrite
	$(SEQGRAPH) graph evaluate --run $(GRAPH_RUN)
	$(SEQGRAPH) graph export --run $(GRAPH_RUN)
	$(SEQGRAPH) graph predict --run $(GRAPH_RUN) $(EXAMPLES)/graphs.json
	$(SEQGRAPH) skipgram train --epochs 40 --out $(SKIPGRAM_RUN) --overwrite
	$(SEQGRAPH) skipgram neighbors --run $(SKIPGRAM_RUN) -k 5 government police fire president
	$(SEQGRAPH) skipgram export --run $(SKIPGRAM_RUN)
	$(SEQGRAPH) image train --model hybrid --patch-size 2 --epochs 30 --progress epoch --out $(IMAGE_RUN) --overwrite
	$(SEQGRAPH) image evaluate --run $(IMAGE_RUN)
	$(SEQGRAPH) image attention-maps --run $(IMAGE_RUN)
	$(SEQGRAPH) image export --run $(IMAGE_RUN)
	$(SEQGRAPH) image predict --run $(IMAGE_RUN) $(EXAMPLES)/digit_2.png $(EXAMPLES)/digit_5.png $(EXAMPLES)/digit_7.png
	$(SEQGRAPH) speech train --utterances 1600 --epochs 12 --progress epoch --out $(SPEECH_RUN) --overwrite
	$(SEQGRAPH) speech evaluate --run $(SPEECH_RUN)
	$(SEQGRAPH) speech say --out-dir $(EXAMPLES) "three one four" "nine" "two zero two six"
	$(SEQGRAPH) speech transcribe --run $(SPEECH_RUN) $(SPEECH_EXAMPLES)
	$(SEQGRAPH) speech export --run $(SPEECH_RUN)

bench: $(VENV)/.installed-bench
	$(PY) -m bench.attention
	$(PY) -m bench.recurrent
	$(PY) -m bench.graph_layers
	$(PY) -m bench.graph_training --data-dir $(TU_DIR)
	$(PY) -m bench.skipgram_vs_gensim --corpus $(BROWN)
	$(PY) -m bench.skipgram_update_order --corpus $(BROWN)
	$(PY) -m bench.image_attention
	$(PY) -m bench.image_training

clean:
	rm -rf $(VENV) .pytest_cache runs/*/ saved_models/*/
