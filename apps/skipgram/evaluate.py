"""``seqgraph skipgram evaluate`` and ``neighbors``: word vectors on the benchmarks, and the
nearest words."""

import logging
from pathlib import Path

from seqgraph.apps.common import load_model, run_config, write_json
from seqgraph.apps.skipgram.config import SkipgramConfig
from seqgraph.apps.skipgram.model import word_vectors
from seqgraph.datasets import text

ANALOGY_VOCAB = 30_000  # analogy answers are searched among this many most frequent words


def keyed_vectors(vocab, vectors):
    """gensim KeyedVectors of the real words (PAD left out), most frequent first."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(vocab.words[1:], vectors[1:])
    return kv


def evaluate_vectors(kv):
    """WordSim-353 and SimLex-999 Spearman correlations, Google analogy accuracy (3CosAdd among
    the 30k most frequent words), with how much of each benchmark was out of vocabulary. Pairs
    or questions with unknown words are skipped (gensim's convention), and counted; a score is
    None when the vocabulary covers none of its benchmark."""
    from gensim.test.utils import datapath

    logging.getLogger("gensim").setLevel(logging.ERROR)
    result = {}
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        try:
            _, spearman, oov_percent = kv.evaluate_word_pairs(datapath(file))
            result[name] = float(spearman.statistic)
        except ValueError:  # gensim: "No valid similarity judgements found"
            result[name], oov_percent = None, 100.0
        result[f"{name}_oov_percent"] = float(oov_percent)
    questions = datapath("questions-words.txt")
    total = sum(1 for line in open(questions, encoding="utf-8") if line.strip() and not line.startswith(":"))
    accuracy, sections = kv.evaluate_word_analogies(questions, restrict_vocab=ANALOGY_VOCAB)
    answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    result["analogy"] = float(accuracy) if answered else None
    result["analogy_questions"] = total
    result["analogy_oov_questions"] = total - answered
    return result


def score_text(value):
    return "n/a" if value is None else f"{value:.4f}"


def print_evaluation(result):
    for name, title in (("wordsim353", "WordSim-353"), ("simlex999", "SimLex-999 ")):
        print(f"{title} Spearman {score_text(result[name])} ({result[name + '_oov_percent']:.1f}% of pairs OOV)")
    print(
        f"analogy (3CosAdd, top {ANALOGY_VOCAB} words) accuracy {score_text(result['analogy'])} "
        f"({result['analogy_oov_questions']} of {result['analogy_questions']} questions OOV)"
    )


def load_run(run):
    """(config, vocabulary, word vectors [V, dim]) of a run folder."""
    run = Path(run)
    config, _ = run_config(SkipgramConfig, run, "skipgram")
    vocab = text.Vocabulary.load(run / "vocab.tsv")
    vectors = word_vectors(load_model(run))
    if len(vectors) != len(vocab):
        raise SystemExit(f"error: {run}/vocab.tsv has {len(vocab)} words, model.keras {len(vectors)} vectors")
    return config, vocab, vectors


def evaluate(run):
    """WordSim-353, SimLex-999 and Google analogy scores of ``run``'s vectors; writes
    ``run/eval.json``. Returns the scores."""
    _, vocab, vectors = load_run(run)
    result = evaluate_vectors(keyed_vectors(vocab, vectors))
    print_evaluation(result)
    write_json(Path(run) / "eval.json", result)
    return result


def neighbors(run, words, k=10):
    """Print the ``k`` nearest words (by cosine) of each of ``words``, one line each; a word
    outside the vocabulary is said to be. Returns ``{word: [(neighbour, cosine), ...]}``."""
    config, vocab, vectors = load_run(run)
    kv = keyed_vectors(vocab, vectors)
    found = {}
    for word in words:
        key = word.lower() if config.lowercase else word
        if key not in kv.key_to_index:
            print(neighbors_line(word, None))
            continue
        found[word] = kv.most_similar(key, topn=k)
        print(neighbors_line(word, found[word]))
    return found


def neighbors_line(word, neighbours):
    """The line ``neighbors`` and ``query`` print for one word: its ``neighbours`` ``[(word,
    cosine), ...]``, or None when it is not in the vocabulary."""
    if neighbours is None:
        return f"{word}: not in the vocabulary"
    return f"{word}: " + ", ".join(f"{w} {c:.3f}" for w, c in neighbours)
