"""llmbook.generation_tasks: the synopses, sentence splitting, lead-k and the toy translation."""

import pytest
import torch

from llmbook import generation_tasks as G
from llmbook import seq2seq, transformer


def test_movie_synopses(capsys):
    films = G.movie_synopses()
    assert "film synopses" in capsys.readouterr().out
    assert 30 <= len(films) <= 50
    assert films[0].movie == "abandon" and films[0].summary.startswith("A senior at an elite")
    for f in films:
        n_sum, n_text = len(f.summary.split()), len(f.text.split())
        assert 8 <= n_sum <= 70 and 1.5 * n_sum <= n_text <= 300
        assert " ".join(f.summary.split()[:6]).lower() not in f.text.lower()
    shorter = G.movie_synopses(max_words=150, verbose=False)
    assert capsys.readouterr().out == ""
    assert set(shorter) < set(films)
    with pytest.raises(ValueError, match="max_words"):
        G.movie_synopses(max_words=5)
    with pytest.raises(TypeError, match="verbose"):
        G.movie_synopses(verbose="no")


def test_split_sentences_and_lead():
    text = ('Dr. J. Smith met Mr. Jones in L.A. last year. "Run!" he said. Then 3 men left... '
            'Was it over? It was.')
    assert G.split_sentences(text) == ["Dr. J. Smith met Mr. Jones in L.A. last year.",
                                       '"Run!" he said.', "Then 3 men left...", "Was it over?",
                                       "It was."]
    assert G.split_sentences("no end") == ["no end"] and G.split_sentences("") == []
    assert G.lead(text, 2) == 'Dr. J. Smith met Mr. Jones in L.A. last year. "Run!" he said.'
    assert G.lead("One. Two.", 5) == "One. Two."
    with pytest.raises(ValueError, match="positive int"):
        G.lead(text, 0)
    with pytest.raises(TypeError):
        G.split_sentences(["a"])


def test_toy_translation_by_hand():
    task = G.ToyTranslation()
    assert task.translate("the small cat often sees a white house") == \
        "le petit chat voit souvent une maison blanche"
    assert task.translate("my old cow likes this red car") == \
        "ma vieille vache aime cette voiture rouge"
    assert task.word_by_word("the small cat often sees a white house") == \
        "le petit chat souvent voit un blanc maison"
    for bad in ("the cat", "cat sees the dog", "the cat sees the big big dog", "the cat sees"):
        with pytest.raises(ValueError, match="grammar"):
            task.translate(bad)
    with pytest.raises(ValueError, match="lexicon"):
        task.word_by_word("the zebra sees a cat")
    with pytest.raises(ValueError, match="adjective_rate"):
        G.ToyTranslation(adjective_rate=2)


def test_toy_translation_sampling_and_ids():
    task = G.ToyTranslation()
    train = task.sample(500, seed=1)
    test = task.sample(50, seed=2, exclude=set(train))
    assert len(set(train)) == 500 and not set(train) & set(test)
    assert task.sample(5, seed=1) == train[:5]
    assert all(len(task.translate(s).split()) <= task.max_len for s in train)
    src, tgt_in, tgt_out = task.batch(train[:3])
    assert src.shape[0] == 3 and (tgt_in[:, 0] == seq2seq.BOS).all()
    assert task.decode(tgt_out[0]) == task.translate(train[0])
    assert task.decode(src[1]) == train[1]
    assert len(set(task.tokens)) == task.vocab_size
    with pytest.raises(ValueError, match="vocabulary"):
        task.encode("the zebra")


def test_toy_translation_trains_with_train_seq2seq():
    torch.manual_seed(0)
    task = G.ToyTranslation()
    train = task.sample(300, seed=1)
    model = transformer.Transformer(task.vocab_size, task.vocab_size, d_model=16, num_heads=2,
                                    num_encoder_layers=1, num_decoder_layers=1, d_ff=32,
                                    dropout=0.0, max_len=16)
    history = seq2seq.train_seq2seq(model, task, train, train[:20], steps=20, batch_size=32,
                                    lr=3e-3, warmup=5, eval_every=20, progress=False)
    assert history.loss[-1] < history.loss[0]
    assert 0.0 <= seq2seq.exact_match(model, task, train[:20]) <= 1.0
