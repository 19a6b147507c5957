"""The `.ts` text format of the UCR/UEA time-series classification archive (as sktime and aeon write it).

A file is comment lines (`#` or `%`), a header of `@` tags, then `@data` and one series per line::

    @problemName BasicMotions
    @timeStamps false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.08,...:-0.9,1.1,...:...:Standing

Dimensions (channels) are separated by `:`, the values of a dimension by `,`, and with
`@classLabel true` the last `:` field is the class label (one of those the tag lists). `?` is a
missing value: `read_ts` reads it as NaN (the archive's own convention; what a reader does with
it is the reader's choice: `ts_source` refuses series with missing values). Tags read:
`@problemName`, `@timeStamps` (only `false`: time-stamped values are refused), `@missing`,
`@univariate`, `@dimensions`, `@equalLength`, `@seriesLength`, `@classLabel`; any other tag
(e.g. `@targetLabel`, a regression target) is an error.

A malformed file is a `TsFormatError` (a `ValueError`) of one line naming the file and the line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

#: The header tags `read_ts` reads, each with whether its value is a boolean (tags match in any case).
HEADER_TAGS = {"@problemName": False, "@timeStamps": True, "@missing": True, "@univariate": True,
               "@dimensions": False, "@equalLength": True, "@seriesLength": False, "@classLabel": True}
_BOOLEAN = {tag.lower(): boolean for tag, boolean in HEADER_TAGS.items()}


class TsFormatError(ValueError):
    """A malformed `.ts` file: `"<path>, line <n>: <what is wrong>"`."""

    def __init__(self, path: str | os.PathLike, line: int, problem: str):
        super().__init__(f"{os.fspath(path)}, line {line}: {problem}")


@dataclass
class TsData:
    """A `.ts` file's contents.

    Attributes:
        series: one float32 `(T_i, C)` array per line of data (NaN where the file has `?`).
        labels: each series' class label as written (`None` when the file has no labels).
        class_names: the labels `@classLabel` declares, in its order (empty without labels).
        lines: the line number (1-based) of each series in the file.
        problem_name: `@problemName`, or `None`.
    """

    series: list[np.ndarray]
    labels: list[str] | None
    class_names: list[str]
    lines: list[int]
    problem_name: str | None = None

    @property
    def channels(self) -> int:
        """C, the number of dimensions of every series."""
        return self.series[0].shape[1]

    @property
    def lengths(self) -> list[int]:
        """`T_i` of each series."""
        return [len(s) for s in self.series]


def read_ts(path: str | os.PathLike) -> TsData:
    """Read a `.ts` file (module docstring) into `TsData`.

    Raises:
        TsFormatError: a malformed header (an unknown tag, a boolean that is not true/false,
            time stamps, no `@data`), or a malformed series (a value that is not a number, a
            dimension count or length other than the header's, an undeclared label).
    """
    header: dict[str, tuple[str, int]] = {}  # tag -> (value, line)
    series, labels, lines = [], [], []
    in_data, number = False, 0
    with open(path, encoding="utf-8-sig") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line or line[0] in "#%":
                continue
            if in_data:
                values, label = _parse_series(path, number, line, header)
                if series and values.shape[1] != series[0].shape[1]:
                    raise TsFormatError(path, number, f"{values.shape[1]} dimension(s) where the first series "
                                                      f"(line {lines[0]}) has {series[0].shape[1]}")
                series.append(values)
                labels.append(label)
                lines.append(number)
            elif line.lower() == "@data":
                in_data = True
                _check_header(path, header)
            else:
                tag, *value = line.split(None, 1)
                _read_tag(path, number, tag, value[0].strip() if value else "", header)
    if not in_data:
        raise TsFormatError(path, number, "no @data line: not a .ts file")
    if not series:
        raise TsFormatError(path, number, "no series after @data")
    has_labels = _is_true(header, "@classlabel")
    class_names = header["@classlabel"][0].split()[1:] if has_labels else []
    return TsData(series, labels if has_labels else None, class_names, lines,
                  header.get("@problemname", (None,))[0])


def write_ts(path: str | os.PathLike, series: list[np.ndarray], labels: list[str] | None = None,
             class_names: list[str] | None = None, problem_name: str = "data") -> None:
    """Write `series` (`(T_i, C)` arrays, one C for all; NaN written as `?`) and their labels as a `.ts`
    file that `read_ts` reads back (to a temporary name, then renamed).

    Args:
        labels: each series' class label (no spaces or `:`); `None`: an unlabelled file.
        class_names: the declared labels, in order (default: the sorted distinct `labels`).
    """
    series = [np.asarray(s, dtype=np.float64).reshape(len(s), -1) for s in series]
    lengths = {len(s) for s in series}
    lines = [f"@problemName {problem_name}", "@timeStamps false",
             f"@missing {str(any(np.isnan(s).any() for s in series)).lower()}",
             f"@univariate {str(series[0].shape[1] == 1).lower()}", f"@dimensions {series[0].shape[1]}",
             f"@equalLength {str(len(lengths) == 1).lower()}"]
    if len(lengths) == 1:
        lines.append(f"@seriesLength {lengths.pop()}")
    if labels is None:
        lines.append("@classLabel false")
    else:
        lines.append("@classLabel true " + " ".join(class_names or sorted({str(label) for label in labels})))
    lines.append("@data")
    for i, values in enumerate(series):
        fields = [",".join("?" if np.isnan(v) else repr(float(v)) for v in channel) for channel in values.T]
        lines.append(":".join(fields + ([str(labels[i])] if labels is not None else [])))
    temporary = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(temporary, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(temporary, path)


def _read_tag(path, number: int, tag: str, value: str, header: dict) -> None:
    """Store one header line's `tag value` in `header` (by the lower-cased tag), checking the tag and a
    boolean's value."""
    if tag.lower() == "@targetlabel":
        raise TsFormatError(path, number, "regression targets (@targetLabel) are not supported: a classifier "
                                          "reads class labels (@classLabel true ...)")
    if tag.lower() not in _BOOLEAN:
        raise TsFormatError(path, number, f"unknown header tag {tag!r} (a .ts header has {', '.join(HEADER_TAGS)}, "
                                          "then @data)")
    spelled, tag = tag, tag.lower()
    if _BOOLEAN[tag] and value.split(" ")[0].lower() not in ("true", "false"):
        raise TsFormatError(path, number, f"{spelled} must be true or false. Received: {value!r}")
    if tag == "@timestamps" and value.lower() == "true":
        raise TsFormatError(path, number, "time-stamped values (@timeStamps true) are not supported; "
                                          "write the values without time stamps")
    if tag in ("@dimensions", "@serieslength") and not (value.isdigit() and int(value) > 0):
        raise TsFormatError(path, number, f"{spelled} must be a positive integer. Received: {value!r}")
    header[tag] = (value, number)


def _is_true(header: dict, tag: str) -> bool:
    return tag in header and header[tag][0].split(" ")[0].lower() == "true"


def _check_header(path, header: dict) -> None:
    """The header as a whole, at its `@data` line: labels declared when `@classLabel true`, one
    dimension when `@univariate true`."""
    if _is_true(header, "@classlabel") and len(header["@classlabel"][0].split()) < 2:
        raise TsFormatError(path, header["@classlabel"][1], "@classLabel true must list the class labels")
    dimensions = header.get("@dimensions", ("", 0))[0]
    if _is_true(header, "@univariate") and dimensions not in ("", "1"):
        raise TsFormatError(path, header["@dimensions"][1], f"@univariate true with @dimensions {dimensions}")


def _parse_series(path, number: int, line: str, header: dict) -> tuple[np.ndarray, str | None]:
    """One data line -> (`(T, C)` float32 values, its label or `None`)."""
    fields = line.split(":")
    label = None
    if _is_true(header, "@classlabel"):
        label = fields.pop().strip()
        declared = header["@classlabel"][0].split()[1:]
        if label not in declared:
            raise TsFormatError(path, number, f"class label {label!r} is not among those @classLabel declares "
                                              f"({' '.join(declared)})")
    expected = 1 if _is_true(header, "@univariate") else int(header.get("@dimensions", ("0", 0))[0] or 0)
    if expected and len(fields) != expected:
        raise TsFormatError(path, number, f"{len(fields)} dimension(s) where the header says {expected}")
    try:
        channels = [np.array(f.replace("?", "nan").split(","), dtype=np.float32) for f in fields]
    except ValueError as error:
        raise TsFormatError(path, number, f"a value that is not a number ({error})") from None
    lengths = {len(c) for c in channels}
    if len(lengths) > 1:
        raise TsFormatError(path, number, f"dimensions of different lengths {sorted(lengths)}; a series needs "
                                          "the same length in every dimension")
    length = header.get("@serieslength", ("", 0))[0]
    if _is_true(header, "@equallength") and length and int(length) != len(channels[0]):
        raise TsFormatError(path, number, f"a series of length {len(channels[0])} where @seriesLength is {length}")
    return np.stack(channels, axis=1), label
