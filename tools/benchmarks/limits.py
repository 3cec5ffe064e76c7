"""Each hot path of recutils against a measured lower bound, and the peer where one exists.

    python tools/benchmarks/limits.py [--repeat 3] [--peer-python /path/to/python] [--threads N]
        [--write tools/benchmarks/limits.md] [--note TEXT] [--quick]

For each hot path the script times, in one run on one machine (best of ``--repeat``):

* **recutils**: the public call;
* **peer**: the same call in Microsoft Recommenders 1.2.1, where it has one, run in its own
  interpreter (``--peer-python``, see ``common.run_peer``) on the same data;
* **lower bound**: one primitive that the path has to do at least once on the same data,
  on inputs already in memory (arrays built before timing), so that ``recutils / bound``
  shows how much is left to win on this path:

  ============================  ==============================================================
  hot path                      lower bound
  ============================  ==============================================================
  ndcg / map / precision @10    one ``np.sort`` of the prediction scores (the ranking)
  rmse                          one ``np.sort`` of both frames' int64 (user, item) keys (the join)
  stratified split              one ``np.argsort`` of the user column (the grouping)
  chrono split                  one ``np.argsort`` of the timestamps (the time order)
  SAR fit                       one sparse product ``X.T @ X`` (the item co-occurrence)
  SAR recommend_k_items         one product of the served users' affinity rows and the
                                dense item similarity (the scores)
  top-k (``top_k_per_row``)     one ``np.argpartition`` of the score block
  CTR training step             forward + loss + backward of the same network on one
                                pre-built batch, as many times as the trainer steps
  service lookup (HTTP, store)  a Python dict lookup of the same precomputed lists
  ============================  ==============================================================

Data (built by the other benchmark scripts of this folder, imported, not copied): the
de-duplicated evaluation frames of ``bench_evaluation.py`` (1,000 users, about 787,000 rows
each), the 2M-draw log of ``bench_splitters.py``, the 1M-draw log and the 5,000 served users
of ``bench_sar.py``, a 5,000 x 5,000 block of uniform scores for top-k, the shipped Wide &
Deep config on MovieLens 100k as click-through data (``bench_ctr.py``; synthetic data of the
same shape without the data mirror) for one epoch of full batches of 1,024, and a SQLite
store of SAR's top 10 for 2,000 toy users served by the FastAPI app
(``fastapi.testclient.TestClient``, 1,000 requests). ``--quick`` runs small data with one
repetition (for the smoke test).

``--write PATH`` writes the table as Markdown with the command, the machine and the date.
Numbers from a machine shared with other jobs swing with their load: regenerate the
committed ``limits.md`` on a quiet machine, or label the run with ``--note``.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ctr  # noqa: E402
import bench_evaluation  # noqa: E402
import bench_sar  # noqa: E402
import bench_splitters  # noqa: E402
import torch  # noqa: E402
from common import best_time, parser, run_peer  # noqa: E402

import recutils.evaluation as ev  # noqa: E402
from recutils.benchmark import machine_info  # noqa: E402
from recutils.models.sar import SAR  # noqa: E402
from recutils.models.topk import top_k_per_row  # noqa: E402
from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.data import LABEL, TensorData  # noqa: E402
from recutils.nn.losses import get_loss  # noqa: E402
from recutils.splitting import python_chrono_split, python_stratified_split  # noqa: E402

K = 10
TOPK_SEED = 7


@dataclass(frozen=True)
class Sizes:
    """Data sizes of one run (full or ``--quick``)."""

    eval_users: int | None  # None: the full frames of bench_evaluation
    split_draws: int
    sar_draws: int
    sar_served: int
    topk_shape: tuple[int, int]
    ctr_rows: int | None  # None: the whole frame
    ctr_steps: int | None  # None: one epoch of full batches
    service_users: int
    service_requests: int


FULL = Sizes(
    eval_users=None,
    split_draws=2_000_000,
    sar_draws=1_000_000,
    sar_served=bench_sar.N_USERS_SERVED,
    topk_shape=(5_000, 5_000),
    ctr_rows=None,
    ctr_steps=None,
    service_users=2_000,
    service_requests=1_000,
)
QUICK = Sizes(
    eval_users=50,
    split_draws=50_000,
    sar_draws=50_000,
    sar_served=500,
    topk_shape=(500, 1_000),
    ctr_rows=8_192,
    ctr_steps=4,
    service_users=200,
    service_requests=50,
)


@dataclass
class HotPath:
    """One row of the table: how to time recutils and the bound, and the peer's expression."""

    name: str
    data: str
    ours: Callable[[int], float]  # repeat -> best seconds
    bound_what: str
    bound: Callable[[int], float]
    peer: str | None = None  # expression timed in the peer's interpreter


