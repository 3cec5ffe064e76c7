"""The Keras (2) networks of the TFRS wrappers. Imported only when a model is fitted or
loaded: this module imports TensorFlow, through :func:`recutils.utils.tensorflow.import_tfrs`
(which the wrappers call first, with their thread count)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recutils.utils.tensorflow import import_tfrs

tf, tfrs = import_tfrs()
keras = tf.keras

#: Input signature of every exported function: a batch of integer codes.
_CODES = tf.TensorSpec([None], tf.int64)


class Tower(keras.layers.Layer):
    """Embedding of an id and of its categorical features, concatenated; optional dense
    layers (ReLU) and a linear projection to ``output_dim``.

    Args:
        n_ids: Number of ids (codes ``0..n_ids-1``).
        feature_codes: ``[n_ids, n_features]`` int64 feature codes per id (``0``: missing).
        feature_sizes: Number of codes of each feature (including ``0``).
        embedding_dim: Size of every embedding.
        hidden: Sizes of the dense layers after the concatenation.
        output_dim: Size of a final linear projection, or ``None`` for none.
    """

    def __init__(
        self,
        n_ids: int,
        feature_codes: np.ndarray,
        feature_sizes: Sequence[int],
        embedding_dim: int,
        hidden: Sequence[int] = (),
        output_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.id_embedding = keras.layers.Embedding(n_ids, embedding_dim)
        self.feature_embeddings = [
            keras.layers.Embedding(int(size), embedding_dim) for size in feature_sizes
        ]
        self.codes = tf.constant(np.asarray(feature_codes, dtype=np.int64).reshape(n_ids, -1))
        self.hidden = [keras.layers.Dense(int(units), activation="relu") for units in hidden]
        self.projection = keras.layers.Dense(int(output_dim)) if output_dim else None

    def call(self, ids: Any) -> Any:
        parts = [self.id_embedding(ids)]
        if self.feature_embeddings:
            codes = tf.gather(self.codes, ids)
            parts += [emb(codes[:, f]) for f, emb in enumerate(self.feature_embeddings)]
        x = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        for layer in self.hidden:
            x = layer(x)
        return self.projection(x) if self.projection is not None else x


class RetrievalNet(tfrs.Model):
    """Two towers trained with ``tfrs.tasks.Retrieval`` (in-batch softmax); the task's
    ``FactorizedTopK`` metrics over every item are computed only outside training.

    Args:
        user_tower, item_tower: The towers (inputs: network rows of users / items).
        n_items: Number of items (the candidates of the ``FactorizedTopK`` metrics).
        temperature: Divides the logits (``None``: 1).
        item_probability: ``[n_items]`` sampling probability of each item (by network
            row), passed to the task as ``candidate_sampling_probability`` for the batch's
            items (the logQ correction: each logit minus the log of its item's
            probability); ``None``: no correction.
        remove_accidental_hits: The task's option of that name: a batch item equal to
            the row's own positive is not a negative (the batch's item rows are the
            ``candidate_ids``).
    """

    def __init__(
        self,
        user_tower: Tower,
        item_tower: Tower,
        n_items: int,
        temperature: float | None,
        item_probability: np.ndarray | None = None,
        remove_accidental_hits: bool = False,
    ) -> None:
        super().__init__()
        self.user_tower = user_tower
        self.item_tower = item_tower
        probe = tf.zeros([1], tf.int64)  # build the towers' variables outside the tf.data map
        user_tower(probe), item_tower(probe)
        candidates = tf.data.Dataset.range(n_items).batch(4096).map(item_tower)
        self.item_probability = (
            None
            if item_probability is None
            else tf.constant(np.asarray(item_probability, dtype=np.float32))
        )
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.task = tfrs.tasks.Retrieval(
            metrics=tfrs.metrics.FactorizedTopK(candidates=candidates),
            temperature=temperature,
            remove_accidental_hits=self.remove_accidental_hits,
        )

    def compute_loss(self, features: dict[str, Any], training: bool = False) -> Any:
        users = self.user_tower(features["user"])
        items = self.item_tower(features["item"])
        probability = (
            None
            if self.item_probability is None
            else tf.gather(self.item_probability, features["item"])
        )
        return self.task(
            users,
            items,
            candidate_sampling_probability=probability,
            candidate_ids=features["item"] if self.remove_accidental_hits else None,
            compute_metrics=not training,
        )


class RankingNet(tfrs.Model):
    """DCN-style ranking: user and item tower outputs concatenated, ``n_cross`` cross layers
    (``tfrs.layers.dcn.Cross``), a deep ReLU stack and a linear output (a logit for clicks)."""

    def __init__(
        self,
        user_tower: Tower,
        item_tower: Tower,
        n_cross: int,
        projection_dim: int | None,
        deep: Sequence[int],
        target: str,
    ) -> None:
        super().__init__()
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.cross = [tfrs.layers.dcn.Cross(projection_dim=projection_dim) for _ in range(n_cross)]
        self.deep = [keras.layers.Dense(int(units), activation="relu") for units in deep]
        self.out = keras.layers.Dense(1)
        self.target = target
        loss = (
            keras.losses.BinaryCrossentropy(from_logits=True)
            if target == "click"
            else keras.losses.MeanSquaredError()
        )
        self.task = tfrs.tasks.Ranking(loss=loss)

    def call(self, inputs: tuple[Any, Any]) -> Any:
        users, items = inputs
        x0 = tf.concat([self.user_tower(users), self.item_tower(items)], axis=1)
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        for layer in self.deep:
            x = layer(x)
        return tf.squeeze(self.out(x), axis=1)

    def score(self, users: Any, items: Any) -> Any:
        """The prediction: the rating, or the click probability."""
        out = self((users, items))
        return tf.sigmoid(out) if self.target == "click" else out

    def compute_loss(self, features: dict[str, Any], training: bool = False) -> Any:
        logits = self((features["user"], features["item"]))
        return self.task(labels=features["label"], predictions=logits)


class RetrievalExport(tf.Module):
    """What a saved ``tfrs_retrieval`` holds: the two towers as functions of id codes."""

    def __init__(self, net: RetrievalNet) -> None:
        super().__init__()
        self.user_tower = net.user_tower
        self.item_tower = net.item_tower

    @tf.function(input_signature=[_CODES])
    def user_embeddings(self, users: Any) -> Any:
        return self.user_tower(users)

    @tf.function(input_signature=[_CODES])
    def item_embeddings(self, items: Any) -> Any:
        return self.item_tower(items)


class RankingExport(tf.Module):
    """What a saved ``tfrs_ranking`` holds: the network's prediction for code pairs."""

    def __init__(self, net: RankingNet) -> None:
        super().__init__()
        self.net = net

    @tf.function(input_signature=[_CODES, _CODES])
    def score(self, users: Any, items: Any) -> Any:
        return self.net.score(users, items)


