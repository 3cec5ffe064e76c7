"""``recutils serve``: the HTTP recommendation service (:mod:`recutils.serving.app`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from recutils.cli._args import positive_int

NAME = "serve"
HELP = "serve recommendations over HTTP from an artifact and/or a store"
DESCRIPTION = (
    "Start the recommendation service (FastAPI + uvicorn; the `serving` extra). "
    "Give --artifact (a folder written by recutils.serving.save_artifact, scored "
    "on the fly) and/or --store (sqlite:///recs.db or redis://host:port/0)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``recutils serve``."""
    parser.add_argument("--artifact", type=Path, default=None, help="artifact folder")
    parser.add_argument("--store", default=None, help="store URL of precomputed recommendations")
    parser.add_argument(
        "--index",
        type=Path,
        default=None,
        help="saved item index of a two-tower --artifact (default: the "
        "artifact's index/ folder, else an exact index built at start)",
    )
    parser.add_argument(
        "--ranker-artifact",
        type=Path,
        default=None,
        help="ranking artifact (DeepFM, ...) of POST /v1/two-stage; needs a two-tower --artifact",
    )
    parser.add_argument(
        "--max-candidates",
        type=positive_int,
        default=1000,
        help="most candidates per two-stage request (default 1000)",
    )
    parser.add_argument(
        "--num-threads",
        type=positive_int,
        default=None,
        help="threads of torch and of faiss's OpenMP in the process (1 is "
        "fastest for one-user requests; default: theirs)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--trust",
        action="store_true",
        help="allow artifacts with pickled files (trusted sources only)",
    )
    parser.add_argument("--max-k", type=positive_int, default=100, help="largest k (default 100)")
    parser.add_argument(
        "--max-batch",
        type=positive_int,
        default=1000,
        help="most users or pairs per POST (default 1000)",
    )
    parser.add_argument(
        "--artifact-root",
        type=Path,
        default=None,
        help="enable POST /v1/admin/artifact for artifacts under this folder "
        "(needs an admin token as well)",
    )
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        default=None,
        help="file whose first line is the admin token (header X-Admin-Token); "
        "default: $RECUTILS_ADMIN_TOKEN. Without a token the admin "
        "routes are off",
    )
    parser.add_argument(
        "--admin-token",
        default=None,
        help="the admin token itself (visible in `ps`: prefer "
        "--admin-token-file or $RECUTILS_ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--artifact-key-file",
        type=Path,
        default=None,
        help="file holding the artifact signing key: only artifacts signed "
        "with it are served or swapped in; default: "
        "$RECUTILS_ARTIFACT_KEY, then the file named by "
        "$RECUTILS_ARTIFACT_KEY_FILE. Without a key, artifacts are "
        "checked by checksum only",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``recutils serve`` until interrupted; return the exit status."""
    from recutils.exceptions import RecUtilsError

    if args.artifact is None and args.store is None:
        print("error: give --artifact PATH and/or --store URL", file=sys.stderr)
        return 2
    try:
        from recutils.models.persistence import resolve_artifact_key
        from recutils.serving.app import create_app
        from recutils.serving.service import RecommendationService, resolve_admin_token
        from recutils.utils.deps import require

        uvicorn = require("uvicorn", "serving")
        token = resolve_admin_token(args.admin_token, args.admin_token_file)
        key = resolve_artifact_key(key_file=args.artifact_key_file)
        service = RecommendationService(
            artifact=args.artifact,
            store=args.store,
            trust=args.trust,
            max_k=args.max_k,
            max_batch=args.max_batch,
            artifact_root=args.artifact_root,
            admin_token=token,
            artifact_key=key,
            index=args.index,
            ranker_artifact=args.ranker_artifact,
            max_candidates=args.max_candidates,
            num_threads=args.num_threads,
        )
        app = create_app(service)
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.artifact_root is not None and token is None:
        print(
            "note: admin routes are off: --artifact-root needs an admin token "
            "($RECUTILS_ADMIN_TOKEN or --admin-token-file).",
            file=sys.stderr,
        )
    if key is None and args.artifact is not None:
        print(
            "note: no artifact signing key: artifacts are checked by checksum only "
            "($RECUTILS_ARTIFACT_KEY or --artifact-key-file).",
            file=sys.stderr,
        )
    print(
        f"recutils serve: {app.state.service.mode} on http://{args.host}:{args.port} "
        "(docs at /docs)",
        file=out,
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0