@dataclass
class PeerPart:
    """What the peer needs for some hot paths: frames, setup code run once."""

    frames: dict[str, pd.DataFrame]
    setup: str


def timed(fn: Callable[[], object]) -> Callable[[int], float]:
    """A timer of ``fn``: best wall seconds of ``repeat`` calls."""
    return lambda repeat: best_time(fn, repeat)


# ---------------------------------------------------------------- metrics
def metric_paths(sizes: Sizes) -> tuple[list[HotPath], PeerPart]:
    true, pred = bench_evaluation.make_frames()
    if sizes.eval_users is not None:
        true = true[true["userID"] < sizes.eval_users].reset_index(drop=True)
        pred = pred[pred["userID"] < sizes.eval_users].reset_index(drop=True)
    data = (
        f"{len(true):,} truth / {len(pred):,} prediction rows, "
        f"{true['userID'].nunique():,} users, k={K}"
    )
    scores = pred["prediction"].to_numpy()
    n_items = int(max(true["itemID"].max(), pred["itemID"].max())) + 1
    keys = np.concatenate(
        [
            true["userID"].to_numpy() * n_items + true["itemID"].to_numpy(),
            pred["userID"].to_numpy() * n_items + pred["itemID"].to_numpy(),
        ]
    )
    rank_bound = timed(lambda: np.sort(scores))
    clear = (
        "pe.merge_ranking_true_pred.cache_clear(), pe._get_reciprocal_rank.cache_clear(), "
        "pe.merge_rating_true_pred.cache_clear()"
    )
    paths = [
        HotPath(
            name,
            data,
            timed(lambda fn=fn: fn(true, pred, k=K)),
            "one np.sort of the prediction scores",
            rank_bound,
            f"({clear}, pe.{name}(true, pred, k={K}))",
        )
        for name, fn in (
            ("ndcg_at_k", ev.ndcg_at_k),
            ("map_at_k", ev.map_at_k),
            ("precision_at_k", ev.precision_at_k),
        )
    ]
    paths.append(
        HotPath(
            "rmse",
            data.rsplit(",", 1)[0],
            timed(lambda: ev.rmse(true, pred)),
            "one np.sort of both frames' int64 (user, item) keys",
            timed(lambda: np.sort(keys)),
            f"({clear}, pe.rmse(true, pred))",
        )
    )
    setup = (
        "import warnings; warnings.filterwarnings('ignore')\n"
        "from recommenders.evaluation import python_evaluation as pe\n"
    )
    return paths, PeerPart({"true": true, "pred": pred}, setup)


# ---------------------------------------------------------------- splits
def split_paths(sizes: Sizes) -> tuple[list[HotPath], PeerPart]:
    log = bench_splitters.make_log(n_draws=sizes.split_draws)
    data = f"{len(log):,} rows, {log['userID'].nunique():,} users (bench_splitters log), ratio 0.75"
    users = log["userID"].to_numpy()
    stamps = log["timestamp"].to_numpy()
    paths = [
        HotPath(
            "python_stratified_split",
            data,
            timed(lambda: python_stratified_split(log, ratio=0.75)),
            "one np.argsort of the user column",
            timed(lambda: np.argsort(users)),
            # the peer's stratified split adds a column to its input: give it a copy
            "python_stratified_split(log.copy(), ratio=0.75)",
        ),
        HotPath(
            "python_chrono_split",
            data,
            timed(lambda: python_chrono_split(log, ratio=0.75)),
            "one np.argsort of the timestamps",
            timed(lambda: np.argsort(stamps)),
            "python_chrono_split(log, ratio=0.75)",
        ),
    ]
    setup = (
        "from recommenders.datasets.python_splitters import "
        "python_stratified_split, python_chrono_split\n"
    )
    return paths, PeerPart({"log": log}, setup)


