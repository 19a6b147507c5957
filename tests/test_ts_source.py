"""UCR/UEA `.ts` files: the parser (`ts_format`) against hand-written files, and the `ts` data source."""

import numpy as np
import pytest

from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source
from perceiver_tf.data.ts_format import TsFormatError, read_ts, write_ts
from perceiver_tf.data.ts_source import matching_test_file

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

UNIVARIATE = """# A comment line
% another comment
@problemName\tTiny
@timeStamps false
@missing true
@univariate true
@equalLength true
@seriesLength 4
@classLabel true up down
@data
1,2,3,4:up

4,3,?,1.5e0:down
0.5,0.5,0.5,0.5:up
"""

MULTIVARIATE_VARIABLE = """@problemName Mixed
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true walk run
@data
1,2,3:10,20,30:run
4,5:40,50:walk
6,7,8,9:60,70,80,90:walk
1,1:2,2:run
"""


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_univariate_values_labels_and_missing_values(tmp_path):
    data = read_ts(_write(tmp_path / "tiny.ts", UNIVARIATE))
    assert data.problem_name == "Tiny" and data.class_names == ["up", "down"]
    assert data.labels == ["up", "down", "up"] and data.lines == [11, 13, 14] and data.channels == 1
    np.testing.assert_array_equal(data.series[0], [[1], [2], [3], [4]])
    assert data.series[1].dtype == np.float32 and data.series[1].shape == (4, 1)
    np.testing.assert_array_equal(data.series[1][[0, 1, 3], 0], [4, 3, 1.5])
    assert np.isnan(data.series[1][2, 0])  # '?' reads as NaN...
    with pytest.raises(ValueError, match=r"tiny\.ts, line 13: missing values"):  # ...which the source refuses
        load_source(str(tmp_path / "tiny.ts"))


def test_multivariate_variable_length_series_are_time_by_channel(tmp_path):
    data = read_ts(_write(tmp_path / "mixed.ts", MULTIVARIATE_VARIABLE))
    assert data.lengths == [3, 2, 4, 2] and data.channels == 2
    np.testing.assert_array_equal(data.series[0], [[1, 10], [2, 20], [3, 30]])
    np.testing.assert_array_equal(data.series[2][:, 1], [60, 70, 80, 90])
    assert data.class_names == ["walk", "run"] and data.labels == ["run", "walk", "walk", "run"]


def test_write_ts_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(n, 3)).astype(np.float32) for n in (5, 7, 5)]
    series[1][2, 1] = np.nan
    write_ts(tmp_path / "w.ts", series, ["b", "a", "b"], class_names=["b", "a"], problem_name="W")
    data = read_ts(tmp_path / "w.ts")
    assert data.class_names == ["b", "a"] and data.labels == ["b", "a", "b"] and data.problem_name == "W"
    for written, read in zip(series, data.series):
        np.testing.assert_array_equal(read, written)  # NaN == NaN here: assert_array_equal treats them as equal
    assert not list(tmp_path.glob("*.tmp*"))  # written to a temporary name, then renamed


