"""Tuning studies in SQLite: resume after a real kill, two worker processes on one study."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SPACE = {
    "reg_user": {"type": "float", "low": 0.1, "high": 50.0, "log": True},
    "reg_item": {"type": "float", "low": 0.1, "high": 50.0, "log": True},
    "n_iter": 5,
}

# A bias model that takes a while per fit, so a kill lands in the middle of a trial.
SLOW_MODEL = """
import time
from recutils.models.baselines import BiasBaseline

class SlowBias(BiasBaseline):
    name = "slow_bias"
    def _fit(self, data):
        time.sleep(0.4)
        super()._fit(data)
"""

RUN_STUDY = """
import sys
from recutils.datasets.synthetic import make_interactions
from recutils.models.registry import register_model
from recutils.splitting import python_stratified_split
from recutils.tuning import tune
register_model("slow_bias", "slow_model:SlowBias")
train, valid = python_stratified_split(
    make_interactions(n_users=100, n_items=60, n_interactions=2000, seed=5).ratings, ratio=0.75, seed=1)
space = {space!r}
tune("slow_bias", space, train, valid, metric="rmse", n_trials=int(sys.argv[2]), storage=sys.argv[1],
     study_name="resume", progress=False, heartbeat_interval=1, grace_period=2, seed=11)
"""


def _env(extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO)] + ([str(extra_path)] if extra_path else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    return env


def _trials(url: str, name: str) -> list:
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=True)


def _count_complete(path: Path) -> int:
    """Complete trials in an optuna SQLite file, read only (0 while it is being created)."""
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as con:
            return int(
                con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
            )
    except sqlite3.Error:  # the schema is not there yet, or the file is locked for a moment
        return 0


def _complete(trials: list) -> dict[int, float]:
    return {t.number: t.value for t in trials if t.state == optuna.trial.TrialState.COMPLETE}


def test_resume_after_kill(tmp_path):
    (tmp_path / "slow_model.py").write_text(SLOW_MODEL)
    script = tmp_path / "run_study.py"
    script.write_text(RUN_STUDY.format(space=SPACE))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    n_trials = 20  # 0.4 s each: the kill lands well before the last one, even on a loaded machine
    proc = subprocess.Popen(
        [sys.executable, str(script), url, str(n_trials)],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.3)
            # a read-only count: opening an optuna storage here would write to the database
            # (schema checks) and compete for its lock with the worker under load
            if _count_complete(tmp_path / "study.db") >= 3:
                time.sleep(0.2)  # inside the next trial's fit
                break
            assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed = _trials(url, "resume")
    before = _complete(killed)
    assert 3 <= len(before) < n_trials
    # resume in another process
    resumed = subprocess.run(
        [sys.executable, str(script), url, str(n_trials)],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    after = _trials(url, "resume")
    done = _complete(after)
    assert len(done) == n_trials
    for number, value in before.items():  # no finished trial lost or changed
        assert done[number] == value
    states = {t.state for t in after}
    assert (
        optuna.trial.TrialState.RUNNING not in states
    )  # the killed trial was failed, not left hanging
    running_at_kill = [t.number for t in killed if t.state == optuna.trial.TrialState.RUNNING]
    for number in running_at_kill:
        assert after[number].state == optuna.trial.TrialState.FAIL


def test_two_workers_share_one_study(tmp_path):
    ratings = make_interactions(n_users=100, n_items=60, n_interactions=2000, seed=5).ratings
    train, valid = python_stratified_split(ratings, ratio=0.75, seed=1)
    train.to_csv(tmp_path / "train.csv", index=False)
    valid.to_csv(tmp_path / "valid.csv", index=False)
    import yaml

    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    (tmp_path / "slow_model.py").write_text(SLOW_MODEL)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    n_trials = 12
    # Trials of a model registered with --register that takes 0.4 s a fit: with the plain
    # bias model a trial took milliseconds, and a worker that finished importing a second
    # before the other could run all 12 (the test then failed by chance).
    register = ["--register", "slow_bias=slow_model:SlowBias"]
    # create the study once (as a user would), then start two workers at the same time
    create = [
        sys.executable,
        "-m",
        "recutils.tuning.worker",
        "--storage",
        url,
        "--study",
        "shared",
        "--train",
        str(tmp_path / "train.csv"),
        "--valid",
        str(tmp_path / "valid.csv"),
        "--model",
        "slow_bias",
        "--space",
        str(tmp_path / "space.yaml"),
        "--metric",
        "rmse",
        "--sampler",
        "random",
        "--n-trials",
        "0",
        "--heartbeat-interval",
        "1",
        *register,
    ]
    made = subprocess.run(
        create, env=_env(tmp_path), cwd=tmp_path, capture_output=True, timeout=120
    )
    assert made.returncode == 0, made.stderr.decode()[-3000:]
    worker = [
        sys.executable,
        "-m",
        "recutils.tuning.worker",
        "--storage",
        url,
        "--study",
        "shared",
        "--train",
        str(tmp_path / "train.csv"),
        "--valid",
        str(tmp_path / "valid.csv"),
        "--n-trials",
        str(n_trials),
        "--heartbeat-interval",
        "1",
        "--log-level",
        "WARNING",
        *register,
    ]
    procs = [
        subprocess.Popen(
            worker + ["--worker-index", str(i)],
            env=_env(tmp_path),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in (1, 2)
    ]
    errors = [p.communicate(timeout=240)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    trials = _trials(url, "shared")
    real = [t for t in trials if not t.user_attrs.get("recutils_surplus")]
    complete = [t for t in real if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == n_trials  # none lost, none extra
    assert len({t.number for t in trials}) == len(trials)  # no number given twice
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in real)
    workers = {t.user_attrs["recutils_worker"] for t in complete}
    assert len(workers) == 2  # both processes ran trials
    # different sampler seeds per worker: no parameter point drawn twice
    points = [(t.params["reg_user"], t.params["reg_item"]) for t in complete]
    assert len(set(points)) == len(points)
    from recutils.tuning import load_result

    result = load_result(url, "shared")
    assert len(result.trials) == n_trials and result.model == "slow_bias"


def test_tune_with_worker_processes(tmp_path):
    ratings = make_interactions(n_users=100, n_items=60, n_interactions=2000, seed=5).ratings
    train, valid = python_stratified_split(ratings, ratio=0.75, seed=1)
    from recutils.tuning import tune

    url = f"sqlite:///{tmp_path / 'procs.db'}"
    result = tune(
        "bias",
        SPACE,
        train,
        valid,
        metric="rmse",
        n_trials=8,
        storage=url,
        study_name="p",
        workers=2,
        progress=False,
        heartbeat_interval=1,
    )
    frame = result.trials
    assert (frame["state"] == "COMPLETE").sum() == 8 and frame["number"].is_unique