# ---------------------------------------------------------------- SAR and top-k
def sar_paths(sizes: Sizes) -> tuple[list[HotPath], PeerPart]:
    log = bench_sar.make_log(n_draws=sizes.sar_draws)
    served = pd.DataFrame({"userID": log["userID"].unique()[: sizes.sar_served]})
    params = bench_sar.PARAMS
    model = SAR(**params).fit(log)
    aff = model.user_affinity_
    hits = sp.csr_matrix((np.ones(aff.nnz), aff.indices, aff.indptr), shape=aff.shape)
    hits_t = hits.T.tocsr()
    dtype = np.dtype(model.config.score_dtype)
    rows = aff[model.user_ids_.get_indexer(served["userID"])].astype(dtype)
    similarity = model.item_similarity_.astype(dtype).toarray()
    fit_data = f"{len(log):,} rows, {aff.shape[0]:,} users x {aff.shape[1]:,} items (bench_sar log)"
    paths = [
        HotPath(
            "SAR fit",
            fit_data,
            timed(lambda: SAR(**params).fit(log)),
            "one sparse product X.T @ X (co-occurrence)",
            timed(lambda: hits_t @ hits),
            f"SAR(**{params!r}).fit(sar_log)",
        ),
        HotPath(
            "SAR recommend_k_items",
            f"{len(served):,} users, top {K}, seen removed; " + fit_data,
            timed(lambda: model.recommend_k_items(served, top_k=K, remove_seen=True)),
            f"one sparse ({len(served):,} affinity rows) x dense ({dtype.name} similarity) product",
            timed(lambda: rows @ similarity),
            f"sar_model.recommend_k_items(sar_users, top_k={K}, remove_seen=True)",
        ),
    ]
    n, m = sizes.topk_shape
    scores = score_block(n, m)
    paths.append(
        HotPath(
            "top_k_per_row",
            f"{n:,} x {m:,} uniform float64 scores, k={K}",
            timed(lambda: top_k_per_row(scores, K)),
            "one np.argpartition of the block",
            timed(lambda: np.argpartition(scores, m - K, axis=1)),
            f"get_top_k_scored_items(scores, top_k={K}, sort_top_k=True)",
        )
    )
    setup = (
        "from recommenders.models.sar import SAR\n"
        "from recommenders.utils.python_utils import get_top_k_scored_items\n"
        f"sar_model = SAR(**{params!r})\nsar_model.fit(sar_log)\n"
        f"scores = np.random.default_rng({TOPK_SEED}).random(({n}, {m}))\n"
    )
    return paths, PeerPart({"sar_log": log, "sar_users": served}, setup)


def score_block(n: int, m: int) -> np.ndarray:
    """The top-k block (the peer draws the same one from the same seed)."""
    return np.random.default_rng(TOPK_SEED).random((n, m))


