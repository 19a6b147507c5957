"""`perceiver-tf train` flags shared by the CLI tests: a tiny Perceiver that trains in seconds."""

TINY_TRAIN_FLAGS = ["--preset", "tiny", "--set", "num_latents=16", "--set", "latent_dim=32", "--set", "num_blocks=1",
                    "--set", "num_self_attends_per_block=1", "--set", "num_cross_attends=1", "--set", "num_bands=4",
                    "--batch-size", "8", "--optimizer", "adamw", "--learning-rate", "1e-2"]
