"""Shared by the CLI tests: `perceiver-tf train` flags of a tiny Perceiver that trains in seconds, and the
one-line error check."""

TINY_TRAIN_FLAGS = ["--preset", "tiny", "--set", "num_latents=16", "--set", "latent_dim=32", "--set", "num_blocks=1",
                    "--set", "num_self_attends_per_block=1", "--set", "num_cross_attends=1", "--set", "num_bands=4",
                    "--batch-size", "8", "--optimizer", "adamw", "--learning-rate", "1e-2"]


def one_error_line(capsys) -> str:
    """The single `error:` line the command wrote to stderr (asserting it is one line, no traceback)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "error:" in err[0] and "Traceback" not in err[0]
    return err[0]