# ---------------------------------------------------------------- CTR training step
def ctr_paths(sizes: Sizes, threads: int | None) -> list[HotPath]:
    df, source = bench_ctr.load_frame()
    if sizes.ctr_rows is not None:
        df = df.head(sizes.ctr_rows).reset_index(drop=True)
    cfg, enc, encoded, labels = bench_ctr.encode(df)
    batch_size = bench_ctr.BATCH
    steps = sizes.ctr_steps or max(1, len(df) // batch_size)
    # warm-up outside the timings: the first optimizer step of a process initializes torch
    bench_ctr.bench_recutils(cfg, enc, encoded, labels, 1, threads, steps=2)

    def trainer(repeat: int) -> float:
        rates = [
            bench_ctr.bench_recutils(cfg, enc, encoded, labels, 1, threads, steps=steps)[0]
            for _ in range(repeat)
        ]
        return steps * batch_size / max(rates)

    net = build_rank_network(cfg.model_config, enc.specs, seed=42)
    net.train()
    tensors = TensorData.from_encoded(encoded, net.backbone.layout, labels)
    batch = tensors.batch(slice(0, batch_size))
    loss_fn, _ = get_loss(cfg.train.loss)
    regularized = hasattr(net, "regularization_loss")

    def forward_backward() -> None:
        for _ in range(steps):
            loss = loss_fn(net(batch), batch[LABEL])
            if regularized:
                loss = loss + net.regularization_loss()
            loss.backward()
            net.zero_grad(set_to_none=True)

    forward_backward()  # warm-up
    data = (
        f"{bench_ctr.HEADLINE} through the Trainer, {steps} steps of {batch_size:,} rows "
        f"({source}, {len(df):,} rows), {threads or torch.get_num_threads()} thread(s)"
    )
    return [
        HotPath(
            "CTR training step",
            data,
            trainer,
            f"{steps} x forward + loss + backward on one pre-built batch",
            timed(forward_backward),
        )
    ]


# ---------------------------------------------------------------- service
def service_paths(sizes: Sizes, stack: contextlib.ExitStack) -> list[HotPath]:
    from fastapi.testclient import TestClient

    from recutils.serving import batch_recommend, create_app, open_store
    from recutils.testing.contract import toy_interactions

    folder = stack.enter_context(tempfile.TemporaryDirectory())
    url = f"sqlite:///{folder}/recs.db"
    data = toy_interactions(
        n_users=sizes.service_users, n_items=500, n_rows=20 * sizes.service_users
    )
    model = SAR(similarity_type="jaccard").fit(data)
    batch_recommend(model, top_k=K, store=url, progress=False)
    client = stack.enter_context(TestClient(create_app(store=url)))
    store = open_store(url)
    stack.callback(store.close)
    user_ids = np.resize(model.user_ids_.to_numpy(), sizes.service_requests).tolist()
    keys = [str(u) for u in user_ids]
    urls = [f"/v1/recommendations/{u}?k={K}" for u in user_ids]
    table = {key: store.get(key) for key in set(keys)}
    first = client.get(urls[0])
    if first.status_code != 200 or first.json()["source"] != "store":
        raise RuntimeError(
            f"the service did not answer from the store: {first.status_code} {first.text}"
        )

    def http() -> None:
        for u in urls:
            client.get(u)

    def lookup() -> None:
        for key in keys:
            store.get(key)

    def dict_lookup() -> None:
        for key in keys:
            table[key]  # noqa: B018 - the lookup is the work

    data_text = (
        f"{len(urls):,} lookups of one user's top {K} (SQLite store of SAR on "
        f"{sizes.service_users:,} toy users)"
    )
    bound_what = f"{len(keys):,} Python dict lookups of the same lists"
    return [
        HotPath(
            "service lookup (HTTP)",
            data_text + ", GET through the FastAPI app (TestClient)",
            timed(http),
            bound_what,
            timed(dict_lookup),
        ),
        HotPath(
            "service lookup (store)",
            data_text + ", store.get",
            timed(lookup),
            bound_what,
            timed(dict_lookup),
        ),
    ]


# ---------------------------------------------------------------- table
def measure(paths: list[HotPath], repeat: int) -> list[dict]:
    """Time recutils and the bound of each path, back to back so both see the same load."""
    rows = []
    for path in paths:
        ours = path.ours(repeat)
        bound = path.bound(repeat)
        rows.append(
            {
                "hot path": path.name,
                "data": path.data,
                "recutils s": ours,
                "bound what": path.bound_what,
                "bound s": bound,
            }
        )
        print(f"  {path.name}: {ours:.4g} s (bound {bound:.4g} s)", flush=True)
    return rows


def _num(value: float | None, suffix: str = "") -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.3g}{suffix}"


COLUMNS = (
    "hot path",
    "data",
    "recutils s",
    "peer s",
    "peer/recutils",
    "lower bound (what it is)",
    "lower bound s",
    "recutils / bound",
)


