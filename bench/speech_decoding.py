"""Decoding a speech run's held-out utterances four ways, from the same logits: greedy, beam search
over characters (Keras' CTC beam search), and beam search over words scored by an n-gram model
with flashlight-text's lexicon decoder (seqgraph's ``--lm``/``--grammar``) and with pyctcdecode
+ KenLM (the peer). WER, CER and real-time factor (the acoustic model's time plus the decoder's,
per second of audio, 2 threads).

    seqgraph speech train --data-dir ../shared/data/fsdd --out runs/speech/fsdd
    python -m bench.speech_decoding --run runs/speech/fsdd [--data-dir ../shared/data/fsdd] \\
        [--lm words.arpa --lexicon words.lexicon.txt]     # default: the digit grammar

The peer is installed by hand: ``pip install pyctcdecode kenlm`` (kenlm compiles), then
``pip install 'numpy>=2'`` again (pyctcdecode 0.5.0 pins numpy < 2, which TensorFlow 2.21 cannot
import with, yet it runs with numpy 2). Without it that row is left out and said so.
"""

import argparse
import tempfile
import time

BEAM = 32


def main(argv=None):
    import jiwer
    import numpy as np
    from keras import ops

    from bench.common import write_results
    from seqgraph import layers
    from seqgraph.apps.speech import decoding
    from seqgraph.apps.speech.evaluate import held_out, load_run, word_decoder
    from seqgraph.apps.speech.model import sample_rate_of
    from seqgraph.datasets import speech

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--data-dir", help="the FSDD folder (default: the run's)")
    parser.add_argument("--utterances", type=int, default=500)
    parser.add_argument("--lm", help="an ARPA model (default: the digit grammar)")
    parser.add_argument("--lexicon")
    parser.add_argument("--lm-weight", type=float, default=2.0)
    args = parser.parse_args(argv)

    config, _, model = load_run(args.run)
    _, test_set, _ = held_out(config, args.data_dir, args.utterances)
    references = [u.transcript for u in test_set]
    rate = sample_rate_of(model)
    audio_seconds = sum(u.samples(rate) for u in test_set) / rate
    ds, _ = speech.tf_dataset(test_set, 32, sample_rate=rate)
    order = np.concatenate(speech.length_batches([u.samples(rate) for u in test_set], 32))
    start = time.perf_counter()
    outputs = [model(inputs, training=False) for inputs, _ in ds]
    acoustic = time.perf_counter() - start
    logits = [ops.convert_to_numpy(o["logits"]) for o in outputs]
    lengths = [ops.convert_to_numpy(o["lengths"]) for o in outputs]

    def rows():
        for batch_logits, batch_lengths in zip(logits, lengths):
            for row, steps in zip(batch_logits, batch_lengths):
                yield row[:steps]

    def by_batch(decode_batch):
        texts = []
        for batch_logits, batch_lengths in zip(logits, lengths):
            texts += decode_batch(batch_logits, batch_lengths)
        return texts

    lm, lexicon = args.lm, args.lexicon
    grammar = None if lm else "digits"
    if grammar:
        lm, lexicon = decoding.digit_grammar(tempfile.mkdtemp())
    words = word_decoder(lm, lexicon, beam=BEAM, lm_weight=args.lm_weight)
    decoders = {
        "greedy": lambda: by_batch(
            lambda x, n: [speech.decode(r) for r in ops.convert_to_numpy(layers.ctc_greedy_decode(x, n))]
        ),
        f"beam {BEAM} (characters)": lambda: by_batch(
            lambda x, n: [
                speech.decode(r) for r in ops.convert_to_numpy(layers.ctc_beam_decode(x, n, beam_width=BEAM)[0][0])
            ]
        ),
        f"beam {BEAM} + LM, flashlight-text": lambda: [words(r) for r in rows()],
    }
    peer = pyctcdecode_decoder(lm, lexicon, args.lm_weight)
    if peer is not None:
        decoders[f"beam {BEAM} + LM, pyctcdecode + KenLM"] = lambda: [
            peer.decode(decoding.log_softmax(r), beam_width=BEAM).strip() for r in rows()
        ]
    else:
        print("pyctcdecode + KenLM: not installed (pip install pyctcdecode kenlm), left out")

    results = []
    for name, decode in decoders.items():
        decode()  # warm up (tracing, LM loading)
        start = time.perf_counter()
        texts = decode()
        seconds = time.perf_counter() - start
        hypotheses = [None] * len(texts)
        for position, text in zip(order, texts):
            hypotheses[position] = " ".join(text.split())
        row = {
            "decoder": name,
            "wer": float(jiwer.wer(references, hypotheses)),
            "cer": float(jiwer.cer(references, hypotheses)),
            "decode_rtf": seconds / audio_seconds,
            "rtf": (seconds + acoustic) / audio_seconds,
        }
        results.append(row)
        print(
            f"{name:<40} WER {row['wer']:.4f}  CER {row['cer']:.4f}  RTF {row['rtf']:.4f} "
            f"(decoding alone {row['decode_rtf']:.4f})",
            flush=True,
        )
    write_results(
        "speech_decoding",
        {
            "run": str(args.run),
            "data": config.manifest or (args.data_dir or config.data_dir or "espeak digits"),
            "utterances": len(test_set),
            "audio_seconds": audio_seconds,
            "lm": "digit grammar" if grammar else str(args.lm),
            "lm_weight": args.lm_weight,
            "acoustic_rtf": acoustic / audio_seconds,
            "rows": results,
        },
    )


def pyctcdecode_decoder(lm, lexicon, lm_weight):
    """pyctcdecode's beam search with KenLM on the same ARPA and words, or None if missing."""
    try:
        import kenlm  # noqa: F401  (pyctcdecode runs without it, but then without a language model)
        from pyctcdecode import build_ctcdecoder
    except ImportError:
        return None
    from pathlib import Path

    from seqgraph.datasets import speech

    unigrams = [w for w in Path(lexicon).read_text().split() if w]
    return build_ctcdecoder([""] + list(speech.ALPHABET), kenlm_model_path=str(lm), unigrams=unigrams, alpha=lm_weight)


if __name__ == "__main__":
    main()
