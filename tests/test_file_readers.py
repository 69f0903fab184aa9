"""dlcore.data's file readers and the ONNX exporter: inputs that used to read wrong values silently, or end in a traceback."""
import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from dlcore.data import Data, DataFileError, from_csv, from_folder, from_npz

ROOT = Path(__file__).resolve().parents[1]


# ---- tables ----------------------------------------------------------------------------------------------
def test_a_column_name_twice_in_the_header_is_an_error_not_the_first_column_read_twice(tmp_path):
    (tmp_path / "t.csv").write_text("x,x,label\n1,2,a\n3,4,b\n")
    with pytest.raises(DataFileError, match="t.csv: the header names 2 columns 'x'; give each column its own name"):
        from_csv(tmp_path / "t.csv", target="label")


def test_row_numbers_are_the_file_lines_when_the_table_has_blank_lines(tmp_path):
    (tmp_path / "t.csv").write_text("x,label\n\n1,a\nbad,b\n")
    with pytest.raises(DataFileError, match="t.csv: row 4, column 'x': 'bad' is not a number"):
        from_csv(tmp_path / "t.csv", target="label")


def test_a_quoted_field_keeps_its_line_break(tmp_path):
    (tmp_path / "t.csv").write_text('x,label\n1,"big\ncat"\n2,dog\n3,"big\ncat"\n')
    data = from_csv(tmp_path / "t.csv", target="label")
    assert data.classes == ("big\ncat", "dog") and data.y.tolist() == [0, 1, 0]
    assert data.x.ravel().tolist() == [1.0, 2.0, 3.0]


def test_a_text_regression_target_is_not_blamed_on_the_features(tmp_path):
    (tmp_path / "t.csv").write_text("rooms,price\n3,250\n4,cheap\n")
    with pytest.raises(DataFileError, match="row 3, column 'price': 'cheap' is not a number "
                                            r"\(regression targets must be numeric; for class labels set "
                                            "data.task = 'classify'"):
        from_csv(tmp_path / "t.csv", target="price", task="regress")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_missing_or_infinite_feature_is_an_error_not_a_nan_input(tmp_path, value):
    (tmp_path / "t.csv").write_text(f"x,label\n1,a\n{value},b\n")
    with pytest.raises(DataFileError, match=f"row 3, column 'x': '{value}' is not a finite number"):
        from_csv(tmp_path / "t.csv", target="label")


