"""llmbook.train_gpt: the recipe that trains the book's character-level GPT."""

from llmbook.lm import CharVocab


def test_train_char_gpt_tiny(tmp_path):
    from llmbook.chardata import CharData
    from llmbook.train_gpt import TrainConfig, train_char_gpt
    text = "to be or not to be that is the question " * 40
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    data = CharData(vocab, ids, ids[:300], ids[:300])
    cfg = TrainConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=8, steps=40,
                      lr=1e-2, warmup_steps=5, eval_every=20, eval_windows=5)
    model, history = train_char_gpt(cfg, data, progress=False)
    assert len(history.loss) == 40 and history.eval_steps == [20, 40]
    assert history.eval_loss[-1] < history.eval_loss[0] < 3.2
