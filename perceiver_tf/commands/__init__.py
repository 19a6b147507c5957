"""Handlers of the `perceiver-tf` subcommands (argument parsing lives in `perceiver_tf.cli`)."""
