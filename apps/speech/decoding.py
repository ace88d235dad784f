"""Decoding with words: an n-gram language model built from a text corpus (ARPA, interpolated
Kneser-Ney), a lexicon (the words and their spellings), and CTC beam search constrained to the
lexicon and scored by the language model (flashlight-text's ``LexiconDecoder`` with its KenLM).
A host step: the served SavedModel keeps greedy decoding in the graph."""

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from seqgraph.apps.common import ConfigError, atomic_path
from seqgraph.datasets import speech

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SEPARATOR = "|"  # the word separator token (our alphabet's space) in the decoder's token list
BLANK = "<blank>"


def sentences_of(path):
    """The sentences of a text file, one per line, normalised to the alphabet (lines that hold
    nothing the alphabet can write are skipped); errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--corpus {path}: not a readable UTF-8 text file ({e})") from None
    sentences = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            sentences.append(speech.normalise_transcript(line, f"{path}, line {number}").split())
        except speech.SpeechDataError:
            continue  # a line of digits or another script: not text this model can say
    if not sentences:
        raise ConfigError(f"--corpus {path}: no line holds words of a-z and apostrophes")
    return sentences


def kneser_ney_arpa(sentences, order=3):
    """An interpolated Kneser-Ney n-gram model of ``sentences`` (lists of words) in ARPA text.

    The highest order counts n-grams; lower orders count the distinct words before each n-gram
    (continuation counts; n-grams starting with ``<s>`` keep their counts, nothing precedes
    them). Each order discounts its counts by D = n1 / (n1 + 2 n2) (Ney's estimate from the
    numbers of n-grams seen once and twice) and gives the mass it took to the order below, down to
    a uniform distribution over the vocabulary and ``<unk>``. In ARPA form, each n-gram's log10
    probability is the interpolated one and each context's back-off weight the mass it gave.

    Returns:
        The ARPA text.
    """
    if order < 1:
        raise ConfigError(f"--order must be at least 1, got {order}")
    counts = [Counter() for _ in range(order + 1)]  # counts[n][ngram tuple]
    for words in sentences:
        tokens = [BOS] + list(words) + [EOS]
        for n in range(1, order + 1):
            for i in range(len(tokens) - n + 1):
                counts[n][tuple(tokens[i : i + n])] += 1
    counts[1].pop((BOS,), None)
    adjusted = [Counter() for _ in range(order + 1)]
    adjusted[order] = counts[order]
    for n in range(1, order):
        for ngram in counts[n + 1]:  # distinct left extensions of each lower n-gram
            adjusted[n][ngram[1:]] += 1
        for ngram, c in counts[n].items():
            if ngram[0] == BOS:
                adjusted[n][ngram] = c
    vocabulary = sorted({w for (w,) in counts[1]} | {UNK})
    probability, backoff = {}, {}
    for n in range(1, order + 1):
        table = adjusted[n]
        ones = sum(1 for c in table.values() if c == 1)
        twos = sum(1 for c in table.values() if c == 2)
        discount = ones / (ones + 2 * twos) if ones + twos else 0.5
        discount = min(max(discount, 0.1), 0.9)
        totals, types = defaultdict(float), defaultdict(int)
        for ngram, c in table.items():
            totals[ngram[:-1]] += c
            types[ngram[:-1]] += 1
        gamma = {h: discount * types[h] / totals[h] for h in totals}

        current = {}
        for ngram, c in table.items():
            # every suffix of a seen n-gram was seen one order down (it has a word before it)
            shorter = 1.0 / len(vocabulary) if n == 1 else probability[ngram[1:]]
            current[ngram] = (c - discount) / totals[ngram[:-1]] + gamma[ngram[:-1]] * shorter
        if n == 1:
            current[(UNK,)] = gamma[()] / len(vocabulary)
        probability.update(current)
        backoff.update({h: g for h, g in gamma.items() if h})
    return _arpa_text(probability, backoff, order)


def _arpa_text(probability, backoff, order):
    by_order = defaultdict(list)
    for ngram in probability:
        by_order[len(ngram)].append(ngram)
    by_order[1].append((BOS,))
    lines = ["", "\\data\\"] + [f"ngram {n}={len(by_order[n])}" for n in range(1, order + 1)] + [""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        for ngram in sorted(by_order[n]):
            p = -99.0 if ngram == (BOS,) else math.log10(probability[ngram])
            line = f"{p:.6f}\t{' '.join(ngram)}"
            if n < order and ngram in backoff:
                line += f"\t{math.log10(backoff[ngram]):.6f}"
            lines.append(line)
        lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n"


def build_lm(corpus, out, order=3):
    """``seqgraph speech build-lm``: an ARPA ``order``-gram model of the text file ``corpus``
    (one sentence per line) at ``out``, and its lexicon (every word, spelled with the model's
    alphabet) at ``out`` with ``.lexicon.txt`` (``words.arpa`` -> ``words.lexicon.txt``).

    Returns:
        ``(arpa path, lexicon path)``.
    """
    sentences = sentences_of(corpus)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(kneser_ney_arpa(sentences, order))
    lexicon = lexicon_path(out)
    words = sorted({w for s in sentences for w in s})
    with atomic_path(lexicon) as tmp:
        tmp.write_text("".join(f"{w}\n" for w in words))
    tokens = sum(len(s) for s in sentences)
    print(f"{out}: {order}-gram model of {len(sentences)} sentences, {tokens} words, {len(words)} distinct")
    print(f"{lexicon}: the {len(words)} words (pass it as --lexicon)")
    return out, lexicon


def lexicon_path(arpa):
    return Path(arpa).with_suffix(".lexicon.txt")


def digit_grammar(folder):
    """``(arpa, lexicon)`` for ``--grammar digits``, written in ``folder``: the ten digit words,
    one or more in any order; after ``<s>`` each digit has probability 1/10, after a digit each
    digit and the end 1/11 (a bigram model: KenLM reads nothing smaller)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tenth, eleventh = math.log10(1 / 10), math.log10(1 / 11)
    digits = speech.DIGIT_WORDS
    unigrams = [f"{eleventh:.6f}\t{EOS}", f"-99.000000\t{BOS}\t0", "-99.000000\t<unk>"]
    unigrams += [f"{eleventh:.6f}\t{w}\t0" for w in digits]
    bigrams = [f"{tenth:.6f}\t{BOS} {w}" for w in digits]
    bigrams += [f"{eleventh:.6f}\t{a} {b}" for a in digits for b in (*digits, EOS)]
    header = f"\n\\data\\\nngram 1={len(unigrams)}\nngram 2={len(bigrams)}\n\n"
    arpa = folder / "digits.arpa"
    arpa.write_text(
        header + "\\1-grams:\n" + "\n".join(unigrams) + "\n\n\\2-grams:\n" + "\n".join(bigrams) + "\n\n\\end\\\n"
    )
    lexicon = lexicon_path(arpa)
    lexicon.write_text("".join(f"{w}\n" for w in digits))
    return arpa, lexicon


