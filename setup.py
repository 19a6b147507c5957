from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="perceiver_tf",
    version="0.2.0",
    description="The Perceiver (Jaegle et al., 2021) and Perceiver IO for Keras 3 / TensorFlow.",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["perceiver_tf", "perceiver_tf.*"]),
    python_requires=">=3.10,<3.14",
    # Nothing here pins or installs TensorFlow, and every range includes today's releases, so adding
    # perceiver_tf to an environment that has TensorFlow, Keras and NumPy changes none of them
    # (tests/test_install.py checks it with pip's own resolver).
    install_requires=[
        "keras>=3.5,<4",
        "numpy>=1.26,<3",
        "scikit-learn>=1.3,<2",
        # FLAC/MP3/OGG/Opus decoding (its wheels bundle libsndfile); WAV needs nothing.
        "soundfile>=0.12,<1",
    ],
    extras_require={
        # TensorFlow for an environment that has none, from exactly one of these (two TF distributions
        # overwrite each other). 2.16-2.21 are tested (requirements.txt: 2.21; requirements-tf216.txt: 2.16).
        "cpu": ["tensorflow-cpu>=2.16.1,<2.22; platform_machine=='x86_64'",
                "tensorflow>=2.16.1,<2.22; platform_machine!='x86_64'"],
        "gpu": ["tensorflow[and-cuda]>=2.16.1,<2.22"],
        # KERAS_BACKEND=jax (models, layers, training; tf.data and export still need TensorFlow).
        "jax": ["jax[cpu]>=0.4.34,<0.11"],
        "data": ["tensorflow-datasets>=4.9,<5"],
        # TensorBoard logs of `train` (TensorFlow 2.17+ no longer installs it; training runs without).
        "tensorboard": ["tensorboard>=2.16,<3"],
        # Run .tflite files with LiteRT, the interpreter TFLite models are deployed with.
        "litert": ["ai-edge-litert>=1.2,<3"],
        # tensorflow-io's audio readers: their native ops load only on TensorFlow 2.16 (soundfile
        # decodes the same formats everywhere; see perceiver_tf/data/audio_decoders.py).
        "tfio": ["tensorflow-io==0.37.1; python_version<'3.13'"],
        "plots": ["matplotlib>=3.7,<4"],
        # notebooks/: Jupyter to open and run them (plots included).
        "notebooks": ["jupyterlab>=4,<5", "ipykernel>=6.29,<8", "matplotlib>=3.7,<4"],
        # The documentation site (mkdocs.yml): `mkdocs serve`, `mkdocs build --strict`.
        "docs": ["mkdocs>=1.6,<2", "mkdocstrings[python]>=0.26,<2", "mkdocs-material>=9.5,<10"],
        "dev": ["pytest>=8,<10", "pytest-timeout>=2.3,<3", "pytest-xdist>=3.5,<4", "nbclient>=0.10,<0.11", "nbformat>=5.10,<6", "ipykernel>=6.29,<8"],
        # perceiver_tf.convert: read transformers checkpoints (safetensors) and fetch hub ids.
        "convert": ["safetensors>=0.4,<1", "huggingface_hub>=0.23,<3"],
        # benchmarks/: the HF peer comparison, the scaling watchdog and plot (never runtime deps).
        # bench_peer's other PyTorch peers: `pip install --no-deps --ignore-requires-python -r requirements-bench.txt`.
        "benchmark": ["torch>=2.2", "transformers>=4.40", "psutil>=5.9", "matplotlib>=3.7,<4"],
    },
    entry_points={"console_scripts": ["perceiver-tf=perceiver_tf.cli:main"]},
)
