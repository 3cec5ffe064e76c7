"""``recutils models``: the registered models, each with its kind and the pip extra it needs.

The table :data:`MODEL_INFO` says what each registry name is (the README's algorithm
table in one line) and which extra installs its library (``core``: nothing beyond
``pip install recutils``). Listing imports no model module, so it works in a core-only
environment and says what to install for the rest. A model registered at run time
(:func:`recutils.models.register_model`) is listed with ``-`` for both.
"""

from __future__ import annotations

import argparse
from typing import TextIO

NAME = "models"
HELP = "list the registered models with their kind and the extra each needs"
DESCRIPTION = (
    "List every registered model name (for create_model, benchmark specs and tuning) with its "
    "kind and the pip extra that installs what it needs: pip install 'recutils[EXTRA]'."
)

_CF = "collaborative filtering"
_CTR = "click-through / ranking"
#: registry name -> (kind, extra or extras). One line per registered model.
MODEL_INFO: dict[str, tuple[str, str]] = {
    "a2svd": (f"{_CTR} with a behaviour history (A2SVD: attention over the history)", "torch"),
    "aitm": (
        "multi-task ranking (AITM: adaptive information transfer between sequential tasks)",
        "torch",
    ),
    "als": (f"{_CF}, explicit or implicit (Spark ALS)", "spark"),
    "autoint": (f"{_CTR} (AutoInt+)", "torch"),
    "bert4rec": ("next-item, bidirectional Transformer, cloze training (BERT4Rec)", "torch"),
    "bias": ("baseline, rating prediction (biases)", "core"),
    "bst": (f"{_CTR} with a behaviour history (BST: Transformer over history and target)", "torch"),
    "caser": ("next-item, convolutional sequence embedding (Caser)", "torch"),
    "comet_i2i": (
        "retrieval, item-to-item metric learning from sessions (CoMetricLearningI2I, circle loss)",
        "torch",
    ),
    "cornac_bivae": (f"{_CF}, implicit, deep generative (cornac BiVAE)", "cornac, torch"),
    "cornac_bpr": (f"{_CF}, implicit (cornac BPR)", "cornac"),
    "dbmtl": ("multi-task ranking (DBMTL: Bayesian task relations)", "torch"),
    "dcn": (f"{_CTR} (DCN)", "torch"),
    "dcnv2": (f"{_CTR} (DCN-v2)", "torch"),
    "deep_rank": (f"{_CTR}, network from a config", "torch"),
    "deepfm": (f"{_CTR} (DeepFM)", "torch"),
    "dien": (f"{_CTR} with a behaviour history (DIEN: interest extraction and evolution)", "torch"),
    "din": (f"{_CTR} with a behaviour history (DIN: target attention)", "torch"),
    "dkn": (
        "news, impressions, knowledge graph (DKN: knowledge-aware CNN over words and entities)",
        "torch",
    ),
    "dlrm": (f"{_CTR} (DLRM)", "torch"),
    "dropoutnet": (
        "retrieval, two-tower for cold start (DropoutNet: id inputs dropped in training)",
        "torch",
    ),
    "dssm": ("retrieval, two-tower (DSSM: user and item towers, in-batch softmax)", "torch"),
    "dssm_senet": ("retrieval, two-tower (DSSM with a SENet per tower)", "torch"),
    "embedding_dot_bias": (
        f"{_CF}, rating prediction (dot product with biases, sigmoid range)",
        "torch",
    ),
    "esmm": ("multi-task ranking (ESMM: CTR x CVR over the entire space)", "torch"),
    "ffm": (f"{_CTR} (field-aware factorization machine)", "torch"),
    "fibinet": (f"{_CTR} (FiBiNet)", "torch"),
    "fm": (f"{_CTR} (factorization machine)", "torch"),
    "geoimc": (
        "hybrid: rating prediction with user/item features (GeoIMC, Riemannian)",
        "pymanopt",
    ),
    "gru_history": (
        f"{_CTR} with a behaviour history (a GRU over the history, read at the newest behaviour)",
        "torch",
    ),
    "gru4rec": ("next-item, recurrent (GRU4Rec)", "torch"),
    "highway": (f"{_CTR} (Wide & Deep with highway layers)", "torch"),
    "implicit_als": (f"{_CF}, implicit (implicit ALS)", "implicit"),
    "implicit_bpr": (f"{_CF}, implicit (implicit BPR)", "implicit"),
    "itemknn": (f"{_CF}, item-item (cosine k-NN)", "core"),
    "kgcn": (
        "hybrid: implicit CF with an item knowledge graph (KGCN: relation attention over sampled neighbours)",
        "torch",
    ),
    "lightfm": ("hybrid: CF with user/item features (LightFM)", "lightfm"),
    "lightgcn": (f"{_CF}, implicit, graph (LightGCN)", "torch"),
    "lstur": ("news, impressions (LSTUR: long-term user embedding + GRU short-term)", "torch"),
    "masknet": (f"{_CTR} (MaskNet)", "torch"),
    "mind": (
        "retrieval, multi-interest two-tower (MIND: capsule routing, label-aware attention)",
        "torch",
    ),
    "mmoe": ("multi-task ranking (MMoE: multi-gate mixture of experts)", "torch"),
    "multi_dae": (f"{_CF}, implicit, deep (Multi-DAE)", "torch"),
    "multi_vae": (f"{_CF}, implicit, deep generative (Multi-VAE)", "torch"),
    "multitower": (f"{_CTR} (multi-tower)", "torch"),
    "naml": (
        "news, impressions (NAML: title/abstract CNNs, category views, view attention)",
        "torch",
    ),
    "ncf": (f"{_CF}, implicit, deep (NCF: GMF, MLP, NeuMF)", "torch"),
    "nextitnet": ("next-item, dilated causal convolutions (NextItNet)", "torch"),
    "npa": ("news, impressions (NPA: personalised attention from user-id queries)", "torch"),
    "nrms": ("news, impressions (NRMS: multi-head self-attention news and user encoders)", "torch"),
    "pdn": ("retrieval, trigger paths (PDN: trigger net + similarity net, i2i index)", "torch"),
    "ple": ("multi-task ranking (PLE: progressive layered extraction)", "torch"),
    "popularity": ("baseline, most popular", "core"),
    "ppnet": (f"{_CTR} (PPNet)", "torch"),
    "random": ("baseline, random", "core"),
    "rbm": (f"{_CF}, explicit ratings, deep generative (restricted Boltzmann machine)", "torch"),
    "rlrmc": (f"{_CF}, rating prediction (Riemannian low-rank matrix completion)", "pymanopt"),
    "sar": (f"{_CF}, item-item (SAR)", "core"),
    "sasrec": ("next-item, causal self-attention (SASRec; CL4SRec with cl_weight)", "torch"),
    "simple_multitask": ("multi-task ranking (shared bottom)", "torch"),
    "slirec": (
        f"{_CTR} with a behaviour history (SLi-Rec: long- and short-term interests, time-aware LSTM)",
        "torch",
    ),
    "spark_sar": (f"{_CF}, item-item (SAR on Spark DataFrames)", "spark"),
    "ssept": ("next-item, personalized Transformer (SSE-PT)", "torch"),
    "standard_vae": (f"{_CF}, implicit, deep generative (standard VAE)", "torch"),
    "sum": (f"{_CTR} with a behaviour history (SUM: multi-channel user memory)", "torch"),
    "surprise_knnbaseline": (f"{_CF}, rating prediction (surprise KNNBaseline)", "surprise"),
    "surprise_nmf": (f"{_CF}, rating prediction (surprise NMF)", "surprise"),
    "surprise_svd": (f"{_CF}, rating prediction (surprise SVD)", "surprise"),
    "surprise_svdpp": (f"{_CF}, rating prediction (surprise SVD++)", "surprise"),
    "tfidf": ("content-based, rating prediction (TF-IDF item text)", "core"),
    "tfrs_ranking": ("rating or click ranking, DCN-style (TensorFlow Recommenders)", "tensorflow"),
    "tfrs_retrieval": (
        "candidate retrieval, two-tower in-batch softmax (TensorFlow Recommenders)",
        "tensorflow",
    ),
    "vowpal_wabbit": (
        "linear / quadratic / low-rank models over user and item features, "
        "rating or click (Vowpal Wabbit)",
        "vowpalwabbit",
    ),
    "wide_deep": (f"{_CTR} (Wide & Deep)", "torch"),
    "xdeepfm": (f"{_CTR} (xDeepFM)", "torch"),
}
_UNKNOWN = ("-", "-")


def model_rows() -> list[tuple[str, str, str]]:
    """``(name, kind, extra)`` of every registered model, sorted by name."""
    from recutils.models import list_models

    return [(name, *MODEL_INFO.get(name, _UNKNOWN)) for name in list_models()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``recutils models``."""
    parser.add_argument(
        "--names-only", action="store_true", help="print only the names, one a line (for scripts)"
    )


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """Print the table (or the names); return 0."""
    rows = model_rows()
    if args.names_only:
        for name, _, _ in rows:
            print(name, file=out)
        return 0
    header = ("model", "kind", "extra")
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(2)]
    for n, row in enumerate([header, *rows]):
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip(), file=out)
        if n == 0:
            print(f"{'-' * widths[0]}  {'-' * widths[1]}  -----", file=out)
    print(
        "\nextra: pip install 'recutils[EXTRA]' (core: nothing more); create one with "
        "recutils.models.create_model(NAME, **params).",
        file=out,
    )
    return 0


__all__ = ["MODEL_INFO", "add_arguments", "model_rows", "run_command"]