def markdown_table(rows: list[dict]) -> str:
    """The table as Markdown (one line per hot path)."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * 3 + ["---"] + ["---:"] * 2) + "|",
    ]
    for r in rows:
        peer = r.get("peer s")
        cells = [
            r["hot path"],
            r["data"],
            _num(r["recutils s"]),
            _num(peer),
            _num(peer / r["recutils s"] if peer else None, "x"),
            r["bound what"],
            _num(r["bound s"]),
            _num(r["recutils s"] / r["bound s"], "x"),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


READING = """\
How to read it: every figure is the best of {repeat} run(s), in seconds, measured in this one
run. *peer/recutils* above 1 means recutils is that many times faster than Microsoft
Recommenders 1.2.1 on the same data (`-`: the peer has no such call, or was not run). The
*lower bound* is one primitive that the path has to do at least once on the same data (a sort,
a sparse product, a forward/backward pass, a dict lookup), timed on inputs already in memory;
*recutils / bound* is the headroom left: near 1 the path is at its floor and only less work
makes it faster, a large ratio shows where the next speed-up is (data handling, Python
overhead, extra passes). Bounds are floors of this design, measured on this machine, not
theoretical minima: a split's bound is the `np.argsort` its target is stated against, and a
path that does its work with a faster primitive (a value sort of packed int64 keys instead of
an argsort) can come in under it, a ratio below 1. Ratios travel between machines better than
seconds.
"""


def machine_line(machine: dict) -> str:
    libs = machine.get("libraries", {})
    versions = ", ".join(
        f"{lib} {libs[lib]}" for lib in ("numpy", "pandas", "scipy", "torch") if lib in libs
    )
    line = (
        f"Machine: {machine['cpu_model']}, {machine['logical_cores']} logical cores, "
        f"{machine['ram_gb']} GB RAM, {machine['os']}, Python {machine['python']} ({versions})"
    )
    if machine.get("load_average_1min_at_start") is not None:
        line += f"; load average {machine['load_average_1min_at_start']} at start"
    if machine.get("note"):
        line += f". {machine['note'].rstrip('.')}"
    return line + "."


def markdown(rows: list[dict], command: str, machine: dict, repeat: int, quick: bool) -> str:
    title = "# Hot paths against their limits" + (
        " (quick run: small data, not for comparison)" if quick else ""
    )
    return "\n".join(
        [
            title,
            "",
            "Each hot path of recutils timed against Microsoft Recommenders 1.2.1 (the peer, where it "
            "has the call) and against a measured lower bound for the same work on the same machine. "
            "Generated, do not edit by hand; regenerate on a quiet machine.",
            "",
            f"Command: `{command}`"
            + (
                " (`PEER_PYTHON`: an interpreter with `recommenders==1.2.1` installed)"
                if "PEER_PYTHON" in command
                else ""
            ),
            "",
            machine_line(machine),
            "",
            f"Date: {machine['utc']}",
            "",
            markdown_table(rows),
            READING.format(repeat=repeat),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--write", default=None, help="write the Markdown table to this file")
    p.add_argument("--quick", action="store_true", help="small data, one repetition (a test run)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--note", default=None, help="a note on the machine (e.g. that it was shared)")
    args = p.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    sizes = QUICK if args.quick else FULL
    repeat = 1 if args.quick else args.repeat
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = machine_info(args.note)
    start = time.perf_counter()
    rows: list[dict] = []
    peer_parts: list[PeerPart] = []
    peer_calls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for build in (metric_paths, split_paths, sar_paths):
            paths, part = build(sizes)
            rows += measure(paths, repeat)
            peer_parts.append(part)
            peer_calls.update({path.name: path.peer for path in paths if path.peer})
        rows += measure(ctr_paths(sizes, args.threads), repeat)
        rows += measure(service_paths(sizes, stack), repeat)
    if args.peer_python:
        print("  peer ...", flush=True)
        frames = {name: df for part in peer_parts for name, df in part.frames.items()}
        peer = run_peer(
            args.peer_python, frames, "".join(part.setup for part in peer_parts), peer_calls, repeat
        )
        for row in rows:
            row["peer s"] = peer.get(row["hot path"])
    print(f"({time.perf_counter() - start:.0f} s)")
    print(markdown_table(rows))
    if args.write:
        # the peer's interpreter is a path on this machine: the file names what it must hold
        shown = [
            "PEER_PYTHON" if i and argv[i - 1] == "--peer-python" else a for i, a in enumerate(argv)
        ]
        shown = [
            a.replace(args.peer_python, "PEER_PYTHON")
            if args.peer_python and a.startswith("--peer-python=")
            else a
            for a in shown
        ]
        command = " ".join(["python", "tools/benchmarks/limits.py", *map(shlex.quote, shown)])
        text = markdown(rows, command, machine, repeat, args.quick)
        Path(args.write).write_text(text, encoding="utf-8")
        print(f"written to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
