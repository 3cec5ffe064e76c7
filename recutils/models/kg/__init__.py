"""Knowledge-graph models in PyTorch (``pip install "recutils[torch]"``).

* :mod:`~recutils.models.kg.embeddings`: TransE / RotatE embeddings of a knowledge graph,
  link prediction (raw and filtered MRR, Hits@k) and the saved embedding table;
* :mod:`~recutils.models.kg.kgcn`: KGCN, a KG-aware recommender behind the ``Recommender``
  contract.

Importing this package does not import torch.
"""

from recutils.models.kg.embeddings import (
    EmbeddingTable,
    KGEConfig,
    KGEmbedding,
    load_embedding_table,
    random_link_prediction,
    split_triples,
    write_vec,
)
from recutils.models.kg.kgcn import KGCN, KGCNConfig

__all__ = [
    "EmbeddingTable",
    "KGEConfig",
    "KGCN",
    "KGCNConfig",
    "KGEmbedding",
    "load_embedding_table",
    "random_link_prediction",
    "split_triples",
    "write_vec",
]
