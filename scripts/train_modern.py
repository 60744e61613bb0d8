"""The ablation of section 5.7: GPT-2 style, then each modern change added in turn, trained
side by side under the same wall-clock budget per recipe (steps interleaved in one process).

    python scripts/train_modern.py --budget 1200 --threads 2      # 20 minutes per recipe
    python scripts/train_modern.py --recipes baseline muon --budget 60

It writes ``code/llmbook/checkpoints/modern_gpt.json`` (``--out``): per recipe, the validation
loss (nats per character on the held-out plays) against its own training seconds, the steps,
tokens per second and model FLOPs utilisation. The recipes, the interleaved loop and the record
are :mod:`llmbook.train_modern`; ``--help`` lists every option.
"""

from llmbook.train_modern import main

if __name__ == "__main__":
    main()