class WordDecoder:
    """CTC beam search over words: flashlight-text's ``LexiconDecoder``, its hypotheses limited to
    the words of ``lexicon`` (a file of words, one per line) and scored by the KenLM model at
    ``lm`` (ARPA or KenLM binary), ``lm_weight`` x its log-probability plus ``word_score`` per word.

    Args:
        lm: the language model's path.
        lexicon: the words' file (``build-lm`` writes one beside its model).
        beam: hypotheses kept after each step.
        lm_weight: the language model's weight against the acoustic log-probabilities.
        word_score: a score added per word (positive: longer transcripts).

    Example:

    >>> decoder = WordDecoder("words.arpa", "words.lexicon.txt")  # doctest: +SKIP
    >>> decoder(logits[0, :length])  # doctest: +SKIP
    'three one four'
    """

    def __init__(self, lm, lexicon, beam=32, lm_weight=2.0, word_score=0.0):
        from flashlight.lib.text.decoder import (
            CriterionType,
            KenLM,
            LexiconDecoder,
            LexiconDecoderOptions,
            SmearingMode,
            Trie,
        )
        from flashlight.lib.text.dictionary import Dictionary, create_word_dict

        for name, path in (("--lm", lm), ("--lexicon", lexicon)):
            if not Path(path).is_file():
                raise ConfigError(f"{name} {path}: no such file")
        self.tokens = Dictionary([BLANK] + [SEPARATOR if c == " " else c for c in speech.ALPHABET])
        words = {}
        for number, line in enumerate(Path(lexicon).read_text(encoding="utf-8").splitlines(), 1):
            word = line.split("\t")[0].strip()
            if not word:
                continue
            if set(word) - set(speech.ALPHABET.replace(" ", "")):
                raise ConfigError(f"--lexicon {lexicon}, line {number}: {word!r} has characters outside a-z and '")
            words[word] = [list(word)]  # the separator is silence between words, as sil_idx
        if not words:
            raise ConfigError(f"--lexicon {lexicon}: no words")
        words[UNK] = [[UNK]]
        self.words = create_word_dict(words)
        try:
            self.lm = KenLM(str(lm), self.words)
        except Exception as e:  # KenLM's own error types are not exposed to Python
            raise ConfigError(f"--lm {lm}: KenLM cannot read it ({str(e).splitlines()[0]})") from None
        separator = self.tokens.get_index(SEPARATOR)
        trie = Trie(self.tokens.index_size(), separator)
        start = self.lm.start(False)
        for word, spellings in words.items():
            if word == UNK:
                continue
            index = self.words.get_index(word)
            _, score = self.lm.score(start, index)
            for spelling in spellings:
                trie.insert([self.tokens.get_index(t) for t in spelling], index, score)
        trie.smear(SmearingMode.MAX)
        options = LexiconDecoderOptions(
            beam_size=beam,
            beam_size_token=self.tokens.index_size(),
            beam_threshold=50.0,
            lm_weight=lm_weight,
            word_score=word_score,
            unk_score=float("-inf"),
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        self.decoder = LexiconDecoder(
            options, trie, self.lm, separator, self.tokens.get_index(BLANK), self.words.get_index(UNK), [], False
        )

    def __call__(self, logits):
        """The best transcript for one utterance's ``logits`` ``[T, classes]`` (its real steps)."""
        emissions = np.ascontiguousarray(log_softmax(np.asarray(logits, np.float32)))
        steps, classes = emissions.shape
        if steps == 0:
            return ""
        best = self.decoder.decode(emissions.ctypes.data, steps, classes)[0]
        return " ".join(self.words.get_entry(i) for i in best.words if i >= 0)


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
