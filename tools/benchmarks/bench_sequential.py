"""Speed of the next-item models on Amazon Beauty (BERT4Rec's file, leave-one-out).

For each model: training sequences per second (one epoch of the training users, as the
trainer reports it) and full-ranking evaluation users per second (every user's test item
ranked against all items, history masked). Beside SASRec, the same configuration trained
by a plain PyTorch loop (dense embedding gradients, ``torch.nn.TransformerEncoderLayer``,
``torch.nn.Dropout``, one Adam over everything, batches built from Python lists), in the
same run; the ratio is printed.

Targets: SASRec's epoch at least 2x faster than the plain loop's; all 40,226 users
evaluated under full ranking in at most 30 s on a 2-core CPU.

    python tools/benchmarks/bench_sequential.py [--models sasrec gru4rec ...] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

MODELS = ("sasrec", "bert4rec", "gru4rec", "caser", "nextitnet", "ssept")


def naive_sasrec_epoch(
    train: pd.DataFrame, n_items: int, max_len: int, dim: int, batch_size: int, seed: int
) -> float:
    """Seconds of one epoch of a plain PyTorch SASRec (BCE, one negative per position)."""
    import torch

    torch.manual_seed(seed)
    seqs = train.groupby("userID", sort=True)["itemID"].apply(list).tolist()
    seqs = [s[-(max_len + 1) :] for s in seqs if len(s) >= 2]

    class Plain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = torch.nn.Embedding(n_items + 1, dim, padding_idx=0)
            self.pos = torch.nn.Embedding(max_len, dim)
            layer = torch.nn.TransformerEncoderLayer(
                dim, 1, dim, 0.2, batch_first=True, norm_first=True
            )
            self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.drop = torch.nn.Dropout(0.2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.drop(self.items(x) * dim**0.5 + self.pos.weight[None])
            causal = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1)
            return self.encoder(h, mask=causal, src_key_padding_mask=x == 0)

    model = Plain()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    order = np.random.default_rng(seed).permutation(len(seqs))
    start = time.perf_counter()
    for b in range(0, len(order), batch_size):
        batch = [seqs[i] for i in order[b : b + batch_size]]
        padded = [
            [0] * (max_len + 1 - len(s)) + s for s in batch
        ]  # Python lists, as plain loops do
        t = torch.tensor(padded)
        inp, tgt = t[:, :-1], t[:, 1:]
        h = model(inp)
        neg = torch.randint(1, n_items + 1, tgt.shape)
        pos_logit = (h * model.items(tgt)).sum(-1)
        neg_logit = (h * model.items(neg)).sum(-1)
        mask = (tgt != 0) & (inp != 0)
        loss = (torch.nn.functional.softplus(-pos_logit) + torch.nn.functional.softplus(neg_logit))[
            mask
        ].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-naive", action="store_true", help="skip the plain PyTorch loop")
    args = parser.parse_args()

    import torch

    from recutils.datasets import beauty
    from recutils.models import create_model
    from recutils.splitting.sequences import sequential_split

    torch.set_num_threads(args.threads)
    df = beauty.load_pandas_df(progress=False)
    train, valid, test = sequential_split(df)
    history = pd.concat([train, valid])
    n_train = int((train.groupby("userID").size() >= 2).sum())
    print(
        f"Amazon Beauty: {len(df):,} interactions, {df['userID'].nunique():,} users, "
        f"{df['itemID'].nunique():,} items; {n_train:,} training sequences; torch threads {args.threads}"
    )
    sasrec_epoch = None
    for name in args.models:
        model = create_model(
            name, n_epochs=1, num_threads=args.threads, seed=args.seed, progress=False
        )
        model.fit(train, items=df["itemID"].unique())
        epoch_s = float(model.history_["seconds"].iloc[0])
        start = time.perf_counter()
        result = model.evaluate_next(history, test, n_negatives=None)
        eval_s = time.perf_counter() - start
        users = len(result.full_ranks)
        print(
            f"{name:10s} epoch {epoch_s:7.1f} s ({n_train / epoch_s:8.0f} sequences/s)   "
            f"full-ranking evaluation of {users:,} users {eval_s:6.1f} s ({users / eval_s:7.0f} users/s)"
        )
        if name == "sasrec":
            sasrec_epoch = epoch_s
    if sasrec_epoch is not None and not args.no_naive:
        c = create_model("sasrec").config
        naive = naive_sasrec_epoch(
            train, int(df["itemID"].max()), c.max_len, c.embedding_dim, c.batch_size, args.seed
        )
        print(
            f"plain PyTorch SASRec loop: epoch {naive:.1f} s; recutils' SASRec is {naive / sasrec_epoch:.2f}x "
            "faster (target >= 2)"
        )


if __name__ == "__main__":
    main()
