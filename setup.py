"""Packaging for recutils.

The core install is light (numpy, pandas, scipy, scikit-learn, pyyaml, tqdm).
Each optional back-end is an extra, declared together with the code that uses
it; ``all`` is the union of every extra but ``dev``.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = next(
    line.split("=", 1)[1].strip().strip('"')
    for line in (HERE / "recutils" / "__init__.py").read_text().splitlines()
    if line.startswith("__version__")
)

INSTALL_REQUIRES = [
    "numpy>=1.24",
    "pandas>=2.0",
    "scipy>=1.10",
    "scikit-learn>=1.3",
    "pyyaml>=6.0",
    "tqdm>=4.60",
]

EXTRAS = {
    "spark": ["pyspark>=3.5", "pyarrow>=14"],
    # Install a torch build for your platform first (CPU-only: torch==2.13.0 from the
    # CPU index); an unpinned torch may pull a multi-GB CUDA build.
    "torch": ["torch>=2.1"],
    # exporting deep rank models to ONNX (onnx) and scoring the artifact (onnxruntime only)
    "onnx": ["onnx>=1.15", "onnxruntime>=1.17"],
    # cornac's BiVAE also needs the torch extra.
    "cornac": ["cornac>=2.3.5"],
    "surprise": ["scikit-surprise>=1.1.3"],
    # The upstream lightfm 1.17 sdist no longer builds with current pip; rectools-lightfm
    # is a maintained fork that installs the same `lightfm` module (see SETUP.md).
    "lightfm": ["rectools-lightfm>=1.17.3"],
    "lightgbm": ["lightgbm>=4.0"],
    "implicit": ["implicit>=0.7"],
    # RLRMC and GeoIMC (Riemannian conjugate gradients; numpy backend, no autodiff library)
    "pymanopt": ["pymanopt>=2.2.1"],
    # in-process Vowpal Wabbit (vowpalwabbit.Workspace); wheels for CPython 3.10-3.12
    "vowpalwabbit": ["vowpalwabbit>=9.9,<10"],
    # TensorFlow Recommenders wrappers and export_tensorflow; TFRS needs Keras 2 (tf-keras):
    # recutils sets TF_USE_LEGACY_KERAS=1 before TensorFlow resolves tf.keras (see SETUP.md).
    # tf-keras requires the full `tensorflow` wheel, so the extra pins that one (not tensorflow-cpu).
    "tensorflow": ["tensorflow==2.21.0", "tf-keras==2.21.0", "tensorflow-recommenders==0.7.7"],
    "tuning": ["optuna>=4.0", "sqlalchemy>=2.0"],
    # approximate nearest-neighbour indexes (recutils.retrieval.FaissIndex)
    "retrieval": ["faiss-cpu>=1.8"],
    "serving": [
        "fastapi>=0.110",
        "uvicorn[standard]>=0.29",
        "httpx>=0.27",
        "redis>=5.0",
        "pyarrow>=14",
    ],
    "loadtest": ["locust>=2.20"],
    "notebooks": [
        "papermill>=2.5",
        "ipykernel>=6.0",
        "nbformat>=5.7",
        "jupyter>=1.0",
        "matplotlib>=3.7",
    ],
    # the documentation site (bash tools/docs.sh): MkDocs Material, API reference, notebooks
    "docs": [
        "mkdocs>=1.6",
        "mkdocs-material>=9.5",
        "mkdocstrings[python]>=1.0",
        "mkdocstrings-python>=2.0",
        "mkdocs-jupyter>=0.25",
    ],
    "dev": [
        # pytest 9.2 keeps a node's id in a new attribute that pytest-xdist 3.8 does not set,
        # so `--dist loadgroup` (tools/test.sh) would ignore every xdist_group mark.
        "pytest>=7.4,<9.2",
        "pytest-timeout>=2.1",
        "hypothesis>=6.80",
        "pytest-xdist>=3.5",
        "ruff==0.17.6",
        "pre-commit>=3.5",
    ],
}
EXTRAS["all"] = sorted({req for name, reqs in EXTRAS.items() if name != "dev" for req in reqs})

setup(
    name="recutils",
    version=VERSION,
    description="Build, evaluate, tune and ship recommender systems.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["recutils", "recutils.*"]),
    # shipped model configs live beside their models (recutils.nn.config_io.SHIPPED_CONFIG_DIRS)
    package_data={
        "recutils.models.ctr": ["configs/*.yaml"],
        "recutils.models.deep": ["configs/*.yaml", "configs/*.config"],
        "recutils.models.multitask": ["configs/*.yaml"],
        "recutils.models.retrieval": ["configs/*.yaml"],
        "recutils.benchmark": ["specs/*.yaml", "references/*.yaml"],
    },
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["recutils=recutils.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