def optimizer(name: str, learning_rate: float) -> Any:
    """A Keras optimizer by name (``adagrad``, ``adam`` or ``sgd``)."""
    table = {
        "adagrad": keras.optimizers.Adagrad,
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
    }
    return table[name](learning_rate=learning_rate)


def train(
    net: Any,
    arrays: dict[str, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    opt: Any,
    rng: np.random.Generator,
    epoch_iter: Any,
) -> list[float]:
    """Minimise ``net.compute_loss`` by minibatches, shuffled each epoch by ``rng``.

    ``epoch_iter`` wraps ``range(epochs)`` (a progress bar). Returns the mean loss of each
    epoch. One compiled step (``tf.function`` with a dynamic batch size) serves every batch.
    """
    spec = {k: tf.TensorSpec([None], tf.as_dtype(v.dtype)) for k, v in arrays.items()}

    @tf.function(input_signature=[spec])
    def step(batch: dict[str, Any]) -> Any:
        with tf.GradientTape() as tape:
            loss = net.compute_loss(batch, training=True)
            loss += sum(net.losses) if net.losses else 0.0
        grads = tape.gradient(loss, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    n = len(next(iter(arrays.values())))
    history = []
    for _ in epoch_iter(range(epochs)):
        order = rng.permutation(n)
        total, steps = 0.0, 0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            total += float(step({k: v[rows] for k, v in arrays.items()}))
            steps += 1
        history.append(total / max(steps, 1))
    return history


def save(module: Any, folder: str, signatures: dict[str, Any]) -> None:
    """``tf.saved_model.save`` of ``module`` with the given serving signatures."""
    tf.saved_model.save(module, folder, signatures=signatures)


def load(folder: str) -> Any:
    """``tf.saved_model.load`` of a folder written by :func:`save`."""
    return tf.saved_model.load(folder)


def run(fn: Any, *codes: np.ndarray) -> np.ndarray:
    """``fn`` of int64 code arrays, as a numpy array."""
    return fn(*[tf.constant(np.asarray(c, dtype=np.int64)) for c in codes]).numpy()
