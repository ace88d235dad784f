"""Skip-gram (or CBOW) word vectors: our app vs gensim's Word2Vec, same corpus, same settings,
in one run: benchmark scores and training words/s, per seed and their mean.

    python -m bench.skipgram_vs_gensim --corpus ../shared/data/text/brown.zip [--seeds 3]

Both learn from the same tokenised sentences (our reader's) with dim 100, window 5, 5
negatives, min_count 5, sample 1e-3, 5 epochs, learning rate 0.025 falling to 0.0001; gensim
with ``workers=2`` (one per core here). The two take turns, seed by seed, in the order
gensim, ours, ours, gensim (timing on this shared machine drifts by 2x within minutes; each
library's words/s is the median over all its runs). words/s = corpus tokens in the vocabulary x
epochs (ours: the tokens its batches stood for, within 0.5% of that) / seconds of training
(vocabulary building excluded for both; ours from making the input pipeline, which draws a
pass to count its batches, to Keras' train_end, as fit sometimes needs seconds more to return
while tf.distribute's input iterator shuts down: ``fit_wall_seconds`` has that time). Scores are those of each
seed's first run, by the same code for both (``apps.skipgram.evaluate_vectors``).
"""

import argparse
import time

import numpy as np

SETTINGS = {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3, "epochs": 5}
SCORES = ("wordsim353", "simlex999", "analogy")


def ours(sentences, model, seed):
    from seqgraph.apps.skipgram.evaluate import evaluate_vectors, keyed_vectors
    from seqgraph.apps.skipgram.model import word_vectors
    from seqgraph.apps.skipgram.train import fit_vectors
    from seqgraph.datasets import text

    vocab = text.Vocabulary.build(sentences, SETTINGS["min_count"])
    ids, sentence_ids = vocab.encode(sentences)
    fit = fit_vectors(
        ids,
        sentence_ids,
        vocab,
        model,
        SETTINGS["dim"],
        SETTINGS["window"],
        SETTINGS["negative"],
        SETTINGS["sample"],
        SETTINGS["epochs"],
        seed=seed,
        progress="none",
    )
    return {
        **evaluate_vectors(keyed_vectors(vocab, word_vectors(fit.net))),
        "words_per_second": fit.tokens / fit.seconds,
        "train_seconds": fit.seconds,
        "fit_wall_seconds": fit.wall_seconds,
    }


def gensim_word2vec(sentences, model, seed):
    from gensim.models import Word2Vec

    from seqgraph.apps.skipgram.evaluate import evaluate_vectors

    w2v = Word2Vec(
        vector_size=SETTINGS["dim"],
        window=SETTINGS["window"],
        negative=SETTINGS["negative"],
        min_count=SETTINGS["min_count"],
        sample=SETTINGS["sample"],
        sg=int(model == "skipgram"),
        hs=0,
        alpha=0.025,
        min_alpha=0.0001,
        workers=2,
        seed=seed,
    )
    w2v.build_vocab(sentences)
    start = time.perf_counter()
    w2v.train(sentences, total_examples=w2v.corpus_count, epochs=SETTINGS["epochs"])
    seconds = time.perf_counter() - start
    words = sum(w2v.wv.get_vecattr(w, "count") for w in w2v.wv.index_to_key) * SETTINGS["epochs"]
    return {**evaluate_vectors(w2v.wv), "words_per_second": words / seconds, "train_seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="e.g. ../shared/data/text/brown.zip")
    parser.add_argument("--model", choices=["skipgram", "cbow"], default="skipgram")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)

    import gensim

    from bench.common import write_results
    from seqgraph.datasets import text

    sentences = text.read_corpus(args.corpus)
    print(
        f"{args.corpus}: {len(sentences)} sentences, {sum(map(len, sentences))} tokens; {args.model}, "
        f"{SETTINGS}, seeds 0..{args.seeds - 1}",
        flush=True,
    )
    runs = {"seqgraph": [], "gensim": []}
    speed = {"seqgraph": [], "gensim": []}
    for seed in range(args.seeds):
        for repeat, order in enumerate(
            ((("gensim", gensim_word2vec), ("seqgraph", ours)), (("seqgraph", ours), ("gensim", gensim_word2vec)))
        ):
            for name, fn in order:
                r = fn(sentences, args.model, seed)
                speed[name].append(r["words_per_second"])
                if repeat == 0:
                    runs[name].append(r)
                print(
                    f"seed {seed} {name:>8}: WordSim-353 {r['wordsim353']:.4f}  SimLex-999 {r['simlex999']:.4f}  "
                    f"analogy {r['analogy']:.4f}  {r['words_per_second']:9,.0f} words/s",
                    flush=True,
                )
    mean = {name: {key: float(np.mean([r[key] for r in rows])) for key in SCORES} for name, rows in runs.items()}
    for name, m in mean.items():
        m["words_per_second"] = float(np.median(speed[name]))
        print(
            f"{name:>8}: mean WordSim-353 {m['wordsim353']:.4f}  SimLex-999 {m['simlex999']:.4f}  "
            f"analogy {m['analogy']:.4f}; median {m['words_per_second']:9,.0f} words/s"
        )
    comparison = {f"{key}_difference": mean["seqgraph"][key] - mean["gensim"][key] for key in SCORES}
    comparison["words_per_second_ratio"] = mean["seqgraph"]["words_per_second"] / mean["gensim"]["words_per_second"]
    print("ours - gensim: " + ", ".join(f"{k} {v:+.4f}" for k, v in comparison.items()))
    write_results(
        f"skipgram_vs_gensim_{args.model}" if args.model != "skipgram" else "skipgram_vs_gensim",
        {
            "corpus": str(args.corpus),
            "model": args.model,
            "settings": SETTINGS,
            "gensim": gensim.__version__,
            "mean": mean,
            **comparison,
            "runs": runs,
            "words_per_second_all_runs": speed,
        },
    )


if __name__ == "__main__":
    main()