def test_equal_numeric_labels_get_the_same_class_indices_in_every_process(tmp_path):
    (tmp_path / "t.csv").write_text("x,label\n1,1\n2,1.0\n3,01\n4,2\n5,10\n")
    code = (f"from dlcore.data import from_csv; d = from_csv({str(tmp_path / 't.csv')!r}, 'label'); "
            f"print(d.classes, d.y.tolist())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert outputs == {"('01', '1', '1.0', '2', '10') [1, 2, 0, 3, 4]\n"}


def test_mixed_number_and_word_labels_sort_as_text_as_documented(tmp_path):
    (tmp_path / "t.csv").write_text("x,label\n1,10\n2,2\n3,b\n")
    assert from_csv(tmp_path / "t.csv", target="label").classes == ("10", "2", "b")


def test_one_feature_name_given_as_a_string(tmp_path):
    (tmp_path / "t.csv").write_text("petal,sepal,label\n1,5,a\n2,6,b\n")
    data = from_csv(tmp_path / "t.csv", target="label", features="sepal")
    assert data.features == ("sepal",) and data.x.ravel().tolist() == [5.0, 6.0]


# ---- arrays ----------------------------------------------------------------------------------------------
def test_a_npy_file_named_npz_is_a_one_line_error(tmp_path):
    numpy.save(tmp_path / "a.npy", numpy.ones((3, 2)))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(DataFileError, match=r"a.npz: holds one array \(a .npy file\), not arrays x and y"):
        from_npz(tmp_path / "a.npz")


def test_npz_scalars_are_a_one_line_error(tmp_path):
    numpy.savez(tmp_path / "s.npz", x=numpy.float64(1), y=numpy.int64(0))
    with pytest.raises(DataFileError, match=r"s.npz: x and y must have one row per sample, got shapes \(\) and \(\)"):
        from_npz(tmp_path / "s.npz")


def test_data_copies_and_pickles_with_its_names():
    d = Data(numpy.zeros((2, 2), "float32"), numpy.array([0, 1]), ["cat", "dog"], ["a", "b"])
    for twin in (copy.copy(d), copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert isinstance(twin, Data) and twin.classes == ("cat", "dog") and twin.features == ("a", "b")
        assert twin.x.tolist() == d.x.tolist() and twin.y.tolist() == [0, 1]


# ---- images ----------------------------------------------------------------------------------------------
def test_16_bit_and_float_grayscale_images_keep_their_values(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for label, array in (("deep", numpy.full((4, 5), 1000, numpy.uint16)),
                         ("deeper", numpy.full((4, 5), 60000, numpy.uint16)),
                         ("float", numpy.full((4, 5), 0.25, numpy.float32))):
        (tmp_path / label).mkdir()
        Image.fromarray(array).save(tmp_path / label / ("1.tif" if label == "float" else "1.png"))
    x, y = data = from_folder(tmp_path)
    assert data.classes == ("deep", "deeper", "float") and x.shape == (3, 1, 4, 5)
    numpy.testing.assert_allclose(x.reshape(3, -1).max(axis=1), [1000 / 65535, 60000 / 65535, 0.25], rtol=1e-6)
    numpy.testing.assert_allclose(from_folder(tmp_path, size=(2, 3)).x.reshape(3, -1).mean(axis=1),
                                  [1000 / 65535, 60000 / 65535, 0.25], rtol=1e-5)


def test_a_16_bit_gray_image_among_colour_ones_gives_three_equal_channels(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "gray").mkdir(), (tmp_path / "red").mkdir()
    Image.fromarray(numpy.full((4, 5), 30000, numpy.uint16)).save(tmp_path / "gray" / "1.png")
    Image.new("RGB", (5, 4), (255, 0, 0)).save(tmp_path / "red" / "1.png")
    x, _ = from_folder(tmp_path)
    assert x.shape == (2, 3, 4, 5)
    numpy.testing.assert_allclose(x[0, :, 0, 0], [30000 / 65535] * 3, rtol=1e-6)
    numpy.testing.assert_allclose(x[1, :, 0, 0], [1.0, 0.0, 0.0])


# ---- ONNX ------------------------------------------------------------------------------------------------
def test_onnx_export_refuses_a_second_output_that_left_the_graph(tmp_path):
    """export's docstring: an output that does not depend on the input is an ExportError. With two heads, one
    computed from Tensor(x.data), the file returned that head's example result (batch 2) for every input."""
    pytest.importorskip("onnx")
    import dlcore.onnx
    from dlcore import Tensor, nn

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, x):
            return self.a(x), self.b(Tensor(x.data))

    with pytest.raises(dlcore.onnx.ExportError, match="output 'output_1' does not depend on the input"):
        dlcore.onnx.export(TwoHeads(), tmp_path / "m.onnx", example=numpy.ones((2, 3), numpy.float32))
    assert not (tmp_path / "m.onnx").exists()


def test_as_images_of_rows_that_are_not_feature_vectors_is_the_value_error_not_an_index_error():
    from dlcore.data import prepare

    with pytest.raises(ValueError, match=r"data 'd' has samples of shape \(\), not a square image"):
        prepare.as_images(numpy.zeros(5), "d")
    with pytest.raises(ValueError, match=r"data 'd' has 5 features per sample, not a square image"):
        prepare.as_images(numpy.zeros((2, 5)), "d")