@pytest.mark.parametrize("header, data_line, line, message", [
    ("@targetLabel true", "1,2:0.5", 2, "regression targets"),
    ("@frobnicate 3", "1,2:a", 2, "unknown header tag '@frobnicate'"),
    ("@equalLength maybe", "1,2:a", 2, "@equalLength must be true or false. Received: 'maybe'"),
    ("@timeStamps true", "(1,2):a", 2, "@timeStamps true"),
    ("@seriesLength -3", "1,2:a", 2, "@seriesLength must be a positive integer"),
    ("@univariate true", "1,2:3,4:a", 5, "2 dimension(s) where the header says 1"),
    ("@univariate true", "1,x,3:a", 5, "not a number"),
    ("@univariate true", "1,2,3:c", 5, "class label 'c' is not among those @classLabel declares (a b)"),
    ("@seriesLength 3\n@equalLength true", "1,2:a", 6, "length 2 where @seriesLength is 3"),
    ("@dimensions 2", "1,2:3:a", 5, "different lengths [1, 2]"),
])
def test_malformed_files_fail_in_one_line_naming_file_and_line(tmp_path, header, data_line, line, message):
    text = f"@problemName Bad\n{header}\n@classLabel true a b\n@data\n{data_line}\n"
    path = _write(tmp_path / "bad.ts", text)
    with pytest.raises(TsFormatError) as caught:
        read_ts(path)
    assert str(caught.value).startswith(f"{path}, line {line}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_file_without_data_or_labels_is_refused(tmp_path):
    with pytest.raises(TsFormatError, match=r"empty\.ts, line 1: no @data line"):
        read_ts(_write(tmp_path / "empty.ts", "@problemName X\n"))
    path = _write(tmp_path / "unlabelled.ts", "@univariate true\n@classLabel false\n@data\n1,2\n3,4\n")
    assert read_ts(path).labels is None
    with pytest.raises(ValueError, match=r"unlabelled\.ts, line 4: the file has no class labels"):
        load_source(path)


def test_source_pairs_train_with_its_test_file_and_pads_variable_lengths(tmp_path):
    train = _write(tmp_path / "Mixed_TRAIN.ts", MULTIVARIATE_VARIABLE)
    test = _write(tmp_path / "Mixed_TEST.ts", MULTIVARIATE_VARIABLE.replace("1,1:2,2:run", "1:2:walk"))
    assert matching_test_file(train) == test and matching_test_file(test) is None
    source = load_source(train)
    assert source.explicit_val and (source.num_train, source.num_val) == (4, 4)
    assert source.modality == "sensors" and source.class_names == ["walk", "run"]
    assert source.processor.input_shape == (4, 2)  # the longest series of both files, 2 channels
    examples = [(x.numpy(), int(y)) for x, y in source.train]
    assert [x.shape for x, _ in examples] == [(3, 2), (2, 2), (4, 2), (2, 2)] and [y for _, y in examples] == [1, 0, 0, 1]
    x, y = next(iter(batched(source.val, source.processor, False, 2, PipelineOptions(batch_size=4))))
    if isinstance(x, dict):  # a processor that masks padded steps: True on each series' own steps
        np.testing.assert_array_equal(x["input_mask"], np.arange(4) < np.array([[3], [2], [4], [1]]))
        x = x["inputs"]
    assert x.shape == (4, 4, 2)
    np.testing.assert_array_equal(x[0], [[1, 10], [2, 20], [3, 30], [0, 0]])  # zero-padded at the end
    np.testing.assert_array_equal(x[3], [[1, 2], [0, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(y, [1, 0, 0, 0])


def test_source_without_test_file_holds_out_a_seeded_stratified_split(tmp_path):
    rng = np.random.default_rng(1)
    series = [rng.normal(size=(6, 1)) for _ in range(20)]
    write_ts(tmp_path / "alone.ts", series, ["a"] * 10 + ["b"] * 10)
    source = load_source(str(tmp_path / "alone.ts"), DataOptions(validation_fraction=0.2, seed=4))
    assert not source.explicit_val and (source.num_train, source.num_val) == (16, 4)
    val = sorted(int(y) for _, y in source.val)
    assert val == [0, 0, 1, 1]
    again = load_source(str(tmp_path / "alone.ts"), DataOptions(validation_fraction=0.2, seed=4))
    for (x1, _), (x2, _) in zip(source.val, again.val):
        np.testing.assert_array_equal(x1, x2)


def test_test_file_with_other_labels_or_channels_is_refused(tmp_path):
    train = _write(tmp_path / "P_TRAIN.ts", MULTIVARIATE_VARIABLE)
    _write(tmp_path / "P_TEST.ts", MULTIVARIATE_VARIABLE.replace("walk run", "walk run jump").replace("1,1:2,2:run",
                                                                                                     "1:2:jump"))
    with pytest.raises(ValueError, match=r"P_TEST\.ts has class labels \['jump'\]"):
        load_source(train)
    with pytest.raises(ValueError, match="holds sensor recordings, not image"):
        load_source(train, DataOptions(modality="image"))
    write_ts(tmp_path / "single.ts", [np.zeros((3, 1)), np.ones((3, 1))], ["a", "b"])
    with pytest.raises(ValueError, match=r"single\.ts: no series to validate on"):
        load_source(str(tmp_path / "single.ts"))
