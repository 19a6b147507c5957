"""`perceiver-tf attention` on an unreadable file (the PNG of every modality: tests/modality_matrix.py)."""

import perceiver_tf as pt
from perceiver_tf.cli import main
from perceiver_tf.data import load_source
from perceiver_tf.data.synthetic import write_image_folder


def test_attention_rejects_an_unreadable_file(tmp_path, capsys):
    write_image_folder(str(tmp_path / "data"), 2)
    source = load_source(str(tmp_path / "data"))
    model = pt.build_classifier("tiny", source.processor.input_shape, 3, metadata=source.metadata, num_latents=8,
                                latent_dim=16, num_blocks=2, num_self_attends_per_block=1, num_bands=2)
    model.save(tmp_path / "model.keras")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["attention", "--model", str(tmp_path / "model.keras"), str(bad), "--out", str(tmp_path / "x.png")]) == 1
    assert "cannot read image file" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
